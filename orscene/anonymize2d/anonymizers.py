"""2D anonymization of image regions: Gaussian blur, pixelation, blackening, template
replacement with Poisson blending.

``anonymize_regions(rgb, regions, cfg, template=None, method=None) -> (rgb_out, mask_union)``
(``method`` overrides ``cfg.method``).
Regions are boxes (:class:`orscene.types.Box` or any 4 numbers ``x0, y0, x1, y1`` in the
pixel-edge convention, expanded by ``cfg.margin`` of their size on every side; a box covers
the pixels lying wholly inside it, ``Box.pixel_range``) or boolean ``(H, W)`` masks. The returned mask is the union of
the pixels the method replaced (the anonymization mask that ``cli.py evaluate`` scores).

* BLUR: Gaussian blur with a ``blur_kernel_px`` square kernel (61 as in the DisguisOR
  comparison), sigma from OpenCV's rule for that size, pasted inside the mask.
* PIXELATE: each box is divided into ``pixel_blocks x pixel_blocks`` cells (8x8 across the
  face); every cell takes its mean colour. Mask regions use their bounding box's grid.
* BLACK: zero inside the mask.
* TEMPLATE: a template RGB face image, resized to each region's bounding box, Poisson-blended
  (``cv2.seamlessClone``, normal clone) into the region. Only pixels inside the mask change.
"""

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from orscene.anonymize2d.detectors import merge_overlapping
from orscene.errors import ConfigError, ShapeError
from orscene.types import Box

__all__ = ["AnonymizeMethod", "Anonymize2DConfig", "anonymize_regions", "box_to_mask", "expand_box"]

log = logging.getLogger(__name__)


class AnonymizeMethod(enum.Enum):
    BLUR = "blur"
    PIXELATE = "pixelate"
    BLACK = "black"
    TEMPLATE = "template"


@dataclass(frozen=True)
class Anonymize2DConfig:
    method: AnonymizeMethod = AnonymizeMethod.BLUR
    """template (needs a template image), blur, pixelate or black."""
    margin: float = 0.1
    """Boxes grow by this fraction of their width/height on every side."""
    blur_kernel_px: int = 61
    """Gaussian kernel size (odd), 61x61 as in the DisguisOR comparison."""
    pixel_blocks: int = 8
    """Pixelation: number of blocks across each face box, in x and in y."""


def expand_box(box_xyxy_px: Sequence[float], margin: float) -> Box:
    """The box grown by ``margin`` of its width and height on every side (:meth:`Box.expanded`)."""
    return Box.of(box_xyxy_px).expanded(margin)


def box_to_mask(box_xyxy_px: Sequence[float], h: int, w: int) -> np.ndarray:
    """Boolean (H, W) mask of the box's pixels: those lying wholly inside it (:meth:`Box.pixel_range`)."""
    mask = np.zeros((h, w), dtype=bool)
    c0, r0, c1, r1 = Box.of(box_xyxy_px).pixel_range(w, h)
    if c1 > c0 and r1 > r0:
        mask[r0:r1, c0:c1] = True
    return mask


