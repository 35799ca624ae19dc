"""Where a tracked head must be covered: the head tracks present at a frame-set, their
projection into each view, whether the view's depth clearly hides them, and the face box
a view would show.

* :func:`heads_at`: the head tracks at one frame-set, interpolated between the frame-sets
  where they were observed (evidence comes on keyframes), held ``hold_s`` before a track's
  first and after its last observation (fail closed: a head found a moment later was
  there a moment earlier).
* :func:`head_in_view`: the head sphere projected into a calibrated view (``None`` outside
  the image), with whether the view's depth clearly shows something nearer over the whole
  head (hidden); missing depth never hides a head.
* :func:`estimate_face_box`: the face box (forehead to chin, cheek to cheek, the visible
  front of the face as a bounding box of pixels: how the synthetic ground truth draws it,
  ``orscene.synth.annotate``) of a head in a view, from a face model on the head's
  ellipsoid oriented by the face direction; ``None`` where the face plausibly points away
  from the camera. An uncertain face direction (``faces_every_camera``) faces every camera.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from orscene.geometry.camera import project_world
from orscene.heads.track import sample_disc_depths
from orscene.types import Camera, HeadTrack, View

__all__ = ["CoverConfig", "HeadAt", "HeadInView", "heads_at", "head_in_view", "estimate_face_box", "face_faces_camera"]

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class CoverConfig:
    """How tracked heads are covered in the views."""

    hold_s: float = 0.25
    """A track's head is covered this long before its first and after its last observation
    (evidence comes on keyframes: about one keyframe interval)."""
    max_interpolate_s: float = 0.6
    """Between two observations of a track at most this far apart the head is interpolated;
    across a longer hole each side is held for ``hold_s``."""
    cover_radius_m: float = 0.14
    """Radius of the head sphere that is covered (a head's radius plus the track's error)."""
    hidden_share: float = 0.9
    """A view hides the head when this share of the head disc's depths (valid ones) is
    nearer than the head's front by ``hidden_margin_m`` ..."""
    hidden_margin_m: float = 0.10
    hidden_min_valid: float = 0.6
    """... and at least this share of the disc carries depth (else: not hidden)."""
    disc_samples: int = 9
    """Samples per side of the grid over the head disc."""
    face_forward_m: float = 0.0
    """Face model: the ellipsoid's centre relative to the head centre, along the face
    (metres; chosen against the synthetic ground truth's face boxes)."""
    face_up_m: float = 0.01
    """... and along the head's up axis."""
    face_half_width_m: float = 0.075
    """Face model: the ellipsoid's half-axes across (ear to ear) ..."""
    face_half_depth_m: float = 0.085
    """... and along the face direction (the face surface's distance from the centre)."""
    face_span_deg: float = 66.0
    """The face spans this angle on either side of the face direction (cheek to cheek)."""
    face_top_m: float = 0.10
    """Forehead (hairline) and chin heights relative to the ellipsoid's centre, along up."""
    face_bottom_m: float = -0.105
    turned_away_deg: float = 100.0
    """The ground truth draws no face box beyond this angle between the face direction and
    the direction to the camera; a face is reported while it may be within it, given its
    direction's uncertainty (``face_direction_std_rad`` added to this angle)."""


@dataclass(frozen=True)
class HeadAt:
    """One tracked head at one frame-set."""

    track_id: int
    center_world_m: np.ndarray
    """(3,) world metres."""
    face_direction_world: np.ndarray | None
    """(3,) unit vector, or None where unknown."""
    face_direction_std_rad: float
    faces_every_camera: bool
    radius_m: float
    observed: bool
    """True when the track has an observation on this very frame-set (else interpolated or held)."""


def _row(tr: HeadTrack, k: int) -> tuple[np.ndarray, np.ndarray | None, float, bool]:
    d = tr.face_direction_world[k]
    every = bool(tr.faces_every_camera[k]) or not np.all(np.isfinite(d))
    return tr.center_world_m[k], (None if not np.all(np.isfinite(d)) else d), float(tr.face_direction_std_rad[k]), every


