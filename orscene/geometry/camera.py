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
    "LensField",
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


_RAY_TILE = 64
"""Pixels per side of a tile of the ray tables, computed tile by tile as needed."""


def _pixel_rays_of(intr: Intrinsics, uv: np.ndarray) -> np.ndarray:
    """Undistorted normalized rays ``(N, 2)`` float32 of the pixels ``uv (N, 2)`` (OpenCV's
    iterative undistortion, run to convergence; each pixel independently of the others)."""
    return cv2.undistortPointsIter(
        np.asarray(uv, np.float64).reshape(-1, 1, 2), intr.K_px, intr.distortion, None, None,
        (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-9),
    ).reshape(-1, 2).astype(np.float32)  # fmt: skip


class LensField:
    """What one image's lens model implies, built lazily and kept for as long as the object
    lives: the undistorted ray of every pixel (tile by tile), the image's ray extent, and
    the one rule of which rays the lens model is valid for (:meth:`valid`).

    Pure functions of ``intr``; a session keeps one per image in its
    :class:`orscene.geometry.rig.CameraRig` (cameras are static), a caller without one
    builds one for the call (correct, only slower when called again).

    >>> import numpy as np
    >>> intr = Intrinsics(np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]), np.zeros(8), 640, 480)
    >>> lens = LensField(intr)
    >>> [round(v, 3) for v in lens.extent]
    [-0.64, 0.638, -0.48, 0.478]
    >>> lens.valid(np.array([[0.0, 0.0], [2.0, 0.0]])).tolist()
    [True, False]
    """

    def __init__(self, intr: Intrinsics) -> None:
        self.intr = intr
        H, W, T = intr.height_px, intr.width_px, _RAY_TILE
        self._rays: np.ndarray | None = None  # (H, W, 2) float32, NaN where not computed yet
        self._done = np.zeros((-(-H // T), -(-W // T)), bool)
        self._extent: tuple[float, float, float, float] | None = None
        self._valid_r2: float | None = None

    # -- per-pixel rays ------------------------------------------------------------------
    def _fill_tiles(self, tiles: np.ndarray) -> None:
        """Undistort every pixel of the tiles ``(K, 2)`` (tile row, tile column) in one call."""
        intr, T = self.intr, _RAY_TILE
        H, W = intr.height_px, intr.width_px
        if self._rays is None:
            self._rays = np.full((H, W, 2), np.nan, np.float32)
        spans = [(ty * T, min(H, ty * T + T), tx * T, min(W, tx * T + T)) for ty, tx in tiles]
        pts = np.concatenate([
            np.stack(np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64)), -1).reshape(-1, 2)
            for y0, y1, x0, x1 in spans
        ])  # fmt: skip
        und = _pixel_rays_of(intr, pts)
        k = 0
        for (y0, y1, x0, x1), (ty, tx) in zip(spans, tiles):
            n = (y1 - y0) * (x1 - x0)
            self._rays[y0:y1, x0:x1] = und[k : k + n].reshape(y1 - y0, x1 - x0, 2)
            self._done[ty, tx] = True
            k += n

    def pixel_rays(self) -> Float[np.ndarray, "H W 2"]:
        """Undistorted normalized ray ``(x, y)`` of every pixel, ``(H, W, 2)`` float32.
        Read-only: this object's own table."""
        if not self._done.all():
            self._fill_tiles(np.argwhere(~self._done))
        return self._rays

    def pixel_rays_at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The rays ``(N, 2)`` float32 of the pixels ``(rows, cols)``, computing only the
        tiles of the table that they fall in (a point cloud near a few heads needs a fraction
        of the image; the whole table of a 1280x720 image costs ~0.3 s)."""
        tiles = np.unique(np.stack([rows // _RAY_TILE, cols // _RAY_TILE], 1), axis=0) if len(rows) else np.zeros((0, 2), int)
        if len(tiles):
            todo = tiles[~self._done[tiles[:, 0], tiles[:, 1]]]
            if len(todo):
                self._fill_tiles(todo)
        if self._rays is None:
            return np.zeros((0, 2), np.float32)
        return self._rays[rows, cols]

    @property
    def tiles_done(self) -> int:
        """How many tiles of the ray table are computed so far."""
        return int(self._done.sum())

    # -- the image's rays and the lens model's valid field -------------------------------
    @property
    def extent(self) -> tuple[float, float, float, float]:
        """Min x, max x, min y, max y of the undistorted rays of the image's pixels.

        Undistortion maps the image one-to-one onto its rays, so the extremes lie on the
        image's border: every border pixel is undistorted, plus every 16th pixel inside as
        a safeguard; about 1/200 of the pixels of a 1280x720 image (~0.3 s less per camera)."""
        if self._extent is None:
            W, H = self.intr.width_px, self.intr.height_px
            xs, ys = np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64)
            gx, gy = np.meshgrid(xs[::16], ys[::16])
            uv = np.concatenate([
                np.stack([xs, np.zeros(W)], 1), np.stack([xs, np.full(W, H - 1.0)], 1),
                np.stack([np.zeros(H), ys], 1), np.stack([np.full(H, W - 1.0), ys], 1),
                np.stack([gx.ravel(), gy.ravel()], 1),
            ])  # fmt: skip
            r = _pixel_rays_of(self.intr, uv)
            x, y = r[:, 0][np.isfinite(r[:, 0])], r[:, 1][np.isfinite(r[:, 1])]
            self._extent = (float(x.min()), float(x.max()), float(y.min()), float(y.max()))
        return self._extent

    @property
    def valid_r2(self) -> float:
        """Largest squared undistorted radius ``(X/Z)^2 + (Y/Z)^2`` the image sees, x 1.2
        (from 17 samples along each side of the border).

        Beyond it the rational distortion model is not fitted and can fold far-away points
        back into the image: see :meth:`valid`."""
        if self._valid_r2 is None:
            K, W, H = self.intr.K_px, self.intr.width_px, self.intr.height_px
            t = np.linspace(0.0, 1.0, 17)
            border = np.concatenate([
                np.column_stack([t * (W - 1), np.zeros_like(t)]), np.column_stack([t * (W - 1), np.full_like(t, H - 1)]),
                np.column_stack([np.zeros_like(t), t * (H - 1)]), np.column_stack([np.full_like(t, W - 1), t * (H - 1)]),
            ])  # fmt: skip
            xy_d = np.column_stack([(border[:, 0] - K[0, 2]) / K[0, 0], (border[:, 1] - K[1, 2]) / K[1, 1]])
            xy = undistort_normalized(xy_d, self.intr.distortion)
            self._valid_r2 = float(1.2 * (xy**2).sum(1).max())
        return self._valid_r2

    def valid(self, xy: Float[np.ndarray, "... 2"]) -> np.ndarray:
        """The lens-validity rule: True where the undistorted normalized ray ``xy`` lies in
        the field the lens model is valid for (``x^2 + y^2 <= valid_r2``). Projections of
        rays outside it are not trusted (the rational model may fold them into the image)."""
        xy = np.asarray(xy)
        return self.valid_radius2(xy[..., 0] ** 2 + xy[..., 1] ** 2)

    def valid_radius2(self, r2):
        """:meth:`valid` given the squared radius ``r2 = x^2 + y^2`` of the rays (a numpy
        array or a torch tensor, for callers that have computed it already)."""
        return r2 <= self.valid_r2


def _same_intrinsics(a: Intrinsics, b: Intrinsics) -> bool:
    return a.size_wh == b.size_wh and np.array_equal(a.K_px, b.K_px) and np.array_equal(a.distortion, b.distortion)


def lens_field(intr: Intrinsics, lens: "LensField | None" = None) -> LensField:
    """``lens`` when given (it must be of ``intr``), else a new :class:`LensField` of ``intr``."""
    if lens is None:
        return LensField(intr)
    if lens.intr is not intr and not _same_intrinsics(lens.intr, intr):
        raise ValueError(f"lens tables of {lens.intr.size_wh} intrinsics given for other intrinsics {intr.size_wh}")
    return lens


def depth_to_points_cam(intr: Intrinsics, depth_m: Float[np.ndarray, "H W"], lens: LensField | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unproject a depth map (z along +z, 0 = invalid) to camera-frame points (``lens``: the
    session's ray tables of ``intr``, see :class:`LensField`; built for the call when None).

    Returns ``(points_cam_m (N, 3) float32, pixel_index (N,) int64 into the flattened image)``.
    Formula: ``p = z * (x_u, y_u, 1)`` with ``(x_u, y_u)`` the undistorted ray of the pixel.
    """
    if depth_m.shape != (intr.height_px, intr.width_px):
        raise ValueError(f"depth map of shape {depth_m.shape} does not match intrinsics {intr.size_wh}")
    z = depth_m.reshape(-1)
    idx = np.nonzero(z > 0)[0]
    zz = z[idx].astype(np.float32)
    pts = np.empty((idx.size, 3), dtype=np.float32)
    pts[:, :2] = lens_field(intr, lens).pixel_rays_at(idx // intr.width_px, idx % intr.width_px) * zz[:, None]
    pts[:, 2] = zz
    return pts, idx


def depth_to_points_world(cam: Camera, depth_m: Float[np.ndarray, "H W"], lens: LensField | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unproject a depth map registered to the colour camera into world points."""
    pts, idx = depth_to_points_cam(cam.color, depth_m, lens)
    return transform_points(cam.world_from_cam, pts).astype(np.float32), idx


def sphere_box_px(
    cam: Camera, centre_world_m, radius_m: float, near_m: float = 0.05, margin_px: int = 4, lens: LensField | None = None
) -> tuple[int, int, int, int] | None:
    """Colour-image box ``(x0, y0, x1, y1)`` (half-open pixel ranges) that holds the image of
    a world sphere; None when the sphere is wholly behind the camera or outside the image.

    The sphere's bounding cube seen from the camera bounds the sphere's rays (a convex set:
    its corners' rays bound it); that ray rectangle, clipped to the rays the image has, is
    distorted along its sampled outline and grown by ``margin_px``. A sphere reaching
    nearer than ``near_m`` to the camera's plane gives the whole image. ``lens``: the
    colour image's :class:`LensField` (for its ray extent; built for the call when None)."""
    W, H = cam.color.width_px, cam.color.height_px
    c = transform_points(cam.cam_from_world, np.asarray(centre_world_m, dtype=np.float64).reshape(3))
    corners = c + radius_m * np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], np.float64)
    z = corners[:, 2]
    if (z <= 0).all():
        return None
    if (z <= near_m).any():
        return (0, 0, W, H)
    xn, yn = corners[:, 0] / z, corners[:, 1] / z
    ex0, ex1, ey0, ey1 = lens_field(cam.color, lens).extent
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
