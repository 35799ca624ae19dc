"""Ground-truth 2D keypoints (synthetic sessions) made realistically imperfect, for ablations.

``project_skeletons`` projects known 3D skeletons into a camera (with lens distortion) and
marks what the camera can see (in front of it, inside the image). ``perturb_keypoints``
adds what a real detector does: Gaussian pixel noise (``noise_px``), dropped keypoints
(``dropout``), and false detections (``false_people_per_view``, a whole skeleton at a random
place). Randomness comes only from the ``np.random.Generator`` passed in.
"""

from dataclasses import dataclass

import numpy as np

from orscene.geometry.camera import project_world
from orscene.types import Camera, Keypoints2D

__all__ = ["GTNoiseConfig", "project_skeletons", "perturb_keypoints", "simulate_keypoints"]


@dataclass(frozen=True)
class GTNoiseConfig:
    """How to degrade ground-truth keypoints."""

    noise_px: float = 3.0
    """Standard deviation of the Gaussian noise added to each coordinate, pixels."""
    dropout: float = 0.1
    """Probability that a visible keypoint is reported missing (confidence 0)."""
    false_people_per_view: float = 0.0
    """Expected number of false skeletons per view (Poisson)."""
    confidence: float = 0.9
    """Confidence given to kept keypoints."""
    occluded_confidence: float = 0.6
    """Confidence of keypoints flagged occluded (COCO flag 1); 0 drops them."""


def project_skeletons(camera: Camera, joints_world_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project ``(P, J, 3)`` world joints: ``(keypoints_px (P, J, 2) float32, visible (P, J) bool)``.

    Visible = in front of the camera and inside the image (no occlusion test)."""
    uv, z = project_world(camera, np.asarray(joints_world_m, np.float64))
    w, h = camera.color.width_px, camera.color.height_px
    vis = (z > 0.05) & np.isfinite(uv).all(-1)
    vis &= (uv[..., 0] >= -0.5) & (uv[..., 0] <= w - 0.5) & (uv[..., 1] >= -0.5) & (uv[..., 1] <= h - 0.5)
    return np.nan_to_num(uv).astype(np.float32), vis


def perturb_keypoints(
    camera: Camera, keypoints_px: np.ndarray, visible: np.ndarray, cfg: GTNoiseConfig, rng: np.random.Generator
) -> Keypoints2D:
    """Degrade exact keypoints ``(P, J, 2)`` as configured. ``visible (P, J)``: bool, or
    COCO flags (0 not in the image, 1 occluded, 2 visible); NaN keypoints count as absent.

    People with no keypoint left are left out (a detector would not report them)."""
    kp = np.asarray(keypoints_px, np.float64).copy()
    flags = np.asarray(visible)
    flags = np.where(flags.astype(bool), 2, 0) if flags.dtype == bool else flags.astype(np.int64)
    flags = np.where(np.isfinite(kp).all(-1), flags, 0)
    kp = np.nan_to_num(kp)
    base = np.where(flags >= 2, cfg.confidence, np.where(flags == 1, cfg.occluded_confidence, 0.0))
    vis = base > 0
    P, J = vis.shape
    kp += rng.normal(0.0, cfg.noise_px, size=kp.shape)
    vis &= rng.random(vis.shape) >= cfg.dropout
    keep = vis.any(-1)
    kp, vis, base = kp[keep], vis[keep], base[keep]
    conf = np.where(vis, base, 0.0)
    n_false = int(rng.poisson(cfg.false_people_per_view)) if cfg.false_people_per_view > 0 else 0
    if n_false and len(keypoints_px):
        w, h = camera.color.width_px, camera.color.height_px
        src = np.nan_to_num(np.asarray(keypoints_px, np.float64))[rng.integers(0, len(keypoints_px), n_false)]
        centre = src.mean(1, keepdims=True)
        target = rng.uniform([0, 0], [w, h], size=(n_false, 1, 2))
        fake = src - centre + target + rng.normal(0, cfg.noise_px, src.shape)
        fake_conf = np.full((n_false, J), cfg.confidence * 0.8)
        kp = np.concatenate([kp, fake])
        conf = np.concatenate([conf, fake_conf])
    return Keypoints2D(camera.name, kp.astype(np.float32), conf.astype(np.float32))


def simulate_keypoints(
    cameras: dict[str, Camera] | list[Camera], joints_world_m: np.ndarray, cfg: GTNoiseConfig, rng: np.random.Generator
) -> dict[str, Keypoints2D]:
    """Project ``(P, J, 3)`` skeletons into every camera and degrade them (camera -> Keypoints2D)."""
    cams = cameras.values() if isinstance(cameras, dict) else cameras
    out = {}
    for cam in cams:
        kp, vis = project_skeletons(cam, joints_world_m)
        out[cam.name] = perturb_keypoints(cam, kp, vis, cfg, rng)
    return out
