"""Smooth scattered-data fill on an image grid (push-pull pyramid)."""

import cv2
import numpy as np

__all__ = ["push_pull_fill"]


def push_pull_fill(rgb: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill the pixels outside ``known`` smoothly from the known ones (push-pull pyramid)."""
    if known.all() or not known.any():
        return rgb
    levels_c = [rgb.astype(np.float32) * known[..., None]]
    levels_w = [known.astype(np.float32)]
    while min(levels_w[-1].shape) > 1:
        c, wgt = levels_c[-1], levels_w[-1]
        size = (max(1, (c.shape[1] + 1) // 2), max(1, (c.shape[0] + 1) // 2))
        levels_c.append(cv2.resize(c, size, interpolation=cv2.INTER_AREA))
        levels_w.append(cv2.resize(wgt, size, interpolation=cv2.INTER_AREA))
    filled = levels_c[-1] / np.maximum(levels_w[-1], 1e-6)[..., None]
    for c, wgt in zip(reversed(levels_c[:-1]), reversed(levels_w[:-1])):
        up = cv2.resize(filled, (c.shape[1], c.shape[0]), interpolation=cv2.INTER_LINEAR)
        a = np.clip(wgt * 4.0, 0.0, 1.0)[..., None]  # partially covered coarse cells count as known
        own = c / np.maximum(wgt, 1e-6)[..., None]
        filled = own * a + up * (1.0 - a)
    out = rgb.copy()
    if np.issubdtype(rgb.dtype, np.integer):
        out[~known] = np.clip(filled[~known], 0, 255).round().astype(rgb.dtype)
    else:
        out[~known] = filled[~known]
    return out
