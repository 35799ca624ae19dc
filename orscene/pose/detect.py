"""2D keypoints of every person in a view, behind one interface.

``load_keypoint_detector(cfg)`` loads the model(s) once; ``detect_keypoints(detector, view)``
returns a :class:`~orscene.types.Keypoints2D` (COCO-17, confidences in ``[0, 1]``).

Backends (``DetectorKind``):
- ``BLAZEPOSE`` (default): the multi-person BlazePose built from mediapipe's bundled TFLite
  files (:mod:`orscene.pose.blazepose`). Works offline, no user files.
- ``RTMPOSE`` / ``RTMO``: ONNX exports from mmpose/rtmlib at ``cfg.onnx_path``
  (:mod:`orscene.pose.onnx_models`); RTMPose takes its person boxes from the BlazePose
  detector.

Ground-truth keypoints for ablations are in :mod:`orscene.pose.gt_keypoints`.
"""

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from orscene.errors import ShapeError
from orscene.pose.blazepose import (
    BlazePoseConfig,
    BlazePoseModels,
    PoseRegion,
    detect_people,
    load_blazepose,
    track_blazepose,
)
from orscene.pose.onnx_models import OnnxPoseModel, load_onnx_pose, run_rtmo, run_rtmpose
from orscene.types import Keypoints2D, View

__all__ = ["DetectorKind", "KeypointDetectorConfig", "KeypointDetector", "load_keypoint_detector", "detect_keypoints", "track_keypoints"]

log = logging.getLogger(__name__)


class DetectorKind(enum.Enum):
    BLAZEPOSE = "blazepose"
    """Bundled multi-person BlazePose (mediapipe 0.10.14 TFLite files)."""
    RTMPOSE = "rtmpose"
    """Top-down RTMPose ONNX (user file), person boxes from the BlazePose detector."""
    RTMO = "rtmo"
    """One-stage RTMO ONNX (user file)."""


@dataclass(frozen=True)
class KeypointDetectorConfig:
    """Which 2D keypoint detector to run and how."""

    kind: DetectorKind = DetectorKind.BLAZEPOSE
    """Backend: blazepose (bundled), rtmpose or rtmo (ONNX files you provide)."""
    blazepose: BlazePoseConfig = field(default_factory=BlazePoseConfig)
    """Options of the bundled BlazePose (also the person detector for rtmpose)."""
    onnx_path: str = ""
    """Path of the RTMPose/RTMO ``.onnx`` file (rtmpose/rtmo only)."""
    min_score: float = 0.3
    """RTMO: person score needed to keep a detection."""
    max_side_px: int = 0
    """Downscale images whose longer side exceeds this before detection (0 = never);
    keypoints are mapped back to full resolution."""
    device: str = "auto"
    """onnxruntime device for the ONNX backends ("auto" = its CUDA provider when this
    onnxruntime has it, else CPU; "cpu", "cuda")."""


@dataclass(frozen=True)
class KeypointDetector:
    """Loaded models for :func:`detect_keypoints` (thin holder; load once per process)."""

    cfg: KeypointDetectorConfig
    blazepose: BlazePoseModels | None
    onnx: OnnxPoseModel | None


def load_keypoint_detector(cfg: KeypointDetectorConfig = KeypointDetectorConfig()) -> KeypointDetector:
    """Load the configured backend (raises ``ModelFileError`` naming a missing model file)."""
    kind = DetectorKind(cfg.kind)
    onnx = load_onnx_pose(cfg.onnx_path, kind.value, cfg.device) if kind is not DetectorKind.BLAZEPOSE else None
    bp = load_blazepose(cfg.blazepose) if kind in (DetectorKind.BLAZEPOSE, DetectorKind.RTMPOSE) else None
    return KeypointDetector(cfg, bp, onnx)


def detect_keypoints(detector: KeypointDetector, view: View) -> Keypoints2D:
    """COCO-17 keypoints of every person in ``view.rgb`` (pixel centres at integers)."""
    return track_keypoints(detector, view, ())[0]


def track_keypoints(detector: KeypointDetector, view: View, regions: Sequence[PoseRegion] = ()) -> tuple[Keypoints2D, tuple[PoseRegion, ...]]:
    """:func:`detect_keypoints`, following people from an earlier frame of the same camera.

    ``regions``: what this function returned for that frame. BlazePose then runs its
    landmark model on those regions, and its person detector once on the whole image (no
    tiles) for people outside them; empty = search the whole image and its tiles
    (:func:`orscene.pose.blazepose.track_blazepose`). Returns the keypoints and the regions
    for the next frame (empty for the ONNX backends, which always search)."""
    rgb = view.rgb
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ShapeError(f"View[{view.camera}].rgb", "(H, W, 3) uint8", (rgb.shape, rgb.dtype))
    cfg = detector.cfg
    scale = 1.0
    if cfg.max_side_px and max(rgb.shape[:2]) > cfg.max_side_px:
        import cv2

        scale = cfg.max_side_px / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    kind = DetectorKind(cfg.kind)
    next_regions: tuple[PoseRegion, ...] = ()
    if kind is DetectorKind.BLAZEPOSE:
        kp, conf, next_regions = track_blazepose(detector.blazepose, rgb, regions, cfg.blazepose)
    elif kind is DetectorKind.RTMPOSE:
        boxes = []
        for _, kps, _ in detect_people(detector.blazepose, rgb, cfg.blazepose):
            c, r = kps[0], np.linalg.norm(kps[1] - kps[0])
            boxes.append([c[0] - r * 0.6, c[1] - r, c[0] + r * 0.6, c[1] + r])
        kp, conf = run_rtmpose(detector.onnx, rgb, np.asarray(boxes).reshape(-1, 4))
    else:
        kp, conf = run_rtmo(detector.onnx, rgb, cfg.min_score)
    if scale != 1.0:  # pixel centres at integers: u + 0.5 = (u' + 0.5) / s
        kp = (kp + 0.5) / scale - 0.5
    return Keypoints2D(view.camera, kp.astype(np.float32), conf.astype(np.float32)), next_regions

