"""orscene.anonymize2d: 2D face detectors (CenterFace, BlazeFace full-range) and 2D
anonymizers (blur, pixelate, black, Poisson-blended template): the pipeline's fail-closed
fallback and the evaluation baselines."""

from orscene.anonymize2d.anonymizers import Anonymize2DConfig, AnonymizeMethod, anonymize_regions, box_to_mask, expand_box
from orscene.anonymize2d.detectors import (
    Detection,
    FaceDetectorConfig,
    FaceKeypoints,
    FaceDetectorKind,
    FaceDetector,
    default_model_path,
    detect_faces,
    detect_faces_near,
    load_face_detector,
)

__all__ = [
    "Anonymize2DConfig",
    "AnonymizeMethod",
    "anonymize_regions",
    "box_to_mask",
    "expand_box",
    "Detection",
    "FaceDetectorConfig",
    "FaceKeypoints",
    "FaceDetectorKind",
    "FaceDetector",
    "default_model_path",
    "detect_faces",
    "detect_faces_near",
    "load_face_detector",
]
