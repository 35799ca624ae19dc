"""People found in depth: heads as the tops of the foreground's person columns.

1. Per depth camera, a background learned from the session itself
   (:func:`learn_depth_background`): per pixel of a subsampled grid of the registered depth,
   a far percentile of the valid depths over frame-sets sampled across the session. A
   person who covers a pixel in less than ``percentile`` % of the samples stays foreground
   there; static furniture, the table, the lying (draped, still) patient become background.
2. Per frame-set (:func:`find_depth_heads`): foreground = valid depth clearly nearer than
   the background; flying pixels at depth edges (a depth that disagrees with its 3x3
   median) and isolated specks (few foreground neighbours) are dropped; what is left goes to
   the world frame (z up), restricted to the room bounds and the height band of heads.
3. All cameras' foreground points are binned on a floor grid (layers that float above the
   heads -- lamps, booms -- dropped per cell); the height map's local maxima at a human
   head's height are candidate head tops; a head is accepted when its upper points have a
   head's width, everything around it (shoulders) is clearly lower, and two depth cameras
   support it where two see it unoccluded; its centre is a head-sized sphere fitted to its
   points, started one head-half-height below the crown.
4. People who stood still long enough to become background: the same search among all
   depth points (``still_people``), where only the head's shape speaks; kept where no
   foreground head is near.

The lying patient is no standing column and is not looked for: a head needs a top at a
standing or seated person's height (``min_head_top_m``) that sticks out above everything
around it, while a lying head rests at table height beside the pillow, the drape and the
anaesthesia screen, and a still patient is absorbed by the background anyway. The patient's
head comes from the lifted faces and the keypoints (``orscene.heads.find``); a patient's
head that does pass the checks is kept like any other.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from orscene.geometry.camera import unproject_px
from orscene.types import Camera, FrameSet, HeadObservation, HeadSource, View

__all__ = ["DepthPeopleConfig", "DepthBackground", "learn_depth_background", "foreground_points_world", "find_depth_heads", "view_depth"]


@dataclass(frozen=True)
class DepthPeopleConfig:
    """Background model, foreground and head finding in the fused depth."""

    stride_px: int = 4
    """Read every ``stride``-th pixel of the registered depth in both directions."""
    background_percentile: float = 90.0
    """Far percentile of a pixel's valid depths over the sampled frame-sets."""
    min_background_share: float = 0.2
    """A pixel valid in fewer of the samples has no background: any depth there is foreground."""
    foreground_margin_m: float = 0.10
    """Foreground is nearer than the background by this much ..."""
    foreground_margin_rel: float = 0.03
    """... plus this share of the depth (the sensor's noise grows with the distance)."""
    flying_pixel_m: float = 0.05
    """Drop a depth that differs from its 3x3 median by more than this (plus 1 % of the depth)."""
    min_neighbours: int = 3
    """A foreground pixel needs this many foreground pixels among its 8 neighbours."""
    room_margin_m: float = 0.3
    """Keep points within the room bounds (``pose.room_bounds_from_cameras``) grown by this."""
    min_point_height_m: float = 0.8
    """Only points above this height matter for heads (the floor, legs and the table are
    below; the top of a lying patient's head is too)."""
    cell_m: float = 0.05
    """Floor grid cell size."""
    min_cell_points: int = 2
    """A cell with fewer points has no height (noise, flying pixels)."""
    min_head_top_m: float = 1.15
    """Lowest head top accepted (a seated person; a lying patient is lower)."""
    max_head_top_m: float = 2.3
    """Highest head top accepted (lamps and booms above are not heads)."""
    peak_separation_m: float = 0.3
    """Two heads' tops are at least this far apart on the floor."""
    head_radius_m: float = 0.11
    """Horizontal radius around the top that holds the head's points."""
    head_height_m: float = 0.24
    """Crown to chin: the slab of points below the top that make up the head."""
    crown_depth_m: float = 0.10
    """Points this close below the top give the head's horizontal centre."""
    top_to_center_m: float = 0.115
    """The head centre lies this far below the top (half a head's height)."""
    min_head_points: int = 12
    """A head needs at least this many points in its slab."""
    head_width_m: tuple[float, float] = (0.08, 0.40)
    """The slab's horizontal extent (2x the 90th percentile distance from its centre) must
    fall in this range: a head, not a speck, and not a wide flat object."""
    ring_m: tuple[float, float] = (0.17, 0.28)
    """Horizontal distances from the head's centre where the shoulders (or nothing) are ..."""
    min_drop_m: float = 0.12
    """... at least this much lower than the top (90th percentile): a head sticks out."""
    sphere_fit: bool = True
    """Refine the centre by fitting a head-sized sphere to the head's points (side views
    see the head's sides; a bent head's top is not above its centre)."""
    gap_m: float = 0.15
    """A vertical gap this tall in a floor cell separates a head from what hangs above it."""
    max_head_bottom_m: float = 1.85
    """A layer of a cell that starts above this floats above the heads (no chin is that high)."""
    min_cameras: int = 2
    """A head needs points from this many depth cameras where that many see its position
    unoccluded (one camera alone mistakes a shoulder or an arm for a head too often)."""
    single_camera_min_top_m: float = 1.45
    """A head that one depth camera alone supports must reach this high (a standing person;
    lower tops seen by one camera are too often a shoulder or a raised arm)."""
    still_min_cameras: int = 2
    """A head found by its shape alone needs points from this many depth cameras."""
    still_people: bool = True
    """Also look for heads among all depth points (not only the foreground): finds people
    who stood still long enough to become background, by the head's shape alone."""


