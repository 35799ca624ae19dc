"""Composite rendered face patches into an image (Poisson image editing)."""

import logging
from collections.abc import Sequence

import cv2
import numpy as np
import scipy.fft

from orscene.errors import ShapeError
from orscene.render._fill import push_pull_fill
from orscene.render.config import BlendMode, RenderConfig
from orscene.types import FacePatch

__all__ = ["blend_faces", "solve_poisson"]

log = logging.getLogger(__name__)

_PAD = 3  # seamlessClone ignores the outermost mask pixels of its input: keep them empty


def solve_poisson(src: np.ndarray, dst: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson image editing on a rectangle: the image whose gradients are ``src``'s on edges
    touching ``mask`` and ``dst``'s elsewhere, equal to ``dst`` on the rectangle's border.

    Solved exactly (5-point Laplacian, Dirichlet border) with a type-I discrete sine
    transform: ``u = IDST(DST(rhs) / (lambda_x + lambda_y))``, ``lambda_k = 2 cos(pi k / (n + 1)) - 2``.
    ``src``, ``dst``: float ``(h, w, C)``; ``mask``: bool ``(h, w)``. Returns float32 ``(h, w, C)``.
    """
    src = src.astype(np.float32, copy=False)
    dst = dst.astype(np.float32, copy=False)
    h, w = mask.shape
    if h < 3 or w < 3:
        return dst.copy()
    # guidance field v: forward differences, src where an edge touches the mask
    gx = np.where((mask[:, :-1] | mask[:, 1:])[..., None], np.diff(src, axis=1), np.diff(dst, axis=1))
    gy = np.where((mask[:-1] | mask[1:])[..., None], np.diff(src, axis=0), np.diff(dst, axis=0))
    div = np.zeros_like(dst)
    div[:, :-1] += gx
    div[:, 1:] -= gx
    div[:-1] += gy
    div[1:] -= gy
    # known border moved to the right-hand side of lap(u) = div for the interior unknowns
    rhs = div[1:-1, 1:-1].copy()
    rhs[0] -= dst[0, 1:-1]
    rhs[-1] -= dst[-1, 1:-1]
    rhs[:, 0] -= dst[1:-1, 0]
    rhs[:, -1] -= dst[1:-1, -1]
    ny, nx = h - 2, w - 2
    lam = (2 * np.cos(np.pi * np.arange(1, ny + 1) / (ny + 1)) - 2)[:, None] + (
        2 * np.cos(np.pi * np.arange(1, nx + 1) / (nx + 1)) - 2
    )[None, :]
    coef = scipy.fft.dstn(rhs, type=1, axes=(0, 1), workers=1)
    u = scipy.fft.idstn(coef / lam[..., None].astype(np.float32), type=1, axes=(0, 1), workers=1)
    out = dst.copy()
    out[1:-1, 1:-1] = u
    return out


def _attenuate(src: np.ndarray, solved: np.ndarray, mask: np.ndarray, interior: float) -> np.ndarray:
    """Keep ``interior`` of the correction ``solved - src`` deep inside the mask, all of it at
    the border: weight ``interior + (1 - interior) exp(-d / s)``, ``d`` the distance to the mask
    border, ``s`` a quarter of the mask's size."""
    if interior >= 1.0:
        return solved
    d = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    scale = max(1.0, 0.25 * float(np.sqrt(mask.sum())))
    w = (interior + (1.0 - interior) * np.exp(-d / scale))[..., None]
    return src.astype(np.float32) + w * (solved.astype(np.float32) - src.astype(np.float32))


def _poisson(dst: np.ndarray, patch: FacePatch, x0: int, y0: int, use_opencv: bool, interior: float = 1.0) -> np.ndarray:
    """Poisson-clone ``patch`` into ``dst`` (RGB), returning the new colours of the patch window.

    Where the patch says a surrounding pixel must not anchor the colours (background,
    occluders: ``RenderedFacePatch.anchor``), its boundary value is replaced by the template
    colour plus the colour offset interpolated from the anchoring boundary pixels, so the
    face takes the tone of the skin around it, not of the wall behind it.
    """
    H, W = dst.shape[:2]
    h, w = patch.mask.shape
    P = _PAD
    # the patch window plus a pad, taken from dst (reflected where it leaves the image)
    ax0, ay0, ax1, ay1 = x0 - P, y0 - P, x0 + w + P, y0 + h + P
    cx0, cy0, cx1, cy1 = max(ax0, 0), max(ay0, 0), min(ax1, W), min(ay1, H)
    crop = dst[cy0:cy1, cx0:cx1]
    crop = cv2.copyMakeBorder(crop, cy0 - ay0, ay1 - cy1, cx0 - ax0, ax1 - cx1, cv2.BORDER_REFLECT)
    src = cv2.copyMakeBorder(patch.rgb, P, P, P, P, cv2.BORDER_REPLICATE)
    mask = cv2.copyMakeBorder(patch.mask.astype(np.uint8), P, P, P, P, cv2.BORDER_CONSTANT, value=0) > 0
    anchor = getattr(patch, "anchor", None)
    if anchor is not None:
        anchor = cv2.copyMakeBorder(anchor.astype(np.uint8), P, P, P, P, cv2.BORDER_REPLICATE) > 0
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~mask
        known = ring & anchor
        free = ~mask & ~anchor
        if free.any():
            diff = crop.astype(np.float32) - src.astype(np.float32)
            offset = push_pull_fill(diff, known) if known.any() else np.zeros_like(diff)
            crop = crop.copy()
            crop[free] = np.clip(src[free] + offset[free], 0, 255).round().astype(np.uint8)
    if not use_opencv:
        out = _attenuate(src, solve_poisson(src, crop, mask), mask, interior)
        return np.clip(out[P : P + h, P : P + w], 0, 255).round().astype(np.uint8)
    mask_u8 = mask.astype(np.uint8) * 255
    bx, by, bw, bh = cv2.boundingRect(mask_u8)
    # seamlessClone places the mask's bounding box centred on `center` (integer halves)
    center = (bx + bw // 2, by + bh // 2)
    out = cv2.seamlessClone(
        np.ascontiguousarray(src[..., ::-1]), np.ascontiguousarray(crop[..., ::-1]), mask_u8, center, cv2.NORMAL_CLONE
    )[..., ::-1]
    out = _attenuate(src, out, mask, interior)
    return np.clip(out[P : P + h, P : P + w], 0, 255).round().astype(np.uint8)


def blend_faces(
    rgb: np.ndarray, patches: Sequence[FacePatch], cfg: RenderConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Replace every patch's masked pixels in ``rgb`` (uint8 RGB ``(H, W, 3)``).

    Patches are composited far to near (by median face depth), so a nearer face covers a
    farther one. Only pixels inside the patches' masks change. Returns the new image and
    the union of the masks (bool ``(H, W)``).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ShapeError("blend_faces rgb", "uint8 (H, W, 3)", (rgb.shape, rgb.dtype))
    H, W = rgb.shape[:2]
    out = rgb.copy()
    union = np.zeros((H, W), bool)

    def depth_key(p: FacePatch) -> float:
        d = p.depth_m[p.depth_m > 0]
        return -float(np.median(d)) if d.size else 0.0

    for p in sorted(patches, key=depth_key):
        x0, y0 = p.origin_px
        h, w = p.mask.shape
        if x0 < 0 or y0 < 0 or x0 + w > W or y0 + h > H:
            where = f"FacePatch[{p.camera},{p.track_id}]"
            raise ShapeError(where, f"a window inside the {W}x{H} image", (x0, y0, w, h))
        if not p.mask.any():
            continue
        if cfg.blend in (BlendMode.POISSON, BlendMode.OPENCV):
            new = _poisson(out, p, x0, y0, cfg.blend is BlendMode.OPENCV, cfg.interior_harmonization)
        else:
            new = p.rgb
        window = out[y0 : y0 + h, x0 : x0 + w]
        window[p.mask] = new[p.mask]
        union[y0 : y0 + h, x0 : x0 + w] |= p.mask
    return out, union
