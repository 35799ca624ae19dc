"""Head regions for the fail-closed 2D path, from a 3D skeleton or a 2D skeleton.

Where the 3D path cannot vouch for a face (a track not yet settled, a head alignment
skipped or rejected, a camera without depth or calibration, a person seen in 2D only), the
pipeline anonymizes the whole head region in 2D. Two sources give that region:

- a 3D skeleton: the head centre (mean of nose, eyes and ears, weighted by confidence)
  with a sphere of ``head_radius_m`` around it, projected into the view;
- a 2D skeleton in the view: the bounding box of its confident face keypoints, grown to
  the head's size (at least the ear-to-ear or eye-to-eye distance times a factor).

Both return a head box (what is anonymized, with margin) and a face box (what is
reported in ``faces.json``, the size of a face: forehead to chin, cheek to cheek).
"""

from dataclasses import dataclass

import numpy as np

from orscene.geometry.camera import project_world
from orscene.types import Box, Camera, Keypoints2D, PersonPose

__all__ = ["HeadRegion", "FallbackConfig", "head_center_world", "head_region_from_3d", "head_regions_from_2d"]

_HEAD_JOINTS = (0, 1, 2, 3, 4)  # nose, eyes, ears (COCO-17)


@dataclass(frozen=True)
class FallbackConfig:
    head_radius_m: float = 0.13
    """Radius of the sphere around the head centre that the 2D path covers (metres)."""
    face_scale: float = 0.8
    """Face box size relative to the projected head sphere's box."""
    min_joint_confidence: float = 0.2
    """Keypoints below this confidence are ignored."""
    head_from_2d_scale: float = 2.2
    """2D head box side = this x the spread of the face keypoints (eyes, ears, nose)."""
    match_distance: float = 1.5
    """A 2D skeleton belongs to a 3D track when its head centre lies within this many head
    radii of the track's projected head centre."""


@dataclass(frozen=True)
class HeadRegion:
    head_box_xyxy_px: Box
    """Region to anonymize (head with margin), clipped to the image."""
    face_box_xyxy_px: Box
    """Estimated face box, reported as the prediction, clipped to the image."""
    center_px: tuple[float, float]
    radius_px: float


def head_center_world(pose: PersonPose, min_conf: float) -> np.ndarray | None:
    """Confidence-weighted mean of the face joints; None when none is confident."""
    idx = np.array(_HEAD_JOINTS)
    conf = pose.confidence[idx].astype(np.float64)
    ok = conf >= min_conf
    if not ok.any():
        return None
    w = conf * ok
    return (pose.joints_world_m[idx].astype(np.float64) * w[:, None]).sum(0) / w.sum()


def head_region_from_3d(pose: PersonPose, camera: Camera, cfg: FallbackConfig) -> HeadRegion | None:
    """The head sphere of a 3D skeleton projected into ``camera``; None when behind the
    camera or outside the image."""
    c = head_center_world(pose, cfg.min_joint_confidence)
    if c is None:
        return None
    uv, z = project_world(camera, c[None])
    if not np.isfinite(uv).all() or z[0] <= 0.05:
        return None
    f = 0.5 * (camera.color.K_px[0, 0] + camera.color.K_px[1, 1])
    r_px = float(f * cfg.head_radius_m / z[0])
    u, v = float(uv[0, 0]), float(uv[0, 1])
    w, h = camera.color.width_px, camera.color.height_px
    if u + r_px < 0 or v + r_px < 0 or u - r_px > w or v - r_px > h:
        return None
    rf = r_px * cfg.face_scale
    head = Box(u - r_px, v - r_px, u + r_px, v + r_px).clipped(w, h)
    face = Box(u - rf * 0.8, v - rf, u + rf * 0.8, v + rf).clipped(w, h)
    if head.is_empty:
        return None
    return HeadRegion(head, face, (u, v), r_px)


def head_regions_from_2d(kps: Keypoints2D, width: int, height: int, cfg: FallbackConfig) -> list[HeadRegion]:
    """One head region per 2D skeleton with at least one confident face keypoint."""
    out = []
    for p in range(kps.n_persons):
        conf = kps.confidence[p, list(_HEAD_JOINTS)]
        ok = conf >= cfg.min_joint_confidence
        if not ok.any():
            continue
        pts = kps.keypoints_px[p, list(_HEAD_JOINTS)][ok].astype(np.float64)
        center = pts.mean(0)
        spread = float(np.ptp(pts, axis=0).max()) if len(pts) > 1 else 0.0
        # without a spread (one keypoint), fall back to a fraction of the shoulder width
        sh = kps.confidence[p, [5, 6]] >= cfg.min_joint_confidence
        if sh.all():
            spread = max(spread, 0.35 * float(np.linalg.norm(kps.keypoints_px[p, 5] - kps.keypoints_px[p, 6])))
        r = max(8.0, 0.5 * cfg.head_from_2d_scale * max(spread, 1.0))
        u, v = float(center[0]), float(center[1])
        head = Box(u - r, v - r, u + r, v + r).clipped(width, height)
        rf = r * cfg.face_scale
        face = Box(u - 0.8 * rf, v - rf, u + 0.8 * rf, v + rf).clipped(width, height)
        if not head.is_empty:
            out.append(HeadRegion(head, face, (u, v), r))
    return out
