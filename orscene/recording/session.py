"""The session format: a manifest (``session.yaml``) and a calibration file.

A session is a folder ``<recordings root>/<SESSION>/``::

    session.yaml          manifest: cameras and their sources, calibration, annotations
    calibration.json      per camera intrinsics, depth sensor, world pose (metres)
    cam0/color/000000.jpg image-folder source (or cam0.mkv for an Azure Kinect recording)
    cam0/depth/000000.png uint16 millimetres, registered to nothing (raw depth sensor)
    annotations/faces.json

The schema is ``orscene/recording/schemas/session.schema.json`` and
``calibration.schema.json``; ``docs/session_format.md`` has a worked example.
"""

import contextlib
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np
import yaml

from orscene.errors import CalibrationError, SessionError, excerpt
from orscene.types import Camera, Intrinsics

__all__ = [
    "SourceKind",
    "CameraSource",
    "SessionManifest",
    "Calibration",
    "validate_session_name",
    "session_dir",
    "load_manifest",
    "save_manifest",
    "load_calibration",
    "save_calibration",
    "atomic_write_bytes",
    "atomic_write_text",
    "MANIFEST_NAME",
    "default_recordings_root",
    "default_outputs_dir",
    "manifest_to_dict",
    "calibration_to_dict",
]

MANIFEST_NAME = "session.yaml"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class SourceKind(Enum):
    """Where a camera's frames come from."""

    MKV = "mkv"
    """An Azure Kinect recording (Matroska: COLOR, DEPTH tracks and calibration.json)."""
    FOLDER = "folder"
    """``color/NNNNNN.jpg|png`` and optional ``depth/NNNNNN.png`` (uint16 mm)."""


@dataclass(frozen=True)
class CameraSource:
    name: str
    """Camera name, unique in the session."""
    kind: SourceKind
    path: str
    """Path of the .mkv file or image folder, relative to the session folder."""


@dataclass(frozen=True)
class SessionManifest:
    name: str
    cameras: tuple[CameraSource, ...]
    calibration: str = "calibration.json"
    """Calibration file, relative to the session folder (or absolute)."""
    fps: float = 15.0
    """Nominal frame rate (frame-sets per second)."""
    sync_tolerance_ms: float | None = None
    """Views whose timestamps differ by at most this form one frame-set; None = a third of
    the frame period."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """Named annotation files relative to the session folder, e.g. ``faces``, ``groundtruth``."""
    description: str = ""

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    @property
    def tolerance_ns(self) -> int:
        tol_ms = self.sync_tolerance_ms if self.sync_tolerance_ms is not None else 1000.0 / self.fps / 3.0
        return int(round(tol_ms * 1e6))


@dataclass(frozen=True)
class Calibration:
    """All cameras of a session. ``cameras`` holds those with a known world pose;
    ``uncalibrated`` names cameras whose intrinsics may be known but world pose is not
    (the 3D path skips them; the 2D path covers their views)."""

    cameras: Mapping[str, Camera]
    uncalibrated: Mapping[str, Camera] = field(default_factory=dict)
    residuals: Mapping[str, float] = field(default_factory=dict)
    """Per camera reprojection RMS (pixels) when the calibration was estimated."""
    poses_only: Mapping[str, np.ndarray] = field(default_factory=dict)
    """``world_from_cam`` of entries without a ``color`` model: cameras whose intrinsics
    come from their recording (an ``.mkv``'s calibration attachment)."""

    def all_cameras(self) -> dict[str, Camera]:
        return {**self.uncalibrated, **self.cameras}


def validate_session_name(name: str) -> str:
    """A session name is one path component: letters, digits, ``_ . -``, no ``..``."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise SessionError(f"invalid session name {name!r}: use letters, digits, '_', '-', '.', no path separators or '..'")
    return name


def session_dir(recordings_root: str | Path, name: str) -> Path:
    return Path(recordings_root) / validate_session_name(name)


def _schema(name: str) -> dict:
    return json.loads(resources.files("orscene.recording").joinpath("schemas", name).read_text())


_MAX_STRUCTURED_BYTES = 64 << 20
"""A manifest or calibration file larger than this is refused unread."""


def _load_structured(path: Path, what: str, error: type = SessionError) -> object:
    """Parse a YAML/JSON file; ``error`` (one line, the file named, at most a short
    excerpt of it quoted) when it is missing, not a regular file, not UTF-8 text or
    malformed."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise error(f"{what} {'is a dangling symbolic link' if path.is_symlink() else 'not found'}", path) from None
    except OSError as e:
        raise error(f"cannot read {what}: {e.strerror}", path) from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block the read
        raise error(f"{what} is not a regular file", path)
    if st.st_size > _MAX_STRUCTURED_BYTES:
        raise error(f"{what} is {st.st_size} bytes: too large for a {what}", path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{what} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})", path) from None
    except OSError as e:
        raise error(f"cannot read {what}: {e.strerror}", path) from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError, ValueError, RecursionError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise error(f"malformed {what}: {excerpt(first)}", path) from None


