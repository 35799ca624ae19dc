"""Register a depth-sensor image into the colour camera's pixel grid (our own code, no SDK).

For every valid depth pixel ``(u_d, v_d)`` with depth ``z_d`` (metres along the depth
sensor's +z)::

    p_depth = z_d * (x_u, y_u, 1)            # (x_u, y_u): undistorted ray of the pixel (depth model)
    p_cam   = cam_from_depth @ p_depth       # rigid, metres
    (u, v)  = project(color model, p_cam)    # Brown-Conrady, pixel centres at integers
    out[v, u] = min over points landing there of p_cam.z   (z-buffer: nearest wins)

A depth pixel is a small patch, usually larger than a colour pixel (the Azure Kinect's
NFOV depth pixel covers about 1.2 x 1.2 pixels of the 720p colour image), so each point
is splatted onto the 2 x 2 colour pixels around its projection; single-pixel holes that
remain between valid pixels on both opposite sides are then filled with the nearer of
the two (edges are not grown). The result is float32 metres on the colour grid, 0 where
nothing landed.

The per-pixel rays of the depth model come from the depth sensor's
:class:`~orscene.geometry.camera.LensField` (a session's :class:`~orscene.geometry.rig.CameraRig`
keeps it, and the :class:`DepthRegistration`, once per camera); precompute a
:class:`DepthRegistration` per camera to reuse its rotation and projection constants.

**Regions of interest.** A caller that needs depth only in a few colour boxes (around the
heads, for the visibility test) passes them as ``roi_px``: only the depth pixels that can
land in those boxes are registered, and the result there equals the whole registration
bit for bit (0 elsewhere). Which depth pixels can land in a box follows from the frame's
range of valid depths: the box's viewing frustum between the nearest and the farthest
depth, projected into the depth camera (convex, so its corners bound it), selects blocks
of depth pixels whose rays fall inside it.
"""

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from orscene.errors import ShapeError
from orscene.geometry.camera import LensField, lens_field, undistort_normalized
from orscene.types import Camera, Intrinsics

__all__ = ["DepthRegistrationConfig", "DepthRegistration", "prepare_depth_registration", "register_depth_to_color"]


@dataclass(frozen=True)
class DepthRegistrationConfig:
    """How depth is splatted into the colour grid."""

    splat_2x2: bool = True
    """Splat each depth point onto the 2x2 colour pixels around its projection (True) or
    only the nearest pixel (False)."""
    fill_gaps: bool = True
    """Fill single-pixel holes that have valid neighbours on both opposite sides."""
    min_depth_m: float = 0.05
    """Points nearer than this to the colour camera are dropped."""


@dataclass(frozen=True)
class DepthRegistration:
    """Precomputed constants of one camera's depth-to-colour registration."""

    depth: Intrinsics
    color: Intrinsics
    dirs_cam: Float[np.ndarray, "3 N"]
    """``R (x_u, y_u, 1)`` for every depth pixel (flattened row-major): its undistorted ray
    rotated into the colour camera frame, float32."""
    t_m: Float[np.ndarray, "3"]
    """Translation of ``cam_from_depth``, metres, float32."""
    depth_from_cam: Float[np.ndarray, "4 4"]
    """Inverse of ``cam_from_depth`` (float64), for regions of interest."""
    block_rays: Float[np.ndarray, "By Bx 4"]
    """Per block of ``_BLOCK`` x ``_BLOCK`` depth pixels: min x, max x, min y, max y of
    their undistorted rays (a block without valid rays never intersects anything)."""
    dir_z_range: tuple[float, float]
    """Min and max over the depth pixels of ``dirs_cam[2]``: a point at depth-sensor depth
    ``z_d`` lies at colour depth ``z_d * dirs_cam[2] + t_m[2]``."""


_BLOCK = 16
"""Depth pixels per side of a block of the region-of-interest lookup."""
_ROI_GROW_PX = 3
"""A colour box is registered over itself grown by this many pixels: its pixels take the
2x2 splats of points landing just outside, and the gap fill looks one pixel further."""


