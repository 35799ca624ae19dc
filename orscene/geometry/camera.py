"""Camera projection with Brown-Conrady distortion, vectorized in numpy.

The model (OpenCV's rational model, the Azure Kinect's) is written out in
``docs/conventions.md``. Every function takes points as ``(..., 3)`` or ``(..., 2)``
arrays and keeps the leading dimensions.
"""

import cv2
import numpy as np
from jaxtyping import Float

from orscene.types import Camera, Intrinsics

__all__ = [
    "transform_points",
    "distort_normalized",
    "undistort_normalized",
    "project_cam",
    "project_world",
    "unproject_px",
    "depth_to_points_cam",
    "depth_to_points_world",
    "look_at_world_from_cam",
    "sphere_box_px",
]


def transform_points(dst_from_src: Float[np.ndarray, "4 4"], points_src: Float[np.ndarray, "... 3"]) -> np.ndarray:
    """Apply a rigid 4x4 transform: ``p_dst = R p_src + t`` (keeps dtype of the points)."""
    T = np.asarray(dst_from_src)
    pts = np.asarray(points_src)
    out = pts @ T[:3, :3].T.astype(pts.dtype) + T[:3, 3].astype(pts.dtype)
    return out


def distort_normalized(xy: Float[np.ndarray, "... 2"], dist: Float[np.ndarray, "8"]) -> np.ndarray:
    """Map undistorted normalized coordinates ``(X/Z, Y/Z)`` to distorted ones.

    ``r2 = x^2 + y^2``, ``radial = (1 + k1 r2 + k2 r2^2 + k3 r2^3) / (1 + k4 r2 + k5 r2^2 + k6 r2^3)``,
    ``x_d = x radial + 2 p1 x y + p2 (r2 + 2 x^2)``, ``y_d = y radial + p1 (r2 + 2 y^2) + 2 p2 x y``.
    """
    k1, k2, p1, p2, k3, k4, k5, k6 = (float(c) for c in dist)
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def undistort_normalized(xy_d: Float[np.ndarray, "... 2"], dist: Float[np.ndarray, "8"], iterations: int = 20) -> np.ndarray:
    """Invert :func:`distort_normalized` by fixed-point iteration (as cv2.undistortPoints)."""
    xy_d = np.asarray(xy_d, dtype=np.float64)
    if not np.any(dist):
        return xy_d.copy()
    k1, k2, p1, p2, k3, k4, k5, k6 = (float(c) for c in dist)
    x, y = xy_d[..., 0].copy(), xy_d[..., 1].copy()
    for _ in range(iterations):
        r2 = x * x + y * y
        icdist = (1 + r2 * (k4 + r2 * (k5 + r2 * k6))) / (1 + r2 * (k1 + r2 * (k2 + r2 * k3)))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x = (xy_d[..., 0] - dx) * icdist
        y = (xy_d[..., 1] - dy) * icdist
    return np.stack([x, y], axis=-1)