def _validate(data: object, schema_name: str, path: Path, what: str, error: type = SessionError) -> None:
    bad = _non_finite(data)
    if bad is not None:
        where, value = bad
        raise error(f"invalid {what} at {where}: {value} is not a finite number", path)
    try:
        jsonschema.validate(data, _schema(schema_name))
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "top level"
        # the message quotes the offending value, which may be the whole file
        raise error(f"invalid {what} at {where}: {excerpt(e.message)}", path) from None


def _non_finite(data: object, where: str = "") -> tuple[str, float] | None:
    """The key path and value of the first NaN or infinity in parsed YAML/JSON, or None."""
    if isinstance(data, float) and not math.isfinite(data):
        return (where or "top level", data)
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        found = _non_finite(v, f"{where}/{k}" if where else str(k))
        if found is not None:
            return found
    return None


def load_manifest(session_path: str | Path) -> SessionManifest:
    """Read and validate ``<session>/session.yaml``."""
    session_path = Path(session_path)
    if not session_path.is_dir():
        raise SessionError("session folder not found", session_path)
    path = session_path / MANIFEST_NAME
    data = _load_structured(path, "session manifest")
    _validate(data, "session.schema.json", path, "session manifest")
    cams = tuple(CameraSource(c["name"], SourceKind(c["source"]), c["path"]) for c in data["cameras"])
    names = [c.name for c in cams]
    if len(set(names)) != len(names):
        raise SessionError(f"duplicate camera names {sorted(n for n in set(names) if names.count(n) > 1)}", path)
    return SessionManifest(
        name=data["name"],
        cameras=cams,
        calibration=data.get("calibration", "calibration.json"),
        fps=float(data.get("fps", 15.0)),
        sync_tolerance_ms=data.get("sync_tolerance_ms"),
        annotations=dict(data.get("annotations", {})),
        description=data.get("description", ""),
    )


def manifest_to_dict(m: SessionManifest) -> dict:
    d: dict = {
        "format": "orscene-session",
        "version": 1,
        "name": m.name,
        "description": m.description,
        "fps": m.fps,
        "calibration": m.calibration,
        "cameras": [{"name": c.name, "source": c.kind.value, "path": c.path} for c in m.cameras],
        "annotations": dict(m.annotations),
    }
    if m.sync_tolerance_ms is not None:
        d["sync_tolerance_ms"] = m.sync_tolerance_ms
    return d


def save_manifest(session_path: str | Path, manifest: SessionManifest) -> Path:
    path = Path(session_path) / MANIFEST_NAME
    atomic_write_text(path, yaml.safe_dump(manifest_to_dict(manifest), sort_keys=False))
    return path


def _intr_from_dict(d: dict) -> Intrinsics:
    return Intrinsics(np.array(d["K"], dtype=np.float64), np.array(d["distortion"], dtype=np.float64), d["width"], d["height"])