def prepare_depth_registration(camera: Camera, lens: LensField | None = None) -> DepthRegistration:
    """Compute the depth rays and transform of ``camera`` once (an RGB-D camera); ``lens``:
    the depth sensor's :class:`LensField` (its ray table), built for the call when None."""
    if camera.depth is None or camera.cam_from_depth is None:
        raise ShapeError(f"Camera[{camera.name}]", "an RGB-D camera (depth intrinsics and cam_from_depth)", "no depth")
    rays2d = lens_field(camera.depth, lens).pixel_rays()
    rays = rays2d.reshape(-1, 2).astype(np.float64)
    T = camera.cam_from_depth
    rays_h = np.concatenate([rays, np.ones((rays.shape[0], 1))], axis=1)
    dirs = np.ascontiguousarray((T[:3, :3] @ rays_h.T).astype(np.float32))
    # block lookup: pad the ray table to whole blocks with NaN, then reduce per block
    h, w = rays2d.shape[:2]
    bh, bw = -(-h // _BLOCK), -(-w // _BLOCK)
    padded = np.full((bh * _BLOCK, bw * _BLOCK, 2), np.nan, np.float64)
    padded[:h, :w] = rays2d
    blocks = padded.reshape(bh, _BLOCK, bw, _BLOCK, 2).transpose(0, 2, 1, 3, 4).reshape(bh, bw, -1, 2)
    finite = np.isfinite(blocks).all(-1)
    lo = np.where(finite[..., None], blocks, np.inf).min(2)
    hi = np.where(finite[..., None], blocks, -np.inf).max(2)
    block_rays = np.stack([lo[..., 0], hi[..., 0], lo[..., 1], hi[..., 1]], axis=-1)
    dz = dirs[2][np.isfinite(dirs[2])]
    return DepthRegistration(
        camera.depth, camera.color, dirs, T[:3, 3].astype(np.float32),
        np.linalg.inv(T), block_rays, (float(dz.min()), float(dz.max())),
    )  # fmt: skip


def register_depth_to_color(
    depth_m: Float[np.ndarray, "Hd Wd"],
    reg: DepthRegistration | Camera,
    cfg: DepthRegistrationConfig = DepthRegistrationConfig(),
    roi_px=None,
) -> Float[np.ndarray, "H W"]:
    """Depth of the depth sensor (float metres, or uint16 millimetres: ``z_m = d_mm / 1000``),
    registered to the colour grid: float32 metres ``(H, W)``, 0 = invalid.

    ``reg`` is a :class:`DepthRegistration` (fast, reuse it) or the Camera itself.
    ``roi_px``: colour boxes ``(x0, y0, x1, y1)`` (half-open pixel ranges) where depth is
    needed; inside them the result equals the whole registration, outside it is 0. None
    registers the whole image.
    """
    if isinstance(reg, Camera):
        reg = prepare_depth_registration(reg)
    dep, col = reg.depth, reg.color
    if depth_m.shape != (dep.height_px, dep.width_px):
        raise ShapeError("depth image", f"shape {(dep.height_px, dep.width_px)} of the depth sensor", depth_m.shape)
    W, H = col.width_px, col.height_px
    if roi_px is None:
        return _register_window(_to_metres(depth_m.reshape(-1)), reg.dirs_cam, reg, cfg, (0, 0, W, H))
    out = np.zeros((H, W), np.float32)
    boxes = []
    for b in roi_px:
        x0, y0, x1, y1 = max(0, int(b[0])), max(0, int(b[1])), min(W, int(b[2])), min(H, int(b[3]))
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1, y1))
    if not boxes:
        return out
    z_lo, z_hi = _valid_range_m(depth_m)
    if z_hi <= 0:
        return out
    dirs3 = reg.dirs_cam.reshape(3, dep.height_px, dep.width_px)
    g = _ROI_GROW_PX
    for x0, y0, x1, y1 in boxes:
        win = (max(0, x0 - g), max(0, y0 - g), min(W, x1 + g), min(H, y1 + g))
        rows, cols = _depth_window(reg, win, z_lo, z_hi, cfg.min_depth_m)
        if rows.stop <= rows.start or cols.stop <= cols.start:
            continue
        zz = _to_metres(np.ascontiguousarray(depth_m[rows, cols]).reshape(-1))
        local = _register_window(zz, dirs3[:, rows, cols].reshape(3, -1), reg, cfg, win)
        out[y0:y1, x0:x1] = local[y0 - win[1] : y1 - win[1], x0 - win[0] : x1 - win[0]]
    return out