@dataclass(frozen=True)
class DepthBackground:
    """The per-camera background of a session (see :func:`learn_depth_background`)."""

    stride_px: int
    far_m: Mapping[str, np.ndarray]
    """Camera -> (H', W') float32 background depth on the strided colour grid, metres;
    ``inf`` where unknown (anything valid there is foreground)."""
    rays_cam: Mapping[str, np.ndarray]
    """Camera -> (H', W', 3) float32 camera-frame rays with z = 1 of the strided grid."""


def view_depth(view: View) -> np.ndarray | None:
    """The view's registered depth, registering it whole on demand when needed."""
    if view.depth_m is not None:
        return view.depth_m
    if view.depth_in_boxes is not None:
        H, W = view.rgb.shape[:2]
        return view.depth_in_boxes([(0, 0, W, H)])
    return None


def _strided(depth_m: np.ndarray, stride: int) -> np.ndarray:
    return np.ascontiguousarray(depth_m[::stride, ::stride], dtype=np.float32)


def _rays(camera: Camera, shape: tuple[int, int], stride: int) -> np.ndarray:
    vs, us = np.mgrid[0 : shape[0] * stride : stride, 0 : shape[1] * stride : stride]
    return unproject_px(camera.color, np.stack([us, vs], -1).astype(np.float64), np.ones(us.shape)).astype(np.float32)


def learn_depth_background(frames: Iterable[FrameSet], cameras: Mapping[str, Camera], cfg: DepthPeopleConfig) -> DepthBackground:
    """The far-percentile background of each depth camera over ``frames`` (frame-sets sampled
    across the session; a few dozen spread over minutes are enough)."""
    stacks: dict[str, list[np.ndarray]] = {}
    for fs in frames:
        for name, view in fs.views.items():
            if name not in cameras:
                continue
            d = view_depth(view)
            if d is not None:
                stacks.setdefault(name, []).append(_strided(d, cfg.stride_px))
    far, rays = {}, {}
    for name, ds in stacks.items():
        shapes = {d.shape for d in ds}
        if len(shapes) != 1:
            continue
        a = np.stack(ds).astype(np.float32)
        a[a <= 0] = np.nan
        share = np.mean(np.isfinite(a), axis=0)
        bg = nanpercentile_first_axis(a, cfg.background_percentile)
        bg[~(share >= cfg.min_background_share) | ~np.isfinite(bg)] = np.inf
        far[name] = bg.astype(np.float32)
        rays[name] = _rays(cameras[name], bg.shape, cfg.stride_px)
    return DepthBackground(cfg.stride_px, far, rays)


