"""Azure-Kinect-like depth errors applied to a rendered depth-sensor image.

``kinect_depth_mm`` turns the exact depth along the sensor's +z axis into what a device
writes (uint16 millimetres, 0 = no measurement):

* out of range: ``z < 0.5 m`` or ``z > 3.86 m`` (NFOV unbinned operating range);
* outside the NFOV's hexagonal valid region of the sensor grid (the hexagon of a real NFOV
  unbinned frame: top and bottom edges from ~23 % to ~79 % of the width, the full width at
  mid-height);
* at depth discontinuities: a pixel whose 3x3 neighbourhood spans more than
  ``0.04 m + 0.02 z`` is invalid with probability 0.8 (the device's filter); of the edge
  pixels it keeps, half are *flying pixels*: a depth drawn uniformly between the near and the
  far side of the edge (a mixed return);
* dark surfaces (albedo < 0.12: black plastic, dark hair, screens) invalid with probability
  0.7, and materials marked dark/specular (screens, polished metal, lamp glass) with
  probability 0.85;
* random dropouts (0.3 %);
* Gaussian noise with ``sigma(z) = 0.3 mm + 0.55 mm * z`` (z in metres): ~0.85 mm at 1 m,
  ~1.4 mm at 2 m, ~2 mm at 3 m, plus quantisation to whole millimetres. (A real NFOV
  unbinned frame, ``../shared/data/azure_kinect``, shows ~0.7 mm around 1 m and ~1.4 mm
  around 2 m on smooth surfaces: ``python -m benchmarks.bench_realism --only depth``.)
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
    sigma0_m: float = 0.0003
    """Noise at zero distance (metres)."""
    sigma1_m_per_m: float = 0.00055
    """Linear noise growth: ``sigma = sigma0 + sigma1 * z + sigma2 * z^2`` (z in metres)."""
    sigma2_m: float = 0.0
    """Quadratic noise growth (per square metre)."""
    edge_jump_m: float = 0.04
    """Base depth step that marks a discontinuity (grows by 2 % of z)."""
    edge_drop_p: float = 0.8
    flying_p: float = 0.5
    """Share of the kept edge pixels that get a mixed (flying) depth."""
    dark_albedo: float = 0.12
    dark_drop_p: float = 0.7
    material_drop_p: float = 0.85
    random_drop_p: float = 0.003


def depth_sigma_m(z_m: np.ndarray, cfg: DepthNoiseConfig = DepthNoiseConfig()) -> np.ndarray:
    """Standard deviation of the depth noise at depth ``z_m`` (metres)."""
    z = np.asarray(z_m, dtype=np.float64)
    return cfg.sigma0_m + cfg.sigma1_m_per_m * z + cfg.sigma2_m * z**2


def nfov_valid_mask(width: int, height: int) -> np.ndarray:
    """The NFOV sensor's hexagonal valid region, (H, W) bool: the grid's corners are dark."""
    m = np.zeros((height, width), np.uint8)
    w, h = width - 1, height - 1
    poly = np.array([[0.0, 0.5 * h], [0.238 * w, 0.0], [0.779 * w, 0.0], [w, 0.5 * h], [0.804 * w, h], [0.227 * w, h]])
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
    z_far = cv2.dilate(zz, k)
    z_near = cv2.erode(zz, k)
    span = z_far - z_near
    u = rng.random((5, H, W), dtype=np.float32)
    edge = span > (cfg.edge_jump_m + 0.02 * zz)
    valid &= ~(edge & (u[0] < cfg.edge_drop_p))
    # flying pixels: a kept edge pixel measures a mix of the near and the far surface
    # (within the measurable range; u[0] >= edge_drop_p here, rescaled to [0, 1))
    flying = edge & (u[4] < cfg.flying_p) & (z_far <= cfg.max_m) & (z_near >= cfg.min_m)
    mix = (u[0] - cfg.edge_drop_p) / max(1.0 - cfg.edge_drop_p, 1e-6)
    z = np.where(flying, z_near + mix * span, z)
    valid &= ~((albedo < cfg.dark_albedo) & (u[1] < cfg.dark_drop_p))
    shiny = (material == Material.DARK) | (material == Material.SPECULAR)
    valid &= ~(shiny & (u[2] < cfg.material_drop_p))
    valid &= u[3] >= cfg.random_drop_p
    noisy = z + rng.standard_normal((H, W), dtype=np.float32) * depth_sigma_m(z, cfg).astype(np.float32)
    mm = np.round(noisy * 1000.0)
    return np.where(valid, np.clip(mm, 0, 65535), 0).astype(np.uint16)
