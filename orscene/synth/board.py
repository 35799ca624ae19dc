"""Render a ChArUco board (and a textured floor) into calibrated cameras, exactly.

For every colour pixel (supersampled ``s x s`` per pixel) the ray through the lens
(undistorted with the camera's own Brown-Conrady model) is intersected with the board plane
and the floor plane ``z = 0``; the nearest hit is shaded from the board texture
(``cv2.aruco.CharucoBoard.generateImage``, pre-filtered) or a procedural floor texture.
Depth is the z (along the optical axis) of the nearest hit, registered to the colour
camera; 0 where the ray hits nothing.
"""

import logging
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from orscene.types import Camera

__all__ = ["render_board_views", "board_texture", "board_placements", "marker_bit_px", "warn_unseen_board"]

log = logging.getLogger(__name__)

_TEXEL_M = 0.001
"""Board texture resolution (metres per texel)."""
_MARGIN_M = 0.02
"""White border printed around the squares."""


def board_texture(board_json: Path) -> tuple[np.ndarray, tuple[float, float]]:
    """Grey float32 texture of the printed board including its white margin, one texel per
    millimetre, and the board-frame position (metres) of texel (0, 0)'s outer corner."""
    from orscene.calibrate.board import load_board, make_charuco_board

    spec = load_board(board_json)
    board = make_charuco_board(spec)
    w_m, h_m = spec.size_m
    w_px, h_px = round(w_m / _TEXEL_M), round(h_m / _TEXEL_M)
    img = board.generateImage((w_px, h_px), marginSize=0, borderBits=1)
    m = round(_MARGIN_M / _TEXEL_M)
    img = cv2.copyMakeBorder(img, m, m, m, m, cv2.BORDER_CONSTANT, value=255)
    return img.astype(np.float32), (-m * _TEXEL_M, -m * _TEXEL_M)


