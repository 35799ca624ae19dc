"""Recordings I/O: the session format, Azure Kinect ``.mkv`` and image-folder readers,
frame-set synchronization, writers and importers."""

from orscene.recording.faces import FaceAnnotations, load_faces, save_faces
from orscene.recording.folder import FolderSource
from orscene.recording.mkv import MkvFrame, MkvReader, camera_from_k4a_calibration
from orscene.recording.reader import SessionReader, group_by_timestamp, open_session
from orscene.recording.importers import ImportConfig, load_panoptic_faces, run_import
from orscene.recording.info import InfoConfig, run_info
from orscene.recording.writers import Mp4Writer, concat_mp4, write_image, write_mp4
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
    "FolderSource",
    "MkvFrame",
    "MkvReader",
    "camera_from_k4a_calibration",
    "SessionReader",
    "group_by_timestamp",
    "open_session",
    "Mp4Writer",
    "write_image",
    "write_mp4",
    "concat_mp4",
    "ImportConfig",
    "run_import",
    "load_panoptic_faces",
    "InfoConfig",
    "run_info",
]
