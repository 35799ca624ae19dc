"""Recordings I/O: the session format, Azure Kinect ``.mkv`` and image-folder readers,
frame-set synchronization, writers and importers."""

from orscene.recording.faces import FaceAnnotations, load_faces, save_faces
from orscene.recording.session import (
    Calibration,
    CameraSource,
    SessionManifest,
    SourceKind,
    load_calibration,
    load_manifest,
    save_calibration,
    save_manifest,
    validate_session_name,
)

__all__ = [
    "Calibration",
    "CameraSource",
    "SessionManifest",
    "SourceKind",
    "load_calibration",
    "load_manifest",
    "save_calibration",
    "save_manifest",
    "validate_session_name",
    "FaceAnnotations",
    "load_faces",
    "save_faces",
]