def heads_at(tracks: Sequence[HeadTrack], frame_index: int, timestamp_ns: int, cfg: CoverConfig) -> list[HeadAt]:
    """The heads of ``tracks`` at frame-set ``frame_index`` (see the module docstring)."""
    out = []
    hold_ns, interp_ns = round(cfg.hold_s * 1e9), round(cfg.max_interpolate_s * 1e9)
    for tr in tracks:
        if len(tr) == 0:
            continue
        fi = tr.frame_indices
        k = int(np.searchsorted(fi, frame_index))
        if k < len(tr) and fi[k] == frame_index:
            c, d, s, every = _row(tr, k)
            out.append(HeadAt(tr.track_id, c.copy(), d, s, every, float(tr.radius_m[k]), True))
            continue
        before, after = k - 1, k  # rows on either side (may not exist)
        t = int(timestamp_ns)
        tb = int(tr.timestamps_ns[before]) if before >= 0 else None
        ta = int(tr.timestamps_ns[after]) if after < len(tr) else None
        if tb is not None and ta is not None and ta - tb <= interp_ns and ta > tb:
            w = (t - tb) / (ta - tb)
            cb, db, sb, eb = _row(tr, before)
            ca, da, sa, ea = _row(tr, after)
            c = (1 - w) * cb + w * ca
            d = None
            if db is not None and da is not None:
                v = (1 - w) * db + w * da
                d = v / np.linalg.norm(v) if np.linalg.norm(v) > 1e-6 else None
            else:
                d = db if w < 0.5 else da
            every = eb or ea or d is None
            out.append(HeadAt(tr.track_id, c, d, max(sb, sa), every, float(max(tr.radius_m[before], tr.radius_m[after])), False))
            continue
        near = [(abs(t - tb), before) if tb is not None else None, (abs(ta - t), after) if ta is not None else None]
        near = [n for n in near if n is not None and n[0] <= hold_ns]
        if near:
            _, j = min(near)
            c, d, s, every = _row(tr, j)
            out.append(HeadAt(tr.track_id, c.copy(), d, s, every, float(tr.radius_m[j]), False))
    return out


@dataclass(frozen=True)
class HeadInView:
    """A head's projection into one view."""

    center_px: tuple[float, float]
    radius_px: float
    head_box_xyxy_px: Box
    """The projected cover sphere's box, clipped to the image."""
    depth_m: float
    """The head centre's distance along the camera's +z."""
    hidden: bool
    """The view's depth clearly shows something nearer over the whole head."""


def _clip(box, w: int, h: int) -> Box:
    return (
        float(np.clip(box[0], -0.5, w - 0.5)), float(np.clip(box[1], -0.5, h - 0.5)),
        float(np.clip(box[2], -0.5, w - 0.5)), float(np.clip(box[3], -0.5, h - 0.5)),
    )  # fmt: skip


def head_in_view(head: HeadAt, camera: Camera, view: View | None, cfg: CoverConfig) -> HeadInView | None:
    """The head's cover sphere projected into ``camera``'s colour image; None when behind
    the camera or wholly outside the image. ``view`` gives the depth (None or a view
    without depth: never hidden)."""
    c = np.asarray(head.center_world_m, np.float64)
    uv, z = project_world(camera, c[None])
    z = float(z[0])
    if not np.all(np.isfinite(uv)) or z <= cfg.cover_radius_m + 0.05:
        return None
    f = 0.5 * (camera.color.K_px[0, 0] + camera.color.K_px[1, 1])
    r_px = float(f * cfg.cover_radius_m / z)
    u, v = float(uv[0, 0]), float(uv[0, 1])
    W, H = camera.color.width_px, camera.color.height_px
    if u + r_px < -0.5 or v + r_px < -0.5 or u - r_px > W - 0.5 or v - r_px > H - 0.5:
        return None
    box = _clip((u - r_px, v - r_px, u + r_px, v + r_px), W, H)
    if box[2] <= box[0] or box[3] <= box[1]:
        return None
    hidden = False
    if view is not None and camera.has_depth:
        r_head_px = float(f * head.radius_m / z)
        got = sample_disc_depths(view, np.array([u, v]), r_head_px, cfg.disc_samples)
        if got is not None:
            d, _ = got
            valid = d > 0
            if valid.size and valid.mean() >= cfg.hidden_min_valid:
                nearer = d[valid] < z - head.radius_m - cfg.hidden_margin_m
                hidden = bool(nearer.mean() >= cfg.hidden_share)
    return HeadInView((u, v), r_px, box, z, hidden)