def _floor_texture(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """A tiled, speckled floor (RGB float32 in [0, 255]), 1 texel = 1 cm."""
    tiles = ((np.arange(size)[:, None] // 50 + np.arange(size)[None, :] // 50) % 2).astype(np.float32)
    base = 120.0 + 25.0 * tiles
    speck = cv2.GaussianBlur(rng.normal(0.0, 18.0, (size, size)).astype(np.float32), (0, 0), 1.5)
    grey = base + speck
    tint = np.array([0.85, 1.0, 0.95], dtype=np.float32)
    return np.clip(grey[..., None] * tint, 0, 255)


def _sample(tex: np.ndarray, u: np.ndarray, v: np.ndarray, wrap: bool) -> np.ndarray:
    """Bilinear sample of ``tex`` (H, W[, C]) float32 at texel coordinates (centres at
    integers), via cv2.remap (replicated border, or wrapped for tiling textures)."""
    n = u.size
    cols = 4096
    rows = -(-n // cols)
    mu = np.zeros(rows * cols, np.float32)
    mv = np.zeros(rows * cols, np.float32)
    mu[:n], mv[:n] = u, v
    if wrap:  # tile: bring coordinates into [0, size) first
        mu[:n], mv[:n] = np.mod(u, tex.shape[1]), np.mod(v, tex.shape[0])
    border = cv2.BORDER_WRAP if wrap else cv2.BORDER_REPLICATE
    out = cv2.remap(tex, mu.reshape(rows, cols), mv.reshape(rows, cols), cv2.INTER_LINEAR, borderMode=border)
    return out.reshape(rows * cols, *tex.shape[2:])[:n]


def _rays(intr, s: int, cache: dict) -> np.ndarray:
    """Undistorted rays ``(x, y, 1)`` of ``s x s`` samples per pixel, (H, W, s*s, 3) float32."""
    key = (intr.K_px.tobytes(), intr.distortion.tobytes(), intr.width_px, intr.height_px, s)
    if key in cache:
        return cache[key]
    H, W = intr.height_px, intr.width_px
    offs = (np.arange(s) + 0.5) / s - 0.5
    us = (np.arange(W)[None, :, None, None] + offs[None, None, None, :]).astype(np.float64)
    vs = (np.arange(H)[:, None, None, None] + offs[None, None, :, None]).astype(np.float64)
    uv = np.stack(np.broadcast_arrays(us, vs), axis=-1).reshape(-1, 1, 2)
    und = cv2.undistortPointsIter(
        uv, intr.K_px, intr.distortion, None, None, (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-10)
    ).reshape(H, W, s * s, 2)
    rays = np.concatenate([und, np.ones(und.shape[:-1] + (1,))], axis=-1).astype(np.float32)
    cache[key] = rays
    return rays


def render_board_views(
    cameras: Mapping[str, Camera],
    board_json: Path,
    world_from_board: np.ndarray,
    rng: np.random.Generator,
    supersample: int = 2,
    noise_std: float = 2.0,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per camera ``(rgb uint8 (H, W, 3), depth_m float32 (H, W))`` of the board at
    ``world_from_board`` (board frame as in :mod:`orscene.calibrate.board`: z into the
    board, so a board lying face-up on the floor has ``world_from_board[:3, 2] = (0, 0, -1)``)
    above a textured floor at world z = 0. Board and floor are lit uniformly with a small
    per-camera gain; Gaussian noise of ``noise_std`` DN is added to the colour. Depth is
    exact (z along the optical axis, metres), 0 where nothing is hit."""
    tex, (ox, oy) = board_texture(Path(board_json))
    # area pre-filter: the supersampled footprint is ~1 texel or more at typical distances
    tex = cv2.GaussianBlur(tex, (0, 0), 0.7)
    floor_tex = _floor_texture(rng)
    board_from_world = np.linalg.inv(np.asarray(world_from_board, dtype=np.float64))
    th, tw = tex.shape
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    s = int(supersample)
    ray_cache: dict = {}
    for name, cam in cameras.items():
        intr = cam.color
        rays_cam = _rays(intr, s, ray_cache)  # (H, W, S, 3), unit camera z
        R, c = cam.world_from_cam[:3, :3], cam.world_from_cam[:3, 3]
        # floor z = 0: c_z + t d_z = 0, with d the world direction per unit camera z
        d_z = rays_cam @ R[2].astype(np.float32)
        # board plane in board coordinates: q(t) = board_from_cam @ (t * ray); plane q_z = 0
        board_from_cam = board_from_world @ cam.world_from_cam
        Rb, cb = board_from_cam[:3, :3].astype(np.float32), board_from_cam[:3, 3].astype(np.float32)
        d_b = rays_cam @ Rb.T
        with np.errstate(divide="ignore", invalid="ignore"):
            t_floor = np.float32(-c[2]) / d_z
            t_board = -cb[2] / d_b[..., 2]
        t_floor = np.where(t_floor > 1e-6, t_floor, np.inf).astype(np.float32)
        t_board = np.where(t_board > 1e-6, t_board, np.inf).astype(np.float32)
        tb = np.where(np.isfinite(t_board), t_board, 0.0)
        tu = (cb[0] + tb * d_b[..., 0] - ox) / _TEXEL_M - 0.5
        tv = (cb[1] + tb * d_b[..., 1] - oy) / _TEXEL_M - 0.5
        on_board = np.isfinite(t_board) & (tu >= -0.5) & (tu <= tw - 0.5) & (tv >= -0.5) & (tv <= th - 0.5)
        t_board = np.where(on_board, t_board, np.inf)
        use_board = t_board < t_floor
        use_floor = ~use_board & np.isfinite(t_floor)
        color = np.full(t_board.shape + (3,), 60.0, dtype=np.float32)  # background (nothing hit)
        if use_board.any():
            g = _sample(tex, tu[use_board], tv[use_board], wrap=False)
            color[use_board] = (25.0 + g * (210.0 / 255.0))[:, None]
        if use_floor.any():
            d_w = rays_cam[use_floor] @ R[:2].T.astype(np.float32)
            hf = c[:2].astype(np.float32) + t_floor[use_floor][:, None] * d_w
            color[use_floor] = _sample(floor_tex, hf[:, 0] / 0.01, hf[:, 1] / 0.01, wrap=True)
        rgb = color.mean(axis=2) * float(rng.uniform(0.9, 1.05))
        rgb = rgb + rng.normal(0.0, noise_std, rgb.shape)
        # depth: camera z of the hit = t (rays have unit camera z), averaged over the samples
        t_near = np.minimum(t_board, t_floor)
        hit = np.isfinite(t_near)
        n_hit = hit.sum(axis=2)
        depth = np.where(hit, t_near, 0.0).sum(axis=2) / np.maximum(n_hit, 1)
        depth = np.where(n_hit * 2 > s * s, depth, 0.0).astype(np.float32)
        out[name] = (np.clip(rgb + 0.5, 0, 255).astype(np.uint8), depth)
    return out


def board_placements(cameras: Mapping[str, Camera], size_m: tuple[float, float], n: int, rng: np.random.Generator, height_m: float = 1.25) -> list[np.ndarray]:
    """``world_from_board`` of ``n`` frame-sets of a calibration recording: the board held
    still above the table for a moment in each of a cycle of placements, its printed face
    turned towards two neighbouring cameras (by azimuth around the table) in turn, then
    towards each camera alone.

    A board lying flat on the table is seen at a grazing angle by the cameras that look
    across the room: its markers shrink to a pixel or two per bit and are not found (the
    cause of "never sees the calibration board" on synthetic sessions). Facing a pair of
    cameras, each sees the board at about half their angular separation, and consecutive
    pairs share a camera, so every camera is tied to the others through shared placements.
    ``n`` should be at least the number of cameras (one placement per pair).
    """
    names = list(cameras)
    w_m, h_m = size_m
    centre0 = np.array([0.0, 0.0, height_m])
    eyes = {k: np.asarray(cameras[k].world_from_cam[:3, 3], np.float64) for k in names}
    order = sorted(names, key=lambda k: np.arctan2(eyes[k][1] - centre0[1], eyes[k][0] - centre0[0]))
    targets = [(order[i], order[(i + 1) % len(order)]) for i in range(len(order))] if len(order) > 1 else []
    targets += [(k,) for k in order]
    out = []
    for i in range(n):
        group = targets[i % len(targets)]
        centre = centre0 + np.array([rng.uniform(-0.15, 0.15), rng.uniform(-0.1, 0.1), rng.uniform(-0.05, 0.05)])
        normal = sum((eyes[k] - centre) / np.linalg.norm(eyes[k] - centre) for k in group)
        normal /= np.linalg.norm(normal)
        z = -normal  # board z points into the board, away from the cameras it faces
        x = np.cross(np.array([0.0, 0.0, 1.0]), normal)
        if np.linalg.norm(x) < 1e-6:  # facing straight up
            x = np.array([1.0, 0.0, 0.0])
        x /= np.linalg.norm(x)
        a = rng.uniform(-0.3, 0.3)  # a little roll about the normal
        x = np.cos(a) * x + np.sin(a) * np.cross(normal, x)
        y = np.cross(z, x)
        T = np.eye(4)
        T[:3, :3] = np.stack([x, y, z], axis=1)
        T[:3, 3] = centre - T[:3, :3] @ np.array([w_m / 2, h_m / 2, 0.0])
        out.append(T)
    return out


def marker_bit_px(camera: Camera, world_from_board: np.ndarray, spec) -> float:
    """Smallest side, in pixels, of one marker bit (cell) of ``spec``'s board at
    ``world_from_board`` as ``camera`` sees it (the board's centre cell, foreshortening
    included); 0 when the board is behind the camera or faces away from it. OpenCV finds
    markers down to about 2 px per bit."""
    from orscene.geometry.camera import project_world

    bits = int(cv2.aruco.getPredefinedDictionary(spec.dictionary).markerSize) + 2  # with the black border
    cell = spec.marker_length_m / bits
    w_m, h_m = spec.size_m
    local = np.array([[w_m / 2, h_m / 2, 0, 1], [w_m / 2 + cell, h_m / 2, 0, 1], [w_m / 2, h_m / 2 + cell, 0, 1]])
    pts = (np.asarray(world_from_board, np.float64) @ local.T).T[:, :3]
    to_cam = camera.world_from_cam[:3, 3] - pts[0]
    if float(np.dot(-world_from_board[:3, 2], to_cam)) <= 0:  # the printed face looks away
        return 0.0
    uv, zc = project_world(camera, pts)
    if (zc <= 0).any() or not np.isfinite(uv).all():
        return 0.0
    return float(min(np.linalg.norm(uv[1] - uv[0]), np.linalg.norm(uv[2] - uv[0])))


def warn_unseen_board(cameras: Mapping[str, Camera], placements: list[np.ndarray], spec, min_bit_px: float = 2.0) -> list[str]:
    """Log one warning per camera in which no placement shows the board's marker bits at
    ``min_bit_px`` or more (calibration would say it "never sees the calibration board");
    return those cameras."""
    unseen = []
    for name, cam in cameras.items():
        best = max((marker_bit_px(cam, T, spec) for T in placements), default=0.0)
        if best < min_bit_px:
            unseen.append(name)
            log.warning(
                "camera %s sees the board's marker bits at %.1f px at best (about %.0f needed to detect them): "
                "use a larger board (square and marker length) or a higher --width", name, best, min_bit_px,
            )  # fmt: skip
    return unseen
