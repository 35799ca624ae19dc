"""Head evidence associated in 3D, checked against free space, and tracked over time.

* :func:`heads_from_poses`: the face keypoints of fused 3D skeletons as head evidence.
* :func:`associate_heads`: one frame-set's observations grouped in 3D (gating in metres);
  a group's centre is the score-and-source weighted mean; its face direction comes from
  the keypoints (nose against the ears) when present, else from the lifted faces (towards
  the cameras that detected the face).
* :func:`is_ghost`: a head must agree with free space in every depth view that should see
  it: where a depth camera measures clearly *farther* than the head over most of the
  head's disc, the camera sees through where the head would be, and the head is a ghost.
* :func:`track_heads`: groups linked over time (Hungarian assignment gated in metres,
  growing with the elapsed seconds); a track ends after a gap longer than
  ``max_gap_s`` (nothing is interpolated across it). Without face evidence on a frame-set,
  the direction of the track's nearest frame-set with some is carried (within
  ``direction_carry_s``, its uncertainty growing with the time), else the direction of
  motion gives an uncertain face direction; an unknown or uncertain direction means the
  head is treated as facing every camera.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from orscene.geometry.camera import project_world
from orscene.types import Camera, FrameSet, HeadObservation, HeadSource, HeadTrack, PoseCandidate, PersonPose

__all__ = ["TrackHeadsConfig", "FusedHead", "heads_from_poses", "associate_heads", "is_ghost", "reject_ghosts", "track_heads"]


@dataclass(frozen=True)
class TrackHeadsConfig:
    """Association, ghost rejection and tracking of heads."""

    associate_m: float = 0.25
    """Observations of one frame-set closer than this (to a group's centre) are one head."""
    source_weight: tuple[float, float, float] = (1.0, 1.0, 0.5)
    """Weight of lifted faces, depth and keypoints in a head's centre (times their scores)."""
    triangulated_weight: float = 0.3
    """Factor on the weight of a face triangulated across views (its distance along the
    rays is less certain than a face's measured depth)."""
    outlier_m: float = 0.08
    """Within a head's group of three or more observations, one this far from the others' mean is left out of the centre."""
    head_radius_m: float = 0.11
    """Radius of the sphere that holds a head."""
    ghost_margin_m: float = 0.15
    """A depth this much beyond the head's far side (plus ``ghost_margin_rel`` of the
    distance) is free space behind where the head would be."""
    ghost_margin_rel: float = 0.03
    ghost_share: float = 0.6
    """Share of the head's disc (among its valid depths) that must see free space for a ghost."""
    ghost_min_valid: float = 0.3
    """A depth view votes only when this share of the head's disc carries depth."""
    ghost_samples: int = 11
    """Samples per side of the grid over the head's disc."""
    gate_m: float = 0.25
    """Largest distance between a track's predicted head and a new head ..."""
    max_speed_m_s: float = 2.0
    """... plus this speed times the seconds since the track's last head."""
    max_gap_s: float = 0.5
    """A track not seen for longer ends; a head found later starts a new track."""
    min_track_framesets: int = 1
    """Tracks with fewer frame-sets are dropped."""
    keypoint_min_confidence: float = 0.3
    """Face keypoints of a 3D skeleton below this confidence are ignored."""
    ear_to_center_m: tuple[float, float] = (0.0, 0.02)
    """Head centre relative to the ears' midpoint: (towards the face, up), metres."""
    motion_min_speed_m_s: float = 0.3
    """Faster than this, the direction of motion gives an (uncertain) face direction."""
    faces_every_camera_std_rad: float = 0.7
    """A face direction whose angular std reaches this is uncertain: the head faces every camera."""
    std_keypoints_rad: float = 0.3
    std_lifted_rad: float = 0.5
    std_motion_rad: float = 0.9
    direction_carry_s: float = 1.0
    """A frame-set without face-direction evidence takes the direction of the track's
    nearest frame-set with some (keypoints, lifted faces) at most this far in time ..."""
    direction_carry_rad_s: float = 0.3
    """... its uncertainty growing by this much per second (a head turns; past
    ``faces_every_camera_std_rad`` it faces every camera again)."""


@dataclass(frozen=True)
class FusedHead:
    """One head at one frame-set: the associated observations and their fused estimate."""

    center_world_m: np.ndarray
    """(3,) float64 world metres."""
    face_direction_world: np.ndarray | None
    """(3,) unit vector, or None when no evidence says where the face points."""
    face_direction_std_rad: float
    sources: HeadSource
    cameras: tuple[str, ...]
    observations: tuple[HeadObservation, ...] = field(repr=False, default=())


def heads_from_poses(poses: Sequence[PoseCandidate | PersonPose], cfg: TrackHeadsConfig) -> list[HeadObservation]:
    """Head evidence from 3D skeletons (COCO-17): the ears' midpoint (shifted by
    ``ear_to_center_m``), else the face keypoints' mean pushed back along the face; the face
    direction from the ears' midpoint to the nose, horizontal part kept."""
    out = []
    for p in poses:
        j = np.asarray(p.joints_world_m, np.float64)
        c = np.asarray(p.confidence, np.float64)
        ok = c[:5] >= cfg.keypoint_min_confidence
        if not ok.any() or not np.all(np.isfinite(j[:5][ok])):
            continue
        direction = None
        ears = [k for k in (3, 4) if ok[k]]
        if ears:
            ear_mid = j[ears].mean(axis=0)
            front = [k for k in (0, 1, 2) if ok[k]]
            if front:
                v = j[front].mean(axis=0) - ear_mid
                v[2] *= 0.3  # the nose sits below the ears; keep mostly the horizontal part
                if np.linalg.norm(v) > 0.02:
                    direction = v / np.linalg.norm(v)
            centre = ear_mid.copy()
            if direction is not None:
                centre += cfg.ear_to_center_m[0] * direction
            centre[2] += cfg.ear_to_center_m[1]
        else:
            centre = j[:3][ok[:3]].mean(axis=0)
            centre[2] += cfg.ear_to_center_m[1]
        score = float(np.mean(c[:5][ok]))
        out.append(HeadObservation(centre, HeadSource.KEYPOINTS, tuple(getattr(p, "cameras", ())), score, direction))
    return out


def _weight(o: HeadObservation, cfg: TrackHeadsConfig) -> float:
    k = {HeadSource.LIFTED_FACE: 0, HeadSource.DEPTH: 1, HeadSource.KEYPOINTS: 2}[o.source]
    w = cfg.source_weight[k] * max(o.score, 0.05)
    if o.source is HeadSource.LIFTED_FACE and len(o.cameras) >= 2:  # triangulated, not measured
        w *= cfg.triangulated_weight
    return w


def _mean_direction(dirs: list[np.ndarray], weights: list[float]) -> np.ndarray | None:
    if not dirs:
        return None
    v = np.sum([w * d for d, w in zip(dirs, weights)], axis=0)
    n = np.linalg.norm(v)
    return None if n < 1e-6 else v / n


def _robust_centre(group: list[HeadObservation], cfg: TrackHeadsConfig) -> np.ndarray:
    """Weighted mean of the observations' centres, dropping the farthest while it lies more
    than ``outlier_m`` from the mean of the others (one source can be off by a shoulder)."""
    pts = np.array([o.center_world_m for o in group])
    w = np.array([_weight(o, cfg) for o in group])
    keep = np.ones(len(group), bool)
    while keep.sum() > 2:
        c = (w[keep, None] * pts[keep]).sum(axis=0) / w[keep].sum()
        d = np.where(keep, np.linalg.norm(pts - c, axis=1), -1.0)
        k = int(d.argmax())
        others = keep.copy()
        others[k] = False
        c_o = (w[others, None] * pts[others]).sum(axis=0) / w[others].sum()
        if np.linalg.norm(pts[k] - c_o) <= cfg.outlier_m:
            break
        keep[k] = False
    return (w[keep, None] * pts[keep]).sum(axis=0) / w[keep].sum()


def _fuse(group: list[HeadObservation], cfg: TrackHeadsConfig) -> FusedHead:
    centre = _robust_centre(group, cfg)
    kp = [o for o in group if o.source is HeadSource.KEYPOINTS and o.face_direction_world is not None]
    lf = [o for o in group if o.source is HeadSource.LIFTED_FACE and o.face_direction_world is not None]
    direction, std = None, float(np.pi)
    if kp:
        direction, std = _mean_direction([o.face_direction_world for o in kp], [o.score for o in kp]), cfg.std_keypoints_rad
    if direction is None and lf:
        direction, std = _mean_direction([o.face_direction_world for o in lf], [o.score for o in lf]), cfg.std_lifted_rad
    if direction is None:
        std = float(np.pi)
    src = HeadSource.NONE
    for o in group:
        src |= o.source
    cams = tuple(sorted({c for o in group for c in o.cameras}))
    return FusedHead(centre, direction, std, src, cams, tuple(group))


def associate_heads(observations: Sequence[HeadObservation], cfg: TrackHeadsConfig) -> list[FusedHead]:
    """One frame-set's observations grouped into heads: each joins the nearest group whose
    centre is within ``associate_m`` (strongest evidence first), else starts a group."""
    order = sorted(observations, key=lambda o: -_weight(o, cfg))
    groups: list[list[HeadObservation]] = []
    centres: list[np.ndarray] = []
    for o in order:
        best, best_d = -1, cfg.associate_m
        for g, c in enumerate(centres):
            d = float(np.linalg.norm(o.center_world_m - c))
            if d <= best_d:
                best, best_d = g, d
        if best < 0:
            groups.append([o])
            centres.append(o.center_world_m.copy())
        else:
            groups[best].append(o)
            centres[best] = _fuse(groups[best], cfg).center_world_m
    merged = True
    while merged:  # groups whose fused centres drifted together are one head
        merged = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if np.linalg.norm(centres[a] - centres[b]) <= cfg.associate_m:
                    groups[a] += groups.pop(b)
                    centres.pop(b)
                    centres[a] = _fuse(groups[a], cfg).center_world_m
                    merged = True
                    break
            if merged:
                break
    return [_fuse(g, cfg) for g in groups]


def sample_disc_depths(view, uv: np.ndarray, r_px: float, n: int) -> tuple[np.ndarray, float] | None:
    """Depths sampled on an ``n`` x ``n`` grid over the inner disc (0.8 of the radius: a
    head's outline is uncertain) of radius ``r_px`` around pixel ``uv`` in a view, and the
    share of those samples inside the image. None when no sample is inside or the view has
    no depth (neither ``depth_m`` nor ``depth_in_boxes``)."""
    H, W = view.rgb.shape[:2]
    g = np.linspace(-0.8, 0.8, n)
    gx, gy = np.meshgrid(g, g)
    inside = gx**2 + gy**2 <= 0.64
    us = np.round(uv[0] + gx[inside] * r_px).astype(int)
    vs = np.round(uv[1] + gy[inside] * r_px).astype(int)
    ok = (us >= 0) & (us < W) & (vs >= 0) & (vs < H)
    if not ok.any():
        return None
    us, vs = us[ok], vs[ok]
    if view.depth_m is not None:
        d = view.depth_m[vs, us]
    elif view.depth_in_boxes is not None:
        box = (int(us.min()), int(vs.min()), int(us.max()) + 1, int(vs.max()) + 1)
        d = view.depth_in_boxes([box])[vs, us]
    else:
        return None
    return d, float(ok.mean())


def _disc_depths(view, camera: Camera, centre: np.ndarray, radius_m: float, n: int) -> tuple[np.ndarray, float] | None:
    """Depths sampled over the head's disc in a view (at least half of it inside the
    image), and the head's distance along +z."""
    uv, z = project_world(camera, centre)
    z = float(z)
    if not np.all(np.isfinite(uv)) or z <= radius_m + 0.05:
        return None
    H, W = view.rgb.shape[:2]
    r_px = camera.color.K_px[1, 1] * radius_m / z
    if not (-r_px <= uv[0] <= W - 1 + r_px and -r_px <= uv[1] <= H - 1 + r_px):
        return None
    got = sample_disc_depths(view, uv, r_px, n)
    if got is None or got[1] < 0.5:
        return None
    return got[0], z


def is_ghost(centre_world_m: np.ndarray, frames: FrameSet, cameras: Mapping[str, Camera], cfg: TrackHeadsConfig) -> bool:
    """True when some depth view sees clearly farther than the head over most of the head's
    disc (it sees through where the head would be). Views that do not show the head's
    position, or whose depth there is mostly missing, do not vote; nearer depth is an
    occluder, never evidence against the head."""
    for name, view in frames.views.items():
        cam = cameras.get(name)
        if cam is None or not cam.has_depth:
            continue
        got = _disc_depths(view, cam, np.asarray(centre_world_m, np.float64), cfg.head_radius_m, cfg.ghost_samples)
        if got is None:
            continue
        d, z = got
        valid = d > 0
        if valid.mean() < cfg.ghost_min_valid:
            continue
        beyond = d[valid] > z + cfg.head_radius_m + cfg.ghost_margin_m + cfg.ghost_margin_rel * z
        if beyond.mean() >= cfg.ghost_share:
            return True
    return False


def reject_ghosts(heads: Sequence[FusedHead], frames: FrameSet, cameras: Mapping[str, Camera], cfg: TrackHeadsConfig) -> list[FusedHead]:
    """The heads that agree with free space in every depth view (see :func:`is_ghost`)."""
    return [h for h in heads if not is_ghost(h.center_world_m, frames, cameras, cfg)]


@dataclass
class _Open:
    rows: list = field(default_factory=list)  # (frame index, t_ns, FusedHead)


def _predict(tr: _Open, t_ns: int) -> np.ndarray:
    (_, t1, h1) = tr.rows[-1]
    if len(tr.rows) < 2:
        return h1.center_world_m
    (_, t0, h0) = tr.rows[-2]
    dt = (t1 - t0) * 1e-9
    if dt <= 0:
        return h1.center_world_m
    v = (h1.center_world_m - h0.center_world_m) / dt
    s = np.linalg.norm(v)
    return h1.center_world_m + v * min(1.0, 2.0 / max(s, 1e-9)) * (t_ns - t1) * 1e-9


def track_heads(
    heads_per_frameset: Sequence[tuple[int, int, Sequence[FusedHead]]], cfg: TrackHeadsConfig, first_track_id: int = 0
) -> list[HeadTrack]:
    """Heads linked over time into tracks.

    ``heads_per_frameset``: ``(frame-set index, timestamp_ns, heads)`` in increasing order.
    Each frame-set's heads are assigned to the open tracks (Hungarian, cost = distance to
    the track's constant-velocity prediction, gated at ``gate_m + max_speed_m_s * dt``);
    unassigned heads start tracks; tracks unseen for more than ``max_gap_s`` end."""
    from scipy.optimize import linear_sum_assignment

    open_: list[_Open] = []
    done: list[_Open] = []
    for idx, t_ns, heads in heads_per_frameset:
        still = []
        for tr in open_:
            (done if (t_ns - tr.rows[-1][1]) * 1e-9 > cfg.max_gap_s else still).append(tr)
        open_ = still
        heads = list(heads)
        assigned = set()
        if open_ and heads:
            cost = np.full((len(open_), len(heads)), 1e6)
            for a, tr in enumerate(open_):
                pred = _predict(tr, t_ns)
                gate = cfg.gate_m + cfg.max_speed_m_s * (t_ns - tr.rows[-1][1]) * 1e-9
                for b, h in enumerate(heads):
                    d = float(np.linalg.norm(h.center_world_m - pred))
                    if d <= gate:
                        cost[a, b] = d
            ra, cb = linear_sum_assignment(cost)
            for a, b in zip(ra, cb):
                if cost[a, b] < 1e6:
                    open_[a].rows.append((idx, t_ns, heads[b]))
                    assigned.add(b)
        for b, h in enumerate(heads):
            if b not in assigned:
                open_.append(_Open([(idx, t_ns, h)]))
    done += open_
    done = [tr for tr in done if len(tr.rows) >= cfg.min_track_framesets]
    done.sort(key=lambda tr: (tr.rows[0][0], tuple(tr.rows[0][2].center_world_m)))
    return [_to_track(first_track_id + k, tr, cfg) for k, tr in enumerate(done)]


def _to_track(track_id: int, tr: _Open, cfg: TrackHeadsConfig) -> HeadTrack:
    T = len(tr.rows)
    idx = np.array([r[0] for r in tr.rows], np.int64)
    ts = np.array([r[1] for r in tr.rows], np.int64)
    c = np.array([r[2].center_world_m for r in tr.rows], np.float64)
    d = np.full((T, 3), np.nan)
    std = np.full(T, np.pi)
    for k, (_, _, h) in enumerate(tr.rows):
        if h.face_direction_world is not None:
            d[k], std[k] = h.face_direction_world, h.face_direction_std_rad
    known = np.flatnonzero(np.isfinite(d[:, 0]))
    for k, (_, _, h) in enumerate(tr.rows):
        if h.face_direction_world is not None:
            continue
        if known.size:  # carried from the nearest frame-set with evidence
            j = int(known[np.argmin(np.abs(ts[known] - ts[k]))])
            dt = abs(int(ts[j]) - int(ts[k])) * 1e-9
            s_k = std[j] + cfg.direction_carry_rad_s * dt
            if dt <= cfg.direction_carry_s and s_k < cfg.faces_every_camera_std_rad:
                d[k], std[k] = d[j], s_k
                continue
        if T > 1:  # the direction of motion, horizontal
            a, b = max(0, k - 1), min(T - 1, k + 1)
            dt = (ts[b] - ts[a]) * 1e-9
            if dt > 0:
                v = (c[b] - c[a]) / dt
                v[2] = 0.0
                if np.linalg.norm(v) >= cfg.motion_min_speed_m_s:
                    d[k], std[k] = v / np.linalg.norm(v), cfg.std_motion_rad
    every = ~np.isfinite(d[:, 0]) | (std >= cfg.faces_every_camera_std_rad)
    return HeadTrack(
        track_id=track_id,
        frame_indices=idx,
        timestamps_ns=ts,
        center_world_m=c,
        face_direction_world=d,
        face_direction_std_rad=std,
        faces_every_camera=every,
        radius_m=np.full(T, cfg.head_radius_m),
        sources=tuple(r[2].sources for r in tr.rows),
    )
