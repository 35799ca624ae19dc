"""Small scenes for the pose tests: ring cameras, skeletons, rendered depth maps."""

import numpy as np

from orscene.geometry.camera import project_world
from orscene.pose.skeletons import ring_cameras, standing_skeleton
from orscene.types import COCO17_BONES, Camera

__all__ = ["ring_cameras", "standing_skeleton", "render_depth", "mpjpe_m", "match"]


def render_depth(cam: Camera, skeletons: np.ndarray, background_m: float = 7.0, radius_m: float = 0.12) -> np.ndarray:
    """A depth map (float32 metres) of capsule-shaped bodies (bones of radius ``radius_m``)
    in front of a wall at ``background_m``: z-buffered discs along every bone."""
    import cv2

    h, w = cam.color.height_px, cam.color.width_px
    depth = np.full((h, w), background_m, np.float32)
    pts = []
    for sk in skeletons:
        for a, b in COCO17_BONES + ((5, 12), (6, 11), (0, 5), (0, 6)):
            for s in np.linspace(0, 1, 12):
                pts.append(sk[a] * (1 - s) + sk[b] * s)
    pts = np.asarray(pts)
    uv, z = project_world(cam, pts)
    f = cam.color.K_px[0, 0]
    for i in np.argsort(-z):  # far to near: nearer discs overwrite
        if z[i] <= 0 or not np.isfinite(uv[i]).all():
            continue
        r = max(1, int(round(f * radius_m / z[i])))
        layer = np.zeros((h, w), np.uint8)
        cv2.circle(layer, (int(round(uv[i, 0])), int(round(uv[i, 1]))), r, 1, -1)
        m = layer.astype(bool)
        depth[m] = np.minimum(depth[m], z[i] - radius_m * 0.7)
    return depth


def mpjpe_m(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b), axis=-1).mean())


def match(candidates, skeletons: np.ndarray) -> list[tuple[int, float]]:
    """For each true skeleton: (index of the nearest candidate, its MPJPE in metres)."""
    out = []
    for sk in skeletons:
        errs = [mpjpe_m(c.joints_world_m, sk) for c in candidates]
        i = int(np.argmin(errs)) if errs else -1
        out.append((i, errs[i] if errs else np.inf))
    return out