def face_faces_camera(head: HeadAt, camera: Camera, cfg: CoverConfig) -> bool:
    """Whether the face may point towards ``camera`` (uncertain: it does)."""
    if head.faces_every_camera or head.face_direction_world is None:
        return True
    to_cam = camera.center_world_m - np.asarray(head.center_world_m, np.float64)
    n = float(np.linalg.norm(to_cam))
    if n < 1e-6:
        return True
    ang = float(np.degrees(np.arccos(np.clip(head.face_direction_world @ (to_cam / n), -1.0, 1.0))))
    return ang <= cfg.turned_away_deg + float(np.degrees(head.face_direction_std_rad))


def _face_frame(head: HeadAt, camera: Camera) -> np.ndarray:
    """(3, 3) columns: the head's left, up and forward axes (world). Unknown direction:
    the face points at the camera, horizontally."""
    c = np.asarray(head.center_world_m, np.float64)
    fwd = head.face_direction_world
    if head.faces_every_camera or fwd is None:
        fwd = camera.center_world_m - c
        fwd = fwd.copy()
        fwd[2] = 0.0
        if np.linalg.norm(fwd) < 1e-6:
            fwd = camera.center_world_m - c
    fwd = np.asarray(fwd, np.float64) / np.linalg.norm(fwd)
    up = np.array([0.0, 0.0, 1.0]) - fwd[2] * fwd
    if np.linalg.norm(up) < 1e-6:  # looking straight up or down
        up = np.cross(fwd, [1.0, 0.0, 0.0])
    up /= np.linalg.norm(up)
    left = np.cross(up, fwd)
    return np.stack([left, up, fwd], axis=1)


def estimate_face_box(head: HeadAt, camera: Camera, cfg: CoverConfig, n: int = 9) -> Box | None:
    """The face box of ``head`` in ``camera``'s colour image (clipped), or None when the
    face plausibly points away (:func:`face_faces_camera`) or none of it projects inside
    the image.

    The face is a patch of the head's ellipsoid (half-axes ``face_half_width_m`` across and
    ``face_half_depth_m`` along the face, centred ``face_forward_m`` / ``face_up_m`` from
    the head centre), ``face_span_deg`` either side of the face direction and from
    ``face_bottom_m`` to ``face_top_m`` along the head's up axis; its points that face the
    camera are projected and their bounding box is the face box (a face in profile gives a
    narrow box, as the ground truth's visible face pixels do)."""
    if not face_faces_camera(head, camera, cfg):
        return None
    R = _face_frame(head, camera)
    centre = np.asarray(head.center_world_m, np.float64) + R @ np.array([0.0, cfg.face_up_m, cfg.face_forward_m])
    th = np.radians(np.linspace(-cfg.face_span_deg, cfg.face_span_deg, n))
    hv = np.linspace(cfg.face_bottom_m, cfg.face_top_m, n)
    T, V = np.meshgrid(th, hv)
    local = np.stack([cfg.face_half_width_m * np.sin(T), V, cfg.face_half_depth_m * np.cos(T)], -1).reshape(-1, 3)
    normal = np.stack([np.sin(T) / cfg.face_half_width_m, np.zeros_like(T), np.cos(T) / cfg.face_half_depth_m], -1).reshape(-1, 3)
    pts = centre + local @ R.T
    nw = normal @ R.T
    front = np.einsum("ij,ij->i", nw, camera.center_world_m - pts) > 0
    if not front.any():
        if head.faces_every_camera or head.face_direction_world is None:
            return None
        front[:] = True  # within the uncertainty of the direction: the whole face
    uv, z = project_world(camera, pts[front])
    ok = np.all(np.isfinite(uv), axis=1) & (z > 0.05)
    if not ok.any():
        return None
    uv = uv[ok]
    W, H = camera.color.width_px, camera.color.height_px
    box = _clip((uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()), W, H)
    if box[2] - box[0] < 1.0 or box[3] - box[1] < 1.0:
        return None
    return box
