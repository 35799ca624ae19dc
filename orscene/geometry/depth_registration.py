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

The per-pixel rays of the depth model are computed once per intrinsics (and cached by
:func:`orscene.geometry.camera.depth_to_points_cam`'s ray table); precompute a
:class:`DepthRegistration` per camera to reuse its rotation and projection constants.
"""

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from orscene.errors import ShapeError
from orscene.geometry.camera import _pixel_rays
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


def prepare_depth_registration(camera: Camera) -> DepthRegistration:
    """Compute the depth rays and transform of ``camera`` once (an RGB-D camera)."""
    if camera.depth is None or camera.cam_from_depth is None:
        raise ShapeError(f"Camera[{camera.name}]", "an RGB-D camera (depth intrinsics and cam_from_depth)", "no depth")
    rays = _pixel_rays(camera.depth).reshape(-1, 2).astype(np.float64)
    T = camera.cam_from_depth
    rays_h = np.concatenate([rays, np.ones((rays.shape[0], 1))], axis=1)
    dirs = np.ascontiguousarray((T[:3, :3] @ rays_h.T).astype(np.float32))
    return DepthRegistration(camera.depth, camera.color, dirs, T[:3, 3].astype(np.float32))


def register_depth_to_color(
    depth_m: Float[np.ndarray, "Hd Wd"],
    reg: DepthRegistration | Camera,
    cfg: DepthRegistrationConfig = DepthRegistrationConfig(),
) -> Float[np.ndarray, "H W"]:
    """Depth of the depth sensor (float metres, or uint16 millimetres: ``z_m = d_mm / 1000``),
    registered to the colour grid: float32 metres ``(H, W)``, 0 = invalid.

    ``reg`` is a :class:`DepthRegistration` (fast, reuse it) or the Camera itself.
    """
    if isinstance(reg, Camera):
        reg = prepare_depth_registration(reg)
    dep, col = reg.depth, reg.color
    if depth_m.shape != (dep.height_px, dep.width_px):
        raise ShapeError("depth image", f"shape {(dep.height_px, dep.width_px)} of the depth sensor", depth_m.shape)
    z = depth_m.reshape(-1)
    if np.issubdtype(z.dtype, np.integer):
        zz = z.astype(np.float32) * np.float32(1e-3)  # z_m = d_mm / 1000
    else:
        zz = np.where(z > 0, z, 0).astype(np.float32)
    dirs, t = reg.dirs_cam, reg.t_m
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
    W, H = col.width_px, col.height_px
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