def project_cam(intr: Intrinsics, points_cam_m: Float[np.ndarray, "... 3"]) -> tuple[np.ndarray, np.ndarray]:
    """Project camera-frame points to pixels.

    Returns ``(uv_px (..., 2) float64, z_m (...))``. Points with ``z <= 0`` get NaN pixels.
    """
    p = np.asarray(points_cam_m, dtype=np.float64)
    z = p[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = p[..., :2] / z[..., None]
    xy_d = distort_normalized(xy, intr.distortion)
    K = intr.K_px
    u = K[0, 0] * xy_d[..., 0] + K[0, 1] * xy_d[..., 1] + K[0, 2]
    v = K[1, 1] * xy_d[..., 1] + K[1, 2]
    uv = np.stack([u, v], axis=-1)
    uv[z <= 1e-9] = np.nan
    return uv, z


def project_world(cam: Camera, points_world_m: Float[np.ndarray, "... 3"]) -> tuple[np.ndarray, np.ndarray]:
    """Project world points into the colour image of ``cam``: ``(uv_px, z_m)``."""
    return project_cam(cam.color, transform_points(cam.cam_from_world, np.asarray(points_world_m, dtype=np.float64)))


def unproject_px(intr: Intrinsics, uv_px: Float[np.ndarray, "... 2"], z_m: Float[np.ndarray, "..."]) -> np.ndarray:
    """Inverse of :func:`project_cam`: pixels and depth (along +z) to camera-frame points."""
    uv = np.asarray(uv_px, dtype=np.float64)
    K = intr.K_px
    y_d = (uv[..., 1] - K[1, 2]) / K[1, 1]
    x_d = (uv[..., 0] - K[0, 2] - K[0, 1] * y_d) / K[0, 0]
    xy = undistort_normalized(np.stack([x_d, y_d], axis=-1), intr.distortion)
    z = np.asarray(z_m, dtype=np.float64)
    return np.concatenate([xy * z[..., None], z[..., None]], axis=-1)


def _intrinsics_key(intr: Intrinsics) -> tuple:
    """A hashable key of everything the ray tables and extents depend on."""
    return (intr.K_px.tobytes(), intr.distortion.tobytes(), intr.width_px, intr.height_px)


_RAY_TILE = 64
"""Pixels per side of a tile of the ray tables, computed tile by tile as needed."""
_RAY_TABLES: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _ray_table(intr: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """This process's ray table of ``intr``: ``(rays (H, W, 2) float32, NaN where not yet
    computed; done (tiles_y, tiles_x) bool)``."""
    key = _intrinsics_key(intr)
    table = _RAY_TABLES.get(key)
    if table is None:
        H, W, T = intr.height_px, intr.width_px, _RAY_TILE
        table = (np.full((H, W, 2), np.nan, np.float32), np.zeros((-(-H // T), -(-W // T)), bool))
        if len(_RAY_TABLES) > 16:
            _RAY_TABLES.clear()
        _RAY_TABLES[key] = table
    return table


def _pixel_rays_of(intr: Intrinsics, uv: np.ndarray) -> np.ndarray:
    """Undistorted normalized rays ``(N, 2)`` float32 of the pixels ``uv (N, 2)`` (OpenCV's
    iterative undistortion, run to convergence; each pixel independently of the others)."""
    return cv2.undistortPointsIter(
        np.asarray(uv, np.float64).reshape(-1, 1, 2), intr.K_px, intr.distortion, None, None,
        (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-9),
    ).reshape(-1, 2).astype(np.float32)  # fmt: skip


def _fill_ray_tiles(intr: Intrinsics, tiles: np.ndarray) -> None:
    """Undistort every pixel of the tiles ``(K, 2)`` (tile row, tile column) in one call."""
    rays, done = _ray_table(intr)
    T, H, W = _RAY_TILE, intr.height_px, intr.width_px
    spans = [(ty * T, min(H, ty * T + T), tx * T, min(W, tx * T + T)) for ty, tx in tiles]
    pts = np.concatenate([
        np.stack(np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64)), -1).reshape(-1, 2)
        for y0, y1, x0, x1 in spans
    ])  # fmt: skip
    und = _pixel_rays_of(intr, pts)
    k = 0
    for (y0, y1, x0, x1), (ty, tx) in zip(spans, tiles):
        n = (y1 - y0) * (x1 - x0)
        rays[y0:y1, x0:x1] = und[k : k + n].reshape(y1 - y0, x1 - x0, 2)
        done[ty, tx] = True
        k += n


def _pixel_rays(intr: Intrinsics) -> np.ndarray:
    """Undistorted normalized ray ``(x, y)`` for every pixel, ``(H, W, 2)`` float32 (cached:
    a pure function of the intrinsics). Read-only: the cache's own array."""
    _, done = _ray_table(intr)
    if not done.all():
        _fill_ray_tiles(intr, np.argwhere(~done))
    return _ray_table(intr)[0]


def _pixel_rays_at(intr: Intrinsics, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The rays ``(N, 2)`` float32 of the pixels ``(rows, cols)``, computing only the tiles
    of the ray table that they fall in (a point cloud near a few heads needs a fraction of
    the image; the whole table of a 1280x720 image costs ~0.3 s)."""
    rays, done = _ray_table(intr)
    tiles = np.unique(np.stack([rows // _RAY_TILE, cols // _RAY_TILE], 1), axis=0) if len(rows) else np.zeros((0, 2), int)
    if len(tiles):
        todo = tiles[~done[tiles[:, 0], tiles[:, 1]]]
        if len(todo):
            _fill_ray_tiles(intr, todo)
    return rays[rows, cols]


def depth_to_points_cam(intr: Intrinsics, depth_m: Float[np.ndarray, "H W"]) -> tuple[np.ndarray, np.ndarray]:
    """Unproject a depth map (z along +z, 0 = invalid) to camera-frame points.

    Returns ``(points_cam_m (N, 3) float32, pixel_index (N,) int64 into the flattened image)``.
    Formula: ``p = z * (x_u, y_u, 1)`` with ``(x_u, y_u)`` the undistorted ray of the pixel.
    """
    if depth_m.shape != (intr.height_px, intr.width_px):
        raise ValueError(f"depth map of shape {depth_m.shape} does not match intrinsics {intr.size_wh}")
    z = depth_m.reshape(-1)
    idx = np.nonzero(z > 0)[0]
    zz = z[idx].astype(np.float32)
    pts = np.empty((idx.size, 3), dtype=np.float32)
    pts[:, :2] = _pixel_rays_at(intr, idx // intr.width_px, idx % intr.width_px) * zz[:, None]
    pts[:, 2] = zz
    return pts, idx


def depth_to_points_world(cam: Camera, depth_m: Float[np.ndarray, "H W"]) -> tuple[np.ndarray, np.ndarray]:
    """Unproject a depth map registered to the colour camera into world points."""
    pts, idx = depth_to_points_cam(cam.color, depth_m)
    return transform_points(cam.world_from_cam, pts).astype(np.float32), idx


_EXTENT_CACHE: dict[tuple, tuple[float, float, float, float]] = {}


def _normalized_extent(intr: Intrinsics) -> tuple[float, float, float, float]:
    """Min x, max x, min y, max y of the undistorted rays of the image's pixels (cached).

    Undistortion maps the image one-to-one onto its rays, so the extremes lie on the
    image's border: every border pixel is undistorted, plus every 16th pixel inside as a
    safeguard; about 1/200 of the pixels of a 1280x720 image (~0.3 s less per camera)."""
    key = _intrinsics_key(intr)
    ext = _EXTENT_CACHE.get(key)
    if ext is None:
        W, H = intr.width_px, intr.height_px
        xs, ys = np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64)
        gx, gy = np.meshgrid(xs[::16], ys[::16])
        uv = np.concatenate([
            np.stack([xs, np.zeros(W)], 1), np.stack([xs, np.full(W, H - 1.0)], 1),
            np.stack([np.zeros(H), ys], 1), np.stack([np.full(H, W - 1.0), ys], 1),
            np.stack([gx.ravel(), gy.ravel()], 1),
        ])  # fmt: skip
        r = _pixel_rays_of(intr, uv)
        x, y = r[:, 0][np.isfinite(r[:, 0])], r[:, 1][np.isfinite(r[:, 1])]
        ext = (float(x.min()), float(x.max()), float(y.min()), float(y.max()))
        _EXTENT_CACHE[key] = ext
    return ext


def sphere_box_px(cam: Camera, centre_world_m, radius_m: float, near_m: float = 0.05, margin_px: int = 4) -> tuple[int, int, int, int] | None:
    """Colour-image box ``(x0, y0, x1, y1)`` (half-open pixel ranges) that holds the image of
    a world sphere; None when the sphere is wholly behind the camera or outside the image.

    The sphere's bounding cube seen from the camera bounds the sphere's rays (a convex set:
    its corners' rays bound it); that ray rectangle, clipped to the rays the image has, is
    distorted along its sampled outline and grown by ``margin_px``. A sphere reaching
    nearer than ``near_m`` to the camera's plane gives the whole image."""
    W, H = cam.color.width_px, cam.color.height_px
    c = transform_points(cam.cam_from_world, np.asarray(centre_world_m, dtype=np.float64).reshape(3))
    corners = c + radius_m * np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], np.float64)
    z = corners[:, 2]
    if (z <= 0).all():
        return None
    if (z <= near_m).any():
        return (0, 0, W, H)
    xn, yn = corners[:, 0] / z, corners[:, 1] / z
    ex0, ex1, ey0, ey1 = _normalized_extent(cam.color)
    x0, x1 = max(float(xn.min()), ex0), min(float(xn.max()), ex1)
    y0, y1 = max(float(yn.min()), ey0), min(float(yn.max()), ey1)
    if x1 < x0 or y1 < y0:
        return None
    n = 17
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    outline = np.concatenate([
        np.stack([xs, np.full(n, y0)], 1), np.stack([xs, np.full(n, y1)], 1),
        np.stack([np.full(n, x0), ys], 1), np.stack([np.full(n, x1), ys], 1),
    ])  # fmt: skip
    uv, _ = project_cam(cam.color, np.concatenate([outline, np.ones((len(outline), 1))], 1))
    bx0 = max(0, int(np.floor(uv[:, 0].min())) - margin_px)
    by0 = max(0, int(np.floor(uv[:, 1].min())) - margin_px)
    bx1 = min(W, int(np.ceil(uv[:, 0].max())) + 1 + margin_px)
    by1 = min(H, int(np.ceil(uv[:, 1].max())) + 1 + margin_px)
    if bx1 <= bx0 or by1 <= by0:
        return None
    return (bx0, by0, bx1, by1)


def look_at_world_from_cam(eye_world_m, target_world_m, up_world=(0.0, 0.0, 1.0)) -> np.ndarray:
    """An OpenCV camera pose at ``eye`` looking at ``target`` with image-up towards ``up``."""
    eye = np.asarray(eye_world_m, dtype=np.float64)
    z = np.asarray(target_world_m, dtype=np.float64) - eye
    z /= np.linalg.norm(z)
    up = np.asarray(up_world, dtype=np.float64)
    x = np.cross(z, up)  # image +x is right; +y (down) = z cross x
    if np.linalg.norm(x) < 1e-6:
        x = np.cross(z, np.array([0.0, 1.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, eye
    return T