def anonymize_regions(
    rgb: np.ndarray,
    regions: Sequence[Sequence[float] | np.ndarray],
    cfg: Anonymize2DConfig = Anonymize2DConfig(),
    template: np.ndarray | None = None,
    method: AnonymizeMethod | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Anonymize boxes or masks in an RGB image; returns (new image, union mask (H, W) bool).

    ``method`` (default ``cfg.method``) picks the anonymization; TEMPLATE needs ``template``
    (any RGB uint8 face image)."""
    if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8):
        raise ShapeError("rgb", "(H, W, 3) uint8", (getattr(rgb, "shape", None), getattr(rgb, "dtype", None)))
    method = AnonymizeMethod(cfg.method if method is None else method)
    h, w = rgb.shape[:2]
    if method is AnonymizeMethod.BLUR and (cfg.blur_kernel_px < 1 or cfg.blur_kernel_px % 2 == 0):
        raise ConfigError(f"blur_kernel_px must be a positive odd number, got {cfg.blur_kernel_px}")
    if method is AnonymizeMethod.PIXELATE and cfg.pixel_blocks < 1:
        raise ConfigError(f"pixel_blocks must be >= 1, got {cfg.pixel_blocks}")
    if method is AnonymizeMethod.TEMPLATE:
        if template is None:
            raise ConfigError("template anonymization needs a template RGB face image")
        if not (isinstance(template, np.ndarray) and template.ndim == 3 and template.shape[2] == 3 and template.dtype == np.uint8):
            raise ShapeError("template", "(h, w, 3) uint8", (getattr(template, "shape", None), getattr(template, "dtype", None)))

    # each region -> (mask, grid box in edge convention)
    items: list[tuple[np.ndarray, Box]] = []
    for reg in regions:
        arr = np.asarray(reg)
        if arr.dtype == bool and arr.ndim == 2:
            if arr.shape != (h, w):
                raise ShapeError("region mask", f"({h}, {w}) bool", arr.shape)
            grid = Box.around_mask(arr)
            if grid is None:
                continue
            items.append((arr, grid))
        elif arr.shape == (4,):
            box = expand_box(arr, cfg.margin)
            m = box_to_mask(box, h, w)
            if m.any():
                items.append((m, box))
        else:
            raise ShapeError("region", "xyxy box (4,) or (H, W) bool mask", arr.shape)

    out = rgb.copy()
    union = np.zeros((h, w), dtype=bool)
    if not items:
        return out, union
    for m, _ in items:
        union |= m

    if method is AnonymizeMethod.BLACK:
        out[union] = 0
    elif method is AnonymizeMethod.BLUR:
        _blur(out, rgb, [m for m, _ in items], cfg.blur_kernel_px)
    elif method is AnonymizeMethod.PIXELATE:
        for m, box in items:
            _pixelate(out, rgb, m, box, cfg.pixel_blocks)
    else:
        for m, box in items:
            _template_blend(out, m, box, template)
    return out, union


def _blur(out: np.ndarray, src: np.ndarray, masks: list[np.ndarray], k: int) -> None:
    """Gaussian blur of ``src`` where any of ``masks``, written to ``out``. Only windows
    around the masks (plus half a kernel on each side) are filtered, overlapping windows
    merged into one: inside a window the result equals blurring the whole image (at the
    image border the window's border is the image's)."""
    h, w = masks[0].shape
    pad = k // 2
    wins, members = [], []
    for m in masks:
        ys, xs = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
        if ys.size:  # the mask's pixels grown by half a kernel, as half-open index ranges
            wins.append(Box.from_pixel_range(int(xs[0]) - pad, int(ys[0]) - pad, int(xs[-1]) + 1 + pad, int(ys[-1]) + 1 + pad).pixel_range(w, h))
            members.append(m)
    # the k x k Gaussian of cv2.GaussianBlur (sigma from k), as two 1D passes: for uint8 and
    # large kernels GaussianBlur's bit-exact fixed-point path is ~4x slower
    g = cv2.getGaussianKernel(k, 0)
    for merged, idx in merge_overlapping(Box.from_pixel_range(*win) for win in wins):
        C0, R0, C1, R1 = merged.pixel_range(w, h)
        win = np.logical_or.reduce([members[i][R0:R1, C0:C1] for i in idx])
        blurred = cv2.sepFilter2D(np.ascontiguousarray(src[R0:R1, C0:C1]), -1, g, g, borderType=cv2.BORDER_REFLECT101)
        out[R0:R1, C0:C1][win] = blurred[win]


def _pixelate(out: np.ndarray, src: np.ndarray, mask: np.ndarray, box: Box, n: int) -> None:
    h, w = mask.shape
    x0, y0, x1, y1 = box
    xs = np.linspace(x0, x1, n + 1)
    ys = np.linspace(y0, y1, n + 1)
    for i in range(n):
        for j in range(n):
            c0, r0, c1, r1 = Box(xs[j], ys[i], xs[j + 1], ys[i + 1]).pixel_range(w, h)
            if c1 <= c0 or r1 <= r0:
                continue
            cell = mask[r0:r1, c0:c1]
            if not cell.any():
                continue
            mean = src[r0:r1, c0:c1][cell].reshape(-1, 3).mean(axis=0)
            sub = out[r0:r1, c0:c1]
            sub[cell] = np.round(mean).astype(np.uint8)


def _template_blend(out: np.ndarray, mask: np.ndarray, box: Box, template: np.ndarray) -> None:
    h, w = mask.shape
    c0, r0, c1, r1 = box.pixel_range(w, h)
    ys, xs = np.nonzero(mask[r0:r1, c0:c1])
    if xs.size == 0:
        return
    # tight pixel window of the mask inside the box
    r0, r1, c0, c1 = r0 + ys.min(), r0 + ys.max() + 1, c0 + xs.min(), c0 + xs.max() + 1
    ph, pw = r1 - r0, c1 - c0
    sub_mask = mask[r0:r1, c0:c1]
    patch = cv2.resize(template, (pw, ph), interpolation=cv2.INTER_AREA if template.shape[0] > ph else cv2.INTER_LINEAR)
    if ph < 3 or pw < 3 or r0 < 1 or c0 < 1 or r1 > h - 1 or c1 > w - 1:
        # seamlessClone needs a 1-pixel frame around the patch: paste directly at the border
        region = out[r0:r1, c0:c1]
        region[sub_mask] = patch[sub_mask]
        return
    src = np.zeros_like(out)
    src[r0:r1, c0:c1] = patch
    clone_mask = np.zeros((h, w), dtype=np.uint8)
    clone_mask[r0:r1, c0:c1] = sub_mask.astype(np.uint8) * 255
    center = ((c0 + c1) // 2, (r0 + r1) // 2)
    # seamlessClone centres the mask's bounding rect at `center`; src and dst share coords
    # only when the rect centre is exactly representable, so clone a window and paste back
    blended = cv2.seamlessClone(
        cv2.cvtColor(src, cv2.COLOR_RGB2BGR), cv2.cvtColor(out, cv2.COLOR_RGB2BGR), clone_mask, center, cv2.NORMAL_CLONE
    )
    blended = cv2.cvtColor(blended, cv2.COLOR_BGR2RGB)
    win = mask[r0:r1, c0:c1]
    out[r0:r1, c0:c1][win] = blended[r0:r1, c0:c1][win]