def nanpercentile_first_axis(a: np.ndarray, q: float) -> np.ndarray:
    """``np.nanpercentile(a, q, axis=0)`` (linear interpolation; NaN where a column has no
    finite value), vectorised: numpy's own loops over the columns in Python, seconds for a
    few cameras' backgrounds."""
    s = np.sort(a, axis=0)  # NaNs last
    n = np.isfinite(a).sum(axis=0)
    pos = np.maximum(n - 1, 0) * (q / 100.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    t = (pos - lo).astype(a.dtype)
    v_lo = np.take_along_axis(s, lo[None], axis=0)[0]
    v_hi = np.take_along_axis(s, hi[None], axis=0)[0]
    out = np.where(t >= 0.5, v_hi - (v_hi - v_lo) * (1 - t), v_lo + (v_hi - v_lo) * t)
    return np.where(n > 0, out, np.nan).astype(a.dtype)


def _median3(d: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.medianBlur(d, 3)


def _despeckle(mask: np.ndarray, min_neighbours: int) -> np.ndarray:
    """Keep mask pixels with at least ``min_neighbours`` mask pixels among their 8
    neighbours (isolated specks go; unlike an erosion, scattered holes do not eat the rest)."""
    import cv2

    n = cv2.filter2D(mask.astype(np.float32), -1, np.ones((3, 3), np.float32), borderType=cv2.BORDER_CONSTANT)
    return mask & (n - 1 >= min_neighbours - 0.5)


def foreground_points_world(
    frames: FrameSet, cameras: Mapping[str, Camera], background: DepthBackground, cfg: DepthPeopleConfig, foreground_only: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Foreground points of every depth camera in the world frame: ``(points (N, 3) float64,
    camera index (N,) int into sorted(background.far_m))``; every valid point when not
    ``foreground_only``."""
    pts, cam_idx = [], []
    for k, name in enumerate(sorted(background.far_m)):
        view = frames.views.get(name)
        if view is None or name not in cameras:
            continue
        d_full = view_depth(view)
        if d_full is None:
            continue
        d = _strided(d_full, background.stride_px)
        bg = background.far_m[name]
        if d.shape != bg.shape:
            continue
        med = _median3(d)
        # a median pulled to 0 by holes cannot judge: keep the pixel
        valid = (d > 0) & ((np.abs(d - med) <= cfg.flying_pixel_m + 0.01 * d) | (med <= 0))
        fg = valid & (d < bg - (cfg.foreground_margin_m + cfg.foreground_margin_rel * d)) if foreground_only else valid
        fg = _despeckle(fg, cfg.min_neighbours)
        if not fg.any():
            continue
        p_cam = background.rays_cam[name][fg] * d[fg][:, None]
        cam = cameras[name]
        p_w = p_cam.astype(np.float64) @ cam.world_from_cam[:3, :3].T + cam.world_from_cam[:3, 3]
        pts.append(p_w)
        cam_idx.append(np.full(p_w.shape[0], k))
    if not pts:
        return np.zeros((0, 3)), np.zeros(0, int)
    return np.concatenate(pts), np.concatenate(cam_idx)


def _room_bounds(cameras: Mapping[str, Camera]) -> tuple[np.ndarray, np.ndarray]:
    from orscene.pose.config import FusionConfig
    from orscene.pose.fusion import room_bounds_from_cameras

    return room_bounds_from_cameras(cameras, FusionConfig())


def all_points_world(frames: FrameSet, cameras: Mapping[str, Camera], background: DepthBackground, cfg: DepthPeopleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every valid (non-flying) depth point of every depth camera, world frame: like
    :func:`foreground_points_world` without the background test."""
    return foreground_points_world(frames, cameras, background, cfg, foreground_only=False)


def _fit_sphere_center(points: np.ndarray, init: np.ndarray, radius_m: float, max_shift_m: float, iterations: int = 10) -> np.ndarray:
    """Centre of a sphere of known radius through the points (Gauss-Newton on the radial
    residuals, Huber-weighted), moved at most ``max_shift_m`` from ``init``."""
    c = init.astype(np.float64).copy()
    if points.shape[0] < 10:
        return c
    for _ in range(iterations):
        v = c - points
        n = np.maximum(np.linalg.norm(v, axis=1), 1e-6)
        r = n - radius_m
        w = np.minimum(1.0, 0.02 / np.maximum(np.abs(r), 1e-9))  # Huber at 2 cm
        J = v / n[:, None]
        A = (J * w[:, None]).T @ J + 1e-3 * np.eye(3)
        c = c - np.linalg.solve(A, (J * w[:, None]).T @ r)
        d = c - init
        if np.linalg.norm(d) > max_shift_m:
            c = init + d * (max_shift_m / np.linalg.norm(d))
    return c


def _below_floating(pts: np.ndarray, cam_idx: np.ndarray, cfg: DepthPeopleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Drop what floats above the heads: per floor cell the points are split into layers at
    vertical gaps taller than ``gap_m``; a layer whose bottom is above ``max_head_bottom_m``
    (a lamp, a boom: no chin is that high) is not a head's top. The layers below stay (a
    head bent over the draped table is a layer above the drape)."""
    if pts.shape[0] == 0:
        return pts, cam_idx
    ij = np.floor((pts[:, :2] - pts[:, :2].min(axis=0)) / cfg.cell_m).astype(np.int64)
    flat = ij[:, 0] * (int(ij[:, 1].max()) + 1) + ij[:, 1]
    order = np.lexsort((pts[:, 2], flat))
    fc, fz = flat[order], pts[order, 2]
    start = np.ones(fc.size, bool)
    start[1:] = (fc[1:] != fc[:-1]) | (np.diff(fz) > cfg.gap_m)  # a new cell or a new layer
    first = np.maximum.accumulate(np.where(start, np.arange(fc.size), 0))
    keep_sorted = fz[first] <= cfg.max_head_bottom_m
    keep = np.zeros(pts.shape[0], bool)
    keep[order[keep_sorted]] = True
    return pts[keep], cam_idx[keep]


def _heads_in_points(pts: np.ndarray, cam_idx: np.ndarray, names: Sequence[str], cfg: DepthPeopleConfig) -> list[HeadObservation]:
    """Head tops among world points already restricted to the room and the head band."""
    from scipy import ndimage

    pts, cam_idx = _below_floating(pts, cam_idx, cfg)
    if pts.shape[0] < cfg.min_head_points:
        return []
    origin = pts[:, :2].min(axis=0) - 2 * cfg.cell_m
    ij = np.floor((pts[:, :2] - origin) / cfg.cell_m).astype(int)
    shape = tuple(ij.max(axis=0) + 3)
    flat = ij[:, 0] * shape[1] + ij[:, 1]
    count = np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape)
    top = np.zeros(shape[0] * shape[1])
    np.maximum.at(top, flat, pts[:, 2])
    top = top.reshape(shape)
    top[count < cfg.min_cell_points] = 0.0
    top = ndimage.median_filter(top, size=3, mode="constant")  # single-cell spikes are noise
    r_cells = max(1, int(round(cfg.peak_separation_m / cfg.cell_m)))
    yy, xx = np.mgrid[-r_cells : r_cells + 1, -r_cells : r_cells + 1]
    disc = (xx**2 + yy**2) <= r_cells**2
    peaks = (top == ndimage.maximum_filter(top, footprint=disc, mode="constant")) & (top >= cfg.min_head_top_m) & (top <= cfg.max_head_top_m)
    lab, n = ndimage.label(peaks)
    if n == 0:
        return []
    centres = ndimage.center_of_mass(peaks, lab, range(1, n + 1))
    out: list[HeadObservation] = []
    taken: list[np.ndarray] = []
    for c in sorted(centres, key=lambda c: -top[int(round(c[0])), int(round(c[1]))]):
        xy = origin + (np.asarray(c) + 0.5) * cfg.cell_m
        z_top = float(top[int(round(c[0])), int(round(c[1]))])
        if any(np.linalg.norm(xy - t) < cfg.peak_separation_m for t in taken):
            continue
        r_xy = np.linalg.norm(pts[:, :2] - xy, axis=1)
        slab = (r_xy <= cfg.head_radius_m + cfg.cell_m) & (pts[:, 2] >= z_top - cfg.head_height_m) & (pts[:, 2] <= z_top + cfg.cell_m)
        if slab.sum() < cfg.min_head_points:
            continue
        crown = slab & (pts[:, 2] >= z_top - cfg.crown_depth_m)
        c_xy = np.median(pts[crown, :2], axis=0) if crown.sum() >= 3 else xy
        r_c = np.linalg.norm(pts[:, :2] - c_xy, axis=1)
        # a head's width: the upper slab's points near the crown centre, not a wide flat object
        upper = (r_c <= 2 * cfg.head_radius_m) & (pts[:, 2] >= z_top - cfg.crown_depth_m)
        spread = 2 * float(np.percentile(r_c[upper], 90)) if upper.sum() >= 3 else 0.0
        if not (cfg.head_width_m[0] <= spread <= cfg.head_width_m[1]):
            continue
        # a head sticks out: around it (shoulders, the rest of the body) everything is lower
        ring = (r_c >= cfg.ring_m[0]) & (r_c <= cfg.ring_m[1]) & (pts[:, 2] >= z_top - 0.5)
        if ring.sum() >= cfg.min_head_points and float(np.percentile(pts[ring, 2], 90)) > z_top - cfg.min_drop_m:
            continue
        taken.append(xy)
        cams = tuple(names[k] for k in np.unique(cam_idx[slab]))
        center = np.array([c_xy[0], c_xy[1], z_top - cfg.top_to_center_m])
        if cfg.sphere_fit:
            head = (r_c <= cfg.head_radius_m + 0.03) & (pts[:, 2] >= z_top - 0.8 * cfg.head_height_m)
            center = _fit_sphere_center(pts[head], center, cfg.head_radius_m - 0.015, max_shift_m=0.06)
        out.append(HeadObservation(center, HeadSource.DEPTH, cams, float(min(1.0, slab.sum() / (4 * cfg.min_head_points)))))
    return out


def _needed_cameras(head: HeadObservation, frames: FrameSet, cameras: Mapping[str, Camera], names: Sequence[str], cfg: DepthPeopleConfig) -> int:
    """How many depth cameras must support a head: ``min_cameras`` where at least that many
    depth cameras see the head's position unoccluded (their depth at its projection is not
    nearer than the head's front), else 1."""
    from orscene.geometry.camera import project_world

    n = 0
    for name in names:
        view = frames.views.get(name)
        if view is None or name not in cameras:
            continue
        uv, z = project_world(cameras[name], head.center_world_m)
        H, W = view.rgb.shape[:2]
        if not (np.all(np.isfinite(uv)) and z > 0.3 and 0 <= uv[0] < W and 0 <= uv[1] < H):
            continue
        u, v = int(round(uv[0])), int(round(uv[1]))
        box = (max(0, u - 2), max(0, v - 2), min(W, u + 3), min(H, v + 3))
        d = view.depth_m if view.depth_m is not None else view.depth_in_boxes([box]) if view.depth_in_boxes is not None else None
        if d is None:
            continue
        patch = d[box[1] : box[3], box[0] : box[2]]
        patch = patch[patch > 0]
        n += bool(patch.size and np.median(patch) >= z - cfg.head_radius_m - 0.1)
    return cfg.min_cameras if n >= cfg.min_cameras else 1


def _higher_beside(head: HeadObservation, pts: np.ndarray, cfg: DepthPeopleConfig) -> bool:
    """Whether any depth point (background included) beside the head, between a head's
    radius and ``peak_separation_m`` from it, rises above the head's top: then the moving
    "head" is an arm or a shoulder beside a head that stood still long enough to become
    background."""
    r = np.linalg.norm(pts[:, :2] - head.center_world_m[:2], axis=1)
    beside = (r >= cfg.head_radius_m + cfg.cell_m) & (r <= cfg.peak_separation_m)
    top = head.center_world_m[2] + cfg.top_to_center_m
    return int(np.count_nonzero(pts[beside, 2] > top + cfg.cell_m)) >= cfg.min_head_points


def _supported(head: HeadObservation, frames: FrameSet, cameras: Mapping[str, Camera], names: Sequence[str], cfg: DepthPeopleConfig) -> bool:
    """Enough depth cameras support the head; one camera alone only for a standing head."""
    if len(head.cameras) < _needed_cameras(head, frames, cameras, names, cfg):
        return False
    return len(head.cameras) >= 2 or head.center_world_m[2] + cfg.top_to_center_m >= cfg.single_camera_min_top_m


def find_depth_heads(
    frames: FrameSet, cameras: Mapping[str, Camera], background: DepthBackground, cfg: DepthPeopleConfig,
    room_bounds_m: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[HeadObservation]:
    """Heads at the tops of the person columns in one frame-set's fused depth.

    First among the foreground against the session's background (people who move); then,
    with ``still_people``, among all depth points, for heads that the background absorbed
    (people who stood still for most of the samples): there only the head's shape speaks
    (a dome of a head's width that sticks out above everything around it).
    ``room_bounds_m`` (lo, hi) restricts the floor positions (default: where the cameras'
    views meet, as the 3D pose fusion uses)."""
    lo, hi = room_bounds_m if room_bounds_m is not None else _room_bounds(cameras)
    m = cfg.room_margin_m
    names = sorted(background.far_m)

    def band(pts: np.ndarray) -> np.ndarray:
        return (
            (pts[:, 0] >= lo[0] - m) & (pts[:, 0] <= hi[0] + m) & (pts[:, 1] >= lo[1] - m) & (pts[:, 1] <= hi[1] + m)
            & (pts[:, 2] >= cfg.min_point_height_m) & (pts[:, 2] <= cfg.max_head_top_m + 0.1)
        )  # fmt: skip

    pts, cam_idx = foreground_points_world(frames, cameras, background, cfg)
    keep = band(pts)
    out = [h for h in _heads_in_points(pts[keep], cam_idx[keep], names, cfg) if _supported(h, frames, cameras, names, cfg)]
    a_pts, a_idx = all_points_world(frames, cameras, background, cfg)
    keep = band(a_pts)
    a_pts, a_idx = _below_floating(a_pts[keep], a_idx[keep], cfg)
    out = [h for h in out if not _higher_beside(h, a_pts, cfg)]  # an arm beside a still head
    if cfg.still_people:
        for h in _heads_in_points(a_pts, a_idx, names, cfg):
            if len(h.cameras) >= cfg.still_min_cameras and all(np.linalg.norm(h.center_world_m[:2] - o.center_world_m[:2]) >= cfg.peak_separation_m for o in out):
                out.append(HeadObservation(h.center_world_m, h.source, h.cameras, 0.5 * h.score))
    return out


def sample_framesets(n_framesets: int, n_samples: int) -> list[int]:
    """``n_samples`` frame-set indices spread evenly over a session (for the background)."""
    if n_framesets <= 0:
        return []
    return sorted({int(round(x)) for x in np.linspace(0, n_framesets - 1, min(n_samples, n_framesets))})
