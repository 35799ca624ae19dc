"""Anonymize one frame-set: the 3D path where it can vouch for a face, the 2D path elsewhere.

Per view, in this order:

1. **3D path** — every settled track whose head was aligned to the point cloud
   (``HeadStatus.ALIGNED``) in a calibrated camera: its face template is rendered with
   depth-based visibility and Poisson-blended (``render3d``).
2. **Projected heads** — every other track (young, alignment skipped or rejected), and every
   track in a view where the 3D path cannot vouch (no calibration, or no depth: there the
   rendered face stays and the head is covered in 2D as well): the head sphere of the 3D
   skeleton projected into the view is anonymized in 2D (``head2d``).
3. **2D skeletons** — a 2D skeleton in the view that no track explains (a person detected
   in 2D but not tracked in 3D): its head region is anonymized in 2D (``head2d``).
3b. **3D head tracks** -- every head that the head stage tracks (``orscene.heads``) and no
   tracked skeleton explains (a person BlazePose missed): its head sphere projected into
   every calibrated view where it may be visible, covered in 2D; its estimated face box
   reported where the face may point at the camera (``head3d``;
   ``orscene.pipeline.heads3d``).
4. **Face detectors** — the faces CenterFace and BlazeFace found in the view (on
   whole-image passes; in between, CenterFace's windows and the faces held from the
   nearest passes, ``orscene.pipeline.keyframes``): one that the masks so far do not cover
   is anonymized in 2D (``detector2d``).

The union of everything anonymized is the view's mask. The function raises on any error:
the caller obscures or withholds the whole frame-set (fail closed).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from orscene.pipeline.fallback import FallbackConfig, HeadRegion, head_region_from_3d, head_regions_from_2d
from orscene.types import Camera, FaceBox, FacePatch, FaceSource, HeadStatus, Keypoints2D, PersonPose

__all__ = ["ViewResult", "FramesetResult", "plan_view_regions", "obscure_image", "covered_fraction"]


@dataclass(frozen=True)
class ViewResult:
    camera: str
    rgb: np.ndarray | None
    """Anonymized image, or None when withheld."""
    mask: np.ndarray
    """(H, W) bool: pixels anonymized."""
    faces: tuple[FaceBox, ...]
    status: str
    """"anonymized", "obscured" or "withheld"."""
    reason: str = ""
    counts: Mapping[str, int] = field(default_factory=dict)
    evidence: tuple[list[int], ...] = ()
    """Per face (in ``faces``' order), the frame-sets its evidence came from when it was
    not seen on this frame-set: the keyframes a carried body, an interpolated track or
    borrowed 2D skeletons come from, the whole-image passes a held detector box comes from;
    empty for a face found on the frame-set itself. Empty tuple: none recorded."""
    file: str = ""
    """The input file that could not be read, when that is why the view is not anonymized."""


@dataclass(frozen=True)
class FramesetResult:
    index: int
    timestamp_ns: int
    views: Mapping[str, ViewResult]
    persons: tuple[dict, ...] = ()
    error: str = ""
    depth_ignored: Mapping[str, str] = field(default_factory=dict)
    """Views whose depth was implausible as a whole, with why: RGB-only for this frame-set."""


def covered_fraction(mask: np.ndarray, box: Sequence[float]) -> float:
    """Share of the pixels of ``box`` (pixel-edge convention) set in ``mask``."""
    h, w = mask.shape
    x0, y0 = max(0, int(np.ceil(box[0] + 0.5 - 1e-6))), max(0, int(np.ceil(box[1] + 0.5 - 1e-6)))
    x1, y1 = min(w, int(np.floor(box[2] + 0.5 + 1e-6))), min(h, int(np.floor(box[3] + 0.5 + 1e-6)))
    if x1 <= x0 or y1 <= y0:
        return 1.0
    return float(mask[y0:y1, x0:x1].mean())


def obscure_image(rgb: np.ndarray, block_frac: float = 1 / 20) -> np.ndarray:
    """Fully obscure a view: coarse pixelation (blocks of ``block_frac`` of the long side,
    so that a face spans at most a few blocks), darkened."""
    import cv2

    h, w = rgb.shape[:2]
    block = max(8, int(max(h, w) * block_frac))
    small = cv2.resize(rgb, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    return (out.astype(np.uint16) * 3 // 5).astype(np.uint8)


@dataclass(frozen=True)
class RegionPlan:
    """What to anonymize in 2D in one view, with the records to report."""

    regions: tuple[HeadRegion, ...]
    sources: tuple[FaceSource, ...]
    persons: tuple[int, ...]


def plan_view_regions(
    camera_name: str,
    camera: Camera | None,
    width: int,
    height: int,
    poses: Sequence[PersonPose],
    vouched: Mapping[int, bool],
    keypoints: Keypoints2D | None,
    cfg: FallbackConfig,
) -> RegionPlan:
    """Head regions of steps 2 and 3 for one view (see the module docstring).

    ``vouched[track_id]`` is True when the 3D path renders that person's face in this view.
    """
    regions: list[HeadRegion] = []
    sources: list[FaceSource] = []
    persons: list[int] = []
    projected: list[HeadRegion] = []
    if camera is not None:
        for pose in poses:
            reg = head_region_from_3d(pose, camera, cfg)
            if reg is None:
                continue
            projected.append(reg)
            if not vouched.get(pose.track_id, False):
                regions.append(reg)
                sources.append(FaceSource.HEAD_2D)
                persons.append(pose.track_id)
    if keypoints is not None:
        for reg in head_regions_from_2d(keypoints, width, height, cfg):
            explained = any(
                np.hypot(reg.center_px[0] - p.center_px[0], reg.center_px[1] - p.center_px[1]) <= cfg.match_distance * max(p.radius_px, 4.0)
                for p in projected
            )
            if not explained:
                regions.append(reg)
                sources.append(FaceSource.HEAD_2D)
                persons.append(-1)
    return RegionPlan(tuple(regions), tuple(sources), tuple(persons))


def head_status_vouches(status: HeadStatus, settled: bool) -> bool:
    """The 3D path vouches for a face only for a settled track with an aligned head."""
    return settled and status is HeadStatus.ALIGNED


def patch_face_box(frame: int, patch: FacePatch) -> FaceBox:
    return FaceBox(frame, patch.camera, patch.track_id, patch.box_xyxy_px, 1.0, float(patch.visible_fraction), False, FaceSource.RENDER_3D)
