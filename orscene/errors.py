"""One exception hierarchy for orscene.

Library code raises these; only ``cli.py`` turns them into a one-line message and a
non-zero exit code. Every error can name the file it is about, so that a user sees
``<path>: <problem>`` and nothing else.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "OrsceneError",
    "ShapeError",
    "CalibrationError",
    "RecordingError",
    "SessionError",
    "ConfigError",
    "ModelFileError",
    "AnnotationError",
    "excerpt",
]

EXCERPT_CHARS = 120
"""The most of a file's contents an error message quotes."""


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (with "..."): an error about a
    file quotes a short excerpt of it, never the whole file."""
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: max(0, limit - 3)] + "..."


class OrsceneError(Exception):
    """Base class of all errors that orscene reports to the user."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.message = message
        self.path = None if path is None else Path(path)
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class ShapeError(OrsceneError, ValueError):
    """An array has the wrong shape, dtype or value range at a stage boundary."""

    def __init__(self, name: str, expected: str, got: object) -> None:
        self.name = name
        self.expected = expected
        self.got = got
        super().__init__(f"{name}: expected {expected}, got {got}")


class CalibrationError(OrsceneError):
    """A calibration is missing, malformed or inconsistent (names the camera when known)."""

    def __init__(self, message: str, path: str | Path | None = None, camera: str | None = None) -> None:
        self.camera = camera
        super().__init__(f"camera {camera!r}: {message}" if camera else message, path)


class RecordingError(OrsceneError):
    """A recording (``.mkv`` or image folder) cannot be read."""


class SessionError(OrsceneError):
    """A session manifest or name is invalid, or the session is missing."""


class ConfigError(OrsceneError):
    """A configuration file or option is invalid."""


class ModelFileError(OrsceneError):
    """A user-supplied model file (SMPL, ONNX pose model, LPIPS weights...) is missing."""


class AnnotationError(OrsceneError):
    """An annotation file is malformed."""
