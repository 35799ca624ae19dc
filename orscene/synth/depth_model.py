"""Azure-Kinect-like depth errors applied to a rendered depth-sensor image.

``kinect_depth_mm`` turns the exact depth along the sensor's +z axis into what a device
writes (uint16 millimetres, 0 = no measurement):

* out of range: ``z < 0.5 m`` or ``z > 3.86 m`` (NFOV unbinned operating range);
* outside the NFOV's hexagonal valid region of the sensor grid;
* at depth discontinuities (flying pixels are dropped by the device): a pixel whose 3x3
  neighbourhood spans more than ``0.04 m + 0.02 z`` is invalid with probability 0.8;
* dark surfaces (albedo < 0.12: black plastic, dark hair, screens) invalid with probability
  0.7, and materials marked dark/specular (screens, polished metal, lamp glass) with
  probability 0.85;
* random dropouts (0.3 %);
* Gaussian noise with ``sigma(z) = 0.8 mm + 1.3 mm * z^2`` (z in metres): ~2 mm at 1 m,
  ~12 mm at 3 m, plus quantisation to whole millimetres.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from orscene.synth.meshes import Material

__all__ = ["DepthNoiseConfig", "depth_sigma_m", "nfov_valid_mask", "kinect_depth_mm"]


@dataclass(frozen=True)
class DepthNoiseConfig:
    min_m: float = 0.5
    """Nearest measurable depth (metres)."""
    max_m: float = 3.86
    """Farthest measurable depth (metres), NFOV unbinned."""
    sigma0_m: float = 0.0008
    """Noise at zero distance (metres)."""
    sigma2_m: float = 0.0013
    """Noise growth: ``sigma = sigma0 + sigma2 * z^2`` (z in metres)."""
    edge_jump_m: float = 0.04
    """Base depth step that marks a discontinuity (grows by 2 % of z)."""
    edge_drop_p: float = 0.8
    dark_albedo: float = 0.12
    dark_drop_p: float = 0.7
    material_drop_p: float = 0.85
    random_drop_p: float = 0.003


def depth_sigma_m(z_m: np.ndarray, cfg: DepthNoiseConfig = DepthNoiseConfig()) -> np.ndarray:
    """Standard deviation of the depth noise at depth ``z_m`` (metres)."""
    return cfg.sigma0_m + cfg.sigma2_m * np.asarray(z_m, dtype=np.float64) ** 2


def nfov_valid_mask(width: int, height: int) -> np.ndarray:
    """The NFOV sensor's hexagonal valid region, (H, W) bool: the grid's corners are dark."""
    m = np.zeros((height, width), np.uint8)
    w, h = width - 1, height - 1
    poly = np.array([[0.03 * w, 0.5 * h], [0.2 * w, 0.0], [0.8 * w, 0.0], [0.97 * w, 0.5 * h], [0.8 * w, h], [0.2 * w, h]])
    cv2.fillPoly(m, [np.round(poly).astype(np.int32)], 1)
    return m.astype(bool)


def kinect_depth_mm(z_m: np.ndarray, albedo: np.ndarray, material: np.ndarray, rng: np.random.Generator,
                    cfg: DepthNoiseConfig = DepthNoiseConfig()) -> np.ndarray:  # fmt: skip
    """Exact sensor depth (H, W) float32 metres (0 = nothing) -> device depth uint16 mm."""
    z = np.asarray(z_m, dtype=np.float32)
    H, W = z.shape
    valid = (z >= cfg.min_m) & (z <= cfg.max_m) & nfov_valid_mask(W, H)
    zz = np.where(z > 0, z, 100.0).astype(np.float32)
    k = np.ones((3, 3), np.uint8)
    span = cv2.dilate(zz, k) - cv2.erode(zz, k)
    u = rng.random((4, H, W), dtype=np.float32)
    edge = span > (cfg.edge_jump_m + 0.02 * zz)
    valid &= ~(edge & (u[0] < cfg.edge_drop_p))
    valid &= ~((albedo < cfg.dark_albedo) & (u[1] < cfg.dark_drop_p))
    shiny = (material == Material.DARK) | (material == Material.SPECULAR)
    valid &= ~(shiny & (u[2] < cfg.material_drop_p))
    valid &= u[3] >= cfg.random_drop_p
    noisy = z + rng.standard_normal((H, W), dtype=np.float32) * depth_sigma_m(z, cfg).astype(np.float32)
    mm = np.round(noisy * 1000.0)
    return np.where(valid, np.clip(mm, 0, 65535), 0).astype(np.uint16)