def _to_metres(z: np.ndarray) -> np.ndarray:
    if np.issubdtype(z.dtype, np.integer):
        return z.astype(np.float32) * np.float32(1e-3)  # z_m = d_mm / 1000
    return np.where(z > 0, z, 0).astype(np.float32)


def _valid_range_m(depth: np.ndarray) -> tuple[float, float]:
    """Smallest and largest valid depth of a frame, metres ((0, 0) when none is valid)."""
    z = depth[depth > 0] if np.issubdtype(depth.dtype, np.integer) else depth[np.isfinite(depth) & (depth > 0)]
    if z.size == 0:
        return 0.0, 0.0
    s = 1e-3 if np.issubdtype(depth.dtype, np.integer) else 1.0
    return float(z.min()) * s, float(z.max()) * s


def _depth_window(reg: DepthRegistration, win: tuple[int, int, int, int], z_lo: float, z_hi: float, min_depth_m: float) -> tuple[slice, slice]:
    """Rows and columns of the depth image holding every pixel that can land in the colour
    window ``win`` when its depth lies in ``[z_lo, z_hi]`` (depth-sensor metres).

    The window's boundary (one pixel beyond its pixel centres, sampled densely enough for
    the lens distortion) is undistorted into rays; the frustum between the nearest and the
    farthest colour depth is convex, so the rays of the depth pixels it holds lie within the
    bounding box of its corners seen from the depth camera. Blocks of depth pixels whose
    rays meet that box are kept, rounded out to whole blocks."""
    dep, col = reg.depth, reg.color
    full = slice(0, dep.height_px), slice(0, dep.width_px)
    dz_lo, dz_hi = reg.dir_z_range
    if dz_lo <= 0:  # some depth ray points sideways or back in the colour frame: no bound
        return full
    t_z = float(reg.t_m[2])
    zc_lo = max(z_lo * dz_lo + t_z, min_depth_m)  # colour-frame depths the frame can hold
    zc_hi = z_hi * dz_hi + t_z
    if zc_hi <= zc_lo:
        return slice(0, 0), slice(0, 0)
    x0, y0, x1, y1 = win
    n = 9
    us = np.linspace(x0 - 1.0, x1, n)
    vs = np.linspace(y0 - 1.0, y1, n)
    edge = np.concatenate([
        np.stack([us, np.full(n, y0 - 1.0)], 1), np.stack([us, np.full(n, float(y1))], 1),
        np.stack([np.full(n, x0 - 1.0), vs], 1), np.stack([np.full(n, float(x1)), vs], 1),
    ])  # fmt: skip
    K = col.K_px
    yd = (edge[:, 1] - K[1, 2]) / K[1, 1]
    xd = (edge[:, 0] - K[0, 2] - K[0, 1] * yd) / K[0, 0]
    xy = undistort_normalized(np.stack([xd, yd], 1), col.distortion)
    rays = np.concatenate([xy, np.ones((len(xy), 1))], 1)
    pts_c = np.concatenate([rays * zc_lo, rays * zc_hi])
    T = reg.depth_from_cam
    pts_d = pts_c @ T[:3, :3].T + T[:3, 3]
    if not np.isfinite(pts_d).all() or (pts_d[:, 2] <= 1e-6).any():
        return full
    nx, ny = pts_d[:, 0] / pts_d[:, 2], pts_d[:, 1] / pts_d[:, 2]
    eps = 1e-4  # rounding of the float32 ray table
    b = reg.block_rays
    hit = (b[..., 0] <= nx.max() + eps) & (b[..., 1] >= nx.min() - eps) & (b[..., 2] <= ny.max() + eps) & (b[..., 3] >= ny.min() - eps)
    if not hit.any():
        return slice(0, 0), slice(0, 0)
    by = np.nonzero(hit.any(1))[0]
    bx = np.nonzero(hit.any(0))[0]
    return (
        slice(int(by[0]) * _BLOCK, min(dep.height_px, (int(by[-1]) + 1) * _BLOCK)),
        slice(int(bx[0]) * _BLOCK, min(dep.width_px, (int(bx[-1]) + 1) * _BLOCK)),
    )


