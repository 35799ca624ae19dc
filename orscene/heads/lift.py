"""Faces found in 2D, lifted to 3D heads.

* A face box in a view with depth: the registered depth inside the box's inner part gives
  the face surface (median of the valid depths; rejected when too few pixels are valid or
  when the box is not the size of a face at that depth). The head centre is that surface
  point pushed back along the viewing ray by about half a head's depth.
* Face boxes in views without depth (or whose depth did not vouch for them): matched across
  two or more calibrated views and triangulated, gated on the ray-to-ray distance and on
  the box size against the distance (a face is ~0.15-0.25 m tall).

A lifted face's direction points from the head towards the cameras that saw it (a face
detector fires on faces turned roughly towards the camera).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from orscene.geometry.camera import transform_points, unproject_px
from orscene.types import Camera, FrameSet, HeadObservation, HeadSource, View

__all__ = ["LiftConfig", "lift_face_with_depth", "triangulate_faces", "lift_faces", "face_ray_world"]

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class LiftConfig:
    """How 2D face boxes become 3D heads."""

    min_score: float = 0.0
    """Boxes scoring below are ignored (the detectors' own thresholds already apply)."""
    inner_fraction: float = 0.5
    """Share of the box's width and height (centred) whose depth is read: the box's border
    holds hair, ears and the background."""
    min_valid_fraction: float = 0.3
    """At least this share of the inner part's pixels must carry depth."""
    min_valid_px: int = 4
    """... and at least this many pixels."""
    max_spread_m: float = 0.12
    """Reject when the inner depths' inter-quartile range exceeds this (the box straddles an
    edge: a face seen past an occluder, or a false detection)."""
    face_height_m: tuple[float, float] = (0.10, 0.40)
    """The box height at the measured or triangulated distance must fall in this range
    (a face is ~0.15-0.25 m from forehead to chin; detectors' boxes vary)."""
    face_to_head_center_m: float = 0.085
    """Face surface to head centre, along the viewing ray (about half a head's depth)."""
    depth_range_m: tuple[float, float] = (0.3, 8.0)
    """Plausible face distances from a camera."""
    face_normal_from_depth: bool = True
    """Push the head centre back along the face's normal (a plane fitted to the depth in
    the box) rather than along the viewing ray: a face seen obliquely (a high camera, a
    face looking down at the table) has its head centre off the ray."""
    max_normal_angle_deg: float = 70.0
    """A fitted normal further than this from the viewing ray is not trusted (the ray is used)."""
    max_ray_distance_m: float = 0.10
    """Two views' rays through the same face pass within this distance of each other."""
    max_ray_distance_px: float = 0.5
    """... or within this share of the face box's height at that distance (small boxes
    locate the face less precisely)."""


def face_ray_world(camera: Camera, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """The world ray through the centre of a colour box: ``(origin (3,), unit direction (3,))``."""
    u = 0.5 * (box[0] + box[2]) - 0.5  # pixel-edge box -> pixel-centre coordinates
    v = 0.5 * (box[1] + box[3]) - 0.5
    p_cam = unproject_px(camera.color, np.array([u, v]), np.array(1.0))
    R, t = camera.world_from_cam[:3, :3], camera.world_from_cam[:3, 3]
    d = R @ p_cam
    return t.copy(), d / np.linalg.norm(d)


def _view_depth_in(view: View, box_px: tuple[int, int, int, int]) -> np.ndarray | None:
    x0, y0, x1, y1 = box_px
    if view.depth_m is not None:
        return view.depth_m[y0:y1, x0:x1]
    if view.depth_in_boxes is not None:
        return view.depth_in_boxes([box_px])[y0:y1, x0:x1]
    return None


def lift_face_with_depth(box: Box, score: float, view: View, camera: Camera, cfg: LiftConfig) -> HeadObservation | None:
    """A head from one face box and the registered depth of its view, or None when the
    depth does not vouch for a face there.

    ``z`` = median of the valid depths in the box's inner part; the face point is the box
    centre's ray at ``z``; the head centre lies ``face_to_head_center_m`` further along the
    ray; the face direction points back along the ray, towards the camera.
    """
    H, W = view.rgb.shape[:2]
    cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
    hw, hh = 0.5 * cfg.inner_fraction * (box[2] - box[0]), 0.5 * cfg.inner_fraction * (box[3] - box[1])
    ix0, iy0 = max(0, int(np.floor(cx - hw + 0.5))), max(0, int(np.floor(cy - hh + 0.5)))
    ix1, iy1 = min(W, max(ix0 + 1, int(np.ceil(cx + hw - 0.5)))), min(H, max(iy0 + 1, int(np.ceil(cy + hh - 0.5))))
    if ix1 <= ix0 or iy1 <= iy0:
        return None
    d = _view_depth_in(view, (ix0, iy0, ix1, iy1))
    if d is None:
        return None
    vals = d[d > 0]
    if vals.size < max(cfg.min_valid_px, cfg.min_valid_fraction * d.size):
        return None
    q25, z, q75 = (float(x) for x in np.percentile(vals, [25, 50, 75]))
    if q75 - q25 > cfg.max_spread_m or not (cfg.depth_range_m[0] <= z <= cfg.depth_range_m[1]):
        return None
    face_h_m = (box[3] - box[1]) * z / camera.color.K_px[1, 1]
    if not (cfg.face_height_m[0] <= face_h_m <= cfg.face_height_m[1]):
        return None
    face_cam = unproject_px(camera.color, np.array([cx - 0.5, cy - 0.5]), np.array(z))
    face_w = transform_points(camera.world_from_cam, face_cam)
    origin = camera.center_world_m
    ray = face_w - origin
    ray /= np.linalg.norm(ray)
    facing = -ray
    if cfg.face_normal_from_depth:
        n_cam = _face_normal_cam(d, (ix0, iy0), z, camera, cfg)
        if n_cam is not None:
            n_w = camera.world_from_cam[:3, :3] @ n_cam
            if float(n_w @ -ray) >= np.cos(np.radians(cfg.max_normal_angle_deg)):
                facing = n_w
    return HeadObservation(
        center_world_m=face_w - cfg.face_to_head_center_m * facing,
        source=HeadSource.LIFTED_FACE,
        cameras=(camera.name,),
        score=float(np.clip(score, 0.0, 1.0)),
        face_direction_world=facing,
        face_world_m=face_w,
    )


def _face_normal_cam(d: np.ndarray, origin_px: tuple[int, int], z_m: float, camera: Camera, cfg: LiftConfig) -> np.ndarray | None:
    """Unit normal (camera frame, towards the camera) of the plane through the face's depth
    points near ``z_m``, or None when too few points support it."""
    ys, xs = np.nonzero((d > 0) & (np.abs(d - z_m) <= 0.05))
    if ys.size < 12:
        return None
    uv = np.stack([xs + origin_px[0], ys + origin_px[1]], -1).astype(np.float64)
    p = unproject_px(camera.color, uv, d[ys, xs].astype(np.float64))
    p = p - p.mean(axis=0)
    _, sv, vt = np.linalg.svd(p, full_matrices=False)
    if sv[1] < 1e-6 or sv[2] / sv[1] > 0.6:  # not a surface patch (a line, or a blob)
        return None
    n = vt[2]
    return -n if n[2] > 0 else n


def _closest_points(o1, d1, o2, d2) -> tuple[float, float, float]:
    """Ray parameters (s1, s2) of the closest points of two lines, and their distance."""
    b = float(d1 @ d2)
    w = o1 - o2
    denom = 1.0 - b * b
    if denom < 1e-9:
        return -1.0, -1.0, np.inf
    dd, e = float(d1 @ w), float(d2 @ w)
    s1 = (b * e - dd) / denom
    s2 = (e - b * dd) / denom
    dist = float(np.linalg.norm((o1 + s1 * d1) - (o2 + s2 * d2)))
    return s1, s2, dist


def _least_squares_point(origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """The point nearest to all rays (sum of squared perpendicular distances)."""
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for o, d in zip(origins, dirs):
        P = np.eye(3) - np.outer(d, d)
        A += P
        b += P @ o
    return np.linalg.solve(A, b)


def triangulate_faces(faces: Sequence[tuple[str, Box, float]], cameras: Mapping[str, Camera], cfg: LiftConfig) -> list[HeadObservation]:
    """Heads from face boxes ``(camera, box, score)`` matched across two or more views.

    Pairs of boxes from different views are candidate matches when their rays pass within
    ``max_ray_distance_m`` (or ``max_ray_distance_px`` face heights), in front of both
    cameras, and both boxes are the size of a face at the meeting point. Matches are taken
    greedily by ray distance, one box per view per face; each face is the least-squares
    point of its rays, and its head centre lies ``face_to_head_center_m`` behind it, away
    from the mean direction to the cameras that saw it.
    """
    items = [(c, b, s) for c, b, s in faces if c in cameras and s >= cfg.min_score]
    rays = [face_ray_world(cameras[c], b) for c, b, _ in items]
    fy = [cameras[c].color.K_px[1, 1] for c, _, _ in items]
    hpx = [max(1.0, b[3] - b[1]) for _, b, _ in items]

    def size_ok(i: int, s: float) -> bool:
        h_m = hpx[i] * s / fy[i]
        return cfg.depth_range_m[0] <= s <= cfg.depth_range_m[1] and cfg.face_height_m[0] <= h_m <= cfg.face_height_m[1]

    pairs = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if items[i][0] == items[j][0]:
                continue
            s1, s2, dist = _closest_points(*rays[i], *rays[j])
            if not (size_ok(i, s1) and size_ok(j, s2)):
                continue
            face_h = 0.5 * (hpx[i] * s1 / fy[i] + hpx[j] * s2 / fy[j])
            if dist <= max(cfg.max_ray_distance_m, cfg.max_ray_distance_px * face_h):
                pairs.append((dist, i, j))
    pairs.sort()
    group_of = [-1] * len(items)
    groups: list[list[int]] = []
    for dist, i, j in pairs:
        gi, gj = group_of[i], group_of[j]
        if gi == -1 and gj == -1:
            group_of[i] = group_of[j] = len(groups)
            groups.append([i, j])
            continue
        if gi != -1 and gj != -1:
            continue  # both already placed (merging two faces' groups would be a guess)
        g, k = (gi, j) if gi != -1 else (gj, i)
        if any(items[m][0] == items[k][0] for m in groups[g]):
            continue
        # the new ray must agree with the group's current point
        o = np.array([rays[m][0] for m in groups[g]])
        d = np.array([rays[m][1] for m in groups[g]])
        x = _least_squares_point(o, d)
        ok, dk = rays[k]
        s = float((x - ok) @ dk)
        if s > 0 and size_ok(k, s) and np.linalg.norm(ok + s * dk - x) <= max(cfg.max_ray_distance_m, cfg.max_ray_distance_px * hpx[k] * s / fy[k]):
            groups[g].append(k)
            group_of[k] = g
    out = []
    for g in groups:
        o = np.array([rays[m][0] for m in g])
        d = np.array([rays[m][1] for m in g])
        x = _least_squares_point(o, d)
        to_cams = o - x
        to_cams /= np.linalg.norm(to_cams, axis=1, keepdims=True)
        face_dir = to_cams.mean(axis=0)
        n = np.linalg.norm(face_dir)
        if n < 1e-6:
            continue
        face_dir /= n
        out.append(
            HeadObservation(
                center_world_m=x - cfg.face_to_head_center_m * face_dir,
                source=HeadSource.LIFTED_FACE,
                cameras=tuple(items[m][0] for m in g),
                score=float(np.mean([items[m][2] for m in g])),
                face_direction_world=face_dir,
                face_world_m=x,
            )
        )
    return out


def lift_faces(frames: FrameSet, cameras: Mapping[str, Camera], faces2d: Mapping[str, Sequence | None], cfg: LiftConfig) -> list[HeadObservation]:
    """Every face box of one frame-set lifted to 3D.

    ``faces2d``: per camera, the face detections ``(box_xyxy_px, score)`` (None or missing:
    no detections there). Boxes in views with depth are lifted with it; the rest (views
    without depth, and boxes the depth did not vouch for) are triangulated across views.
    """
    out: list[HeadObservation] = []
    rest: list[tuple[str, Box, float]] = []
    for name, dets in faces2d.items():
        if not dets or name not in cameras:
            continue
        view = frames.views.get(name)
        for det in dets:
            box, score = tuple(float(v) for v in det[0]), float(det[1])
            if score < cfg.min_score:
                continue
            obs = None
            if view is not None and (view.depth_m is not None or view.depth_in_boxes is not None):
                obs = lift_face_with_depth(box, score, view, cameras[name], cfg)
            if obs is not None:
                out.append(obs)
            else:
                rest.append((name, box, score))
    if len({c for c, _, _ in rest}) >= 2:
        out += triangulate_faces(rest, cameras, cfg)
    return out