def _intr_to_dict(i: Intrinsics) -> dict:
    return {"K": i.K_px.tolist(), "distortion": i.distortion.tolist(), "width": i.width_px, "height": i.height_px}


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration file (JSON, metres). Cameras without ``world_from_cam`` are
    returned in ``uncalibrated`` (their world pose unknown, identity placeholder)."""
    path = Path(path)
    data = _load_structured(path, "calibration file", CalibrationError)
    _validate(data, "calibration.schema.json", path, "calibration file", CalibrationError)
    cams: dict[str, Camera] = {}
    uncal: dict[str, Camera] = {}
    residuals: dict[str, float] = {}
    poses_only: dict[str, np.ndarray] = {}
    for name, c in data["cameras"].items():
        if "color" not in c:  # intrinsics from the recording (.mkv); only the pose is given here
            if c.get("world_from_cam") is not None:
                try:
                    poses_only[name] = Camera("_", _UNIT_INTRINSICS, np.array(c["world_from_cam"], dtype=np.float64)).world_from_cam
                except ValueError as e:
                    raise CalibrationError(excerpt(str(e)), path, camera=name) from None
            continue
        try:
            depth = _intr_from_dict(c["depth"]) if c.get("depth") else None
            cam_from_depth = np.array(c["cam_from_depth"], dtype=np.float64) if depth is not None else None
            pose = c.get("world_from_cam")
            cam = Camera(
                name=name,
                color=_intr_from_dict(c["color"]),
                world_from_cam=np.eye(4) if pose is None else np.array(pose, dtype=np.float64),
                depth=depth,
                cam_from_depth=cam_from_depth,
            )
        except (ValueError, KeyError) as e:
            raise CalibrationError(excerpt(str(e)), path, camera=name) from None
        (cams if pose is not None else uncal)[name] = cam
        if "residual_px" in c:
            residuals[name] = float(c["residual_px"])
    return Calibration(cams, uncal, residuals, poses_only)


_UNIT_INTRINSICS = Intrinsics(np.eye(3), np.zeros(8), 1, 1)


def calibration_to_dict(calib: Calibration) -> dict:
    out: dict = {"format": "orscene-calibration", "version": 1, "units": "metres", "cameras": {}}
    for name, cam in calib.all_cameras().items():
        entry: dict = {
            "color": _intr_to_dict(cam.color),
            "depth": _intr_to_dict(cam.depth) if cam.depth is not None else None,
            "cam_from_depth": cam.cam_from_depth.tolist() if cam.cam_from_depth is not None else None,
            "world_from_cam": cam.world_from_cam.tolist() if name in calib.cameras else None,
        }
        if name in calib.residuals:
            entry["residual_px"] = float(calib.residuals[name])
        out["cameras"][name] = entry
    for name, T in calib.poses_only.items():
        out["cameras"].setdefault(name, {"world_from_cam": np.asarray(T).tolist()})
    return out


def save_calibration(path: str | Path, calib: Calibration) -> Path:
    path = Path(path)
    atomic_write_text(path, json.dumps(calibration_to_dict(calib), indent=1))
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def apply_umask(path: str | Path) -> None:
    """Give a file or folder made by ``tempfile`` (private: 0600 / 0700) the permissions a
    plainly created one would have (0666 / 0777 minus the umask), before it is renamed
    into place."""
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A hidden temporary file beside ``path`` to write into; when the block ends without
    error it gets normal permissions and replaces ``path``, otherwise it is deleted. Readers
    see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        apply_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def default_recordings_root() -> Path:
    """``$ORSCENE_RECORDINGS`` or ``./recordings``: where sessions are looked up."""
    return Path(os.environ.get("ORSCENE_RECORDINGS", "recordings"))


def default_outputs_dir(session: str) -> Path:
    """``./outputs/<SESSION>``: where ``cli.py process`` writes unless ``--out`` says otherwise."""
    return Path("outputs") / validate_session_name(session)