def _register_window(
    zz: np.ndarray, dirs: np.ndarray, reg: DepthRegistration, cfg: DepthRegistrationConfig, win: tuple[int, int, int, int]
) -> np.ndarray:
    """Register depth points (``zz`` metres along the depth sensor's +z, ``dirs`` their rays
    in the colour frame) into the colour window ``win``; (y1 - y0, x1 - x0) float32."""
    col = reg.color
    t = reg.t_m
    # p_cam = R (z x_u, z y_u, z) + t = z (R (x_u, y_u, 1)) + t, for all pixels at once (no gather);
    # invalid pixels (z = 0) land at p_cam = t, nearer than min_depth_m, and are dropped here
    zc = zz * dirs[2] + t[2]
    keep = (zc > cfg.min_depth_m) & (zz > 0)
    zz_k = zz[keep]
    x = zz_k * dirs[0][keep] + t[0]
    y = zz_k * dirs[1][keep] + t[1]
    zc = zc[keep]
    xn = x / zc
    yn = y / zc
    k1, k2, p1, p2, k3, k4, k5, k6 = (np.float32(c) for c in col.distortion)
    r2 = xn * xn + yn * yn
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xy2 = 2 * xn * yn
    xd = xn * radial + p1 * xy2 + p2 * (r2 + 2 * xn * xn)
    yd = yn * radial + p1 * (r2 + 2 * yn * yn) + p2 * xy2
    K = col.K_px
    u = np.float32(K[0, 0]) * xd + np.float32(K[0, 1]) * yd + np.float32(K[0, 2])
    v = np.float32(K[1, 1]) * yd + np.float32(K[1, 2])
    X0, Y0, X1, Y1 = win
    W, H = X1 - X0, Y1 - Y0
    # z-buffer with a 1-pixel border (index (v + 1) * (W + 2) + (u + 1)), cropped at the end,
    # so that one bounds test per point covers all its splat offsets
    Wp = W + 2
    if cfg.splat_2x2:
        # the 2x2 pixel centres surrounding (u, v): columns floor(u), floor(u)+1, rows likewise
        u0 = np.floor(u).astype(np.intp)
        v0 = np.floor(v).astype(np.intp)
        offsets = (0, 1, Wp, Wp + 1)
    else:
        u0 = np.rint(u).astype(np.intp)
        v0 = np.rint(v).astype(np.intp)
        offsets = (0,)
    if X0 or Y0:
        u0 -= X0
        v0 -= Y0
    inside = (u0 >= -1) & (u0 < W) & (v0 >= -1) & (v0 < H)
    idx = (v0[inside] + 1) * Wp + (u0[inside] + 1)
    zin = zc[inside]
    buf = np.full((H + 2) * Wp, np.inf, dtype=np.float32)
    for off in offsets:
        np.minimum.at(buf, idx + off if off else idx, zin)
    out = np.ascontiguousarray(buf.reshape(H + 2, Wp)[1:-1, 1:-1])
    out[np.isinf(out)] = 0.0
    if cfg.fill_gaps:
        out = _fill_single_pixel_gaps(out)
    return out


def _fill_single_pixel_gaps(d: np.ndarray) -> np.ndarray:
    """Fill zero pixels whose left and right (or upper and lower) neighbours are both valid,
    with the nearer of the pair (so a gap inside a surface closes and edges do not grow)."""
    hole = d == 0
    out = d.copy()
    left, right = d[:, :-2], d[:, 2:]
    np.copyto(out[:, 1:-1], np.minimum(left, right), where=hole[:, 1:-1] & (left > 0) & (right > 0))
    up, down = d[:-2, :], d[2:, :]
    inner = out[1:-1, :]
    current = np.where(inner > 0, inner, np.float32(np.inf))  # a horizontal fill may already be there
    np.copyto(inner, np.minimum(current, np.minimum(up, down)), where=hole[1:-1, :] & (up > 0) & (down > 0))
    return out
