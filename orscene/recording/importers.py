"""``python cli.py import {panoptic,mvor,mkv} SOURCE... --session NAME``: external data as sessions.

**Azure Kinect** (``import mkv a.mkv [b.mkv ...]``): one camera per recording, named by
its file stem (or ``cam<i>``); the session's manifest names the files (absolute paths,
nothing copied), intrinsics and depth-to-colour come from each file's calibration
attachment, frame-sets from their timestamps. The first camera is the world origin; the
others are uncalibrated (2D path only) until ``calibrate`` gives them a pose.

**CMU Panoptic** (``import panoptic DIR``): ``DIR`` holds one folder of HD images per view
(``00_03/00_03_00004500.jpg``), ``camera_parameters.json`` (per camera ``K``, ``distCoef``
= k1, k2, p1, p2, k3, ``R``, ``t`` in centimetres with ``x_cam = R X + t``) and optionally
``faces_gt.json``. The session gets one image-folder camera per view folder that the
parameters name (images hard-linked, or copied across file systems; the source is never
modified), frame-set ``k`` = the ``k``-th Panoptic frame id in increasing order, with
``timestamps.csv`` keeping the real timing (Panoptic HD runs at 29.97 fps: frame id ``f``
is at ``f / 29.97`` s). Calibration in metres; Panoptic's world has +y pointing down, and is
turned into orscene's z-up world by one rotation (:data:`WORLD_FROM_PANOPTIC`).
``faces_gt.json`` becomes ``annotations/faces.json`` (person ``P3`` -> id 3; a ``partial``
face gets ``visible_fraction`` 0.5; the ``ignore`` regions become ``ignore`` boxes with
person -1; boxes kept in Panoptic's pixel coordinates).

**MVOR** (``import mvor FILE``): the ``camma_mvor_2018.json`` annotation file has no
images, only the calibration of its 3 RGB-D cameras (640x480; intrinsics, distortion
``k1, k2, k3, p1, p2``; ``extrinsics[i]`` = ``cam1_from_cam_i`` in mm; ``firstCamToRoomRef``
= ``room_from_cam1`` in mm). The room reference is z up (checked: the neck is above the
hips along +z in the 3D skeletons), so ``world_from_cam_i = room_from_cam1 @ cam1_from_cam_i``
in metres; its origin is MVOR's room reference, not the floor. The session lists the cameras
``cam1..cam3`` as image folders ``cam1/color/`` ...; with ``--images DIR`` (the folder
holding MVOR's ``day<d>/cam<i>/color/NNNNNN.png`` and ``depth/``, whose file names repeat
across days) the images are linked in as frame-sets ``0..N-1`` in the order of the
annotation file's ``multiview_images`` (the frame numbering of ``evaluate``'s MVOR loader),
depth PNGs (registered to colour already) beside them, and the annotation file becomes
the session's face annotations. Without ``--images`` the folders stay empty (``info``
works on the empty session).

Nothing is written when an input is invalid: everything is checked, then the session is
written into a temporary folder beside the target and renamed into place.
"""

import contextlib
import enum
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro
import yaml

from orscene.errors import AnnotationError, CalibrationError, ConfigError, RecordingError, SessionError, excerpt
from orscene.recording.faces import FaceAnnotations, faces_to_dict
from orscene.recording.session import (
    Calibration,
    CameraSource,
    SessionManifest,
    SourceKind,
    apply_umask,
    atomic_write_text,
    calibration_to_dict,
    default_recordings_root,
    manifest_to_dict,
    session_dir,
    validate_session_name,
)
from orscene.types import Camera, FaceBox, Intrinsics

__all__ = [
    "ImportKind",
    "ImportConfig",
    "run_import",
    "import_panoptic",
    "import_mvor",
    "import_mkv",
    "write_mkv_session",
    "temporary_mkv_session",
    "load_panoptic_cameras",
    "load_panoptic_faces",
    "load_mvor_cameras",
    "WORLD_FROM_PANOPTIC",
    "PANOPTIC_HD_FPS",
]

log = logging.getLogger(__name__)

PANOPTIC_HD_FPS = 29.97
"""Frame rate of Panoptic's HD cameras."""

# Panoptic's world has +y pointing DOWN (heads at negative y); orscene's world is z UP.
# One rotation of -90 deg about x maps Panoptic (x, y, z) to orscene (x, z, -y) (det +1).
WORLD_FROM_PANOPTIC = np.array(
    [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, -1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


class ImportKind(enum.Enum):
    panoptic = "panoptic"
    mvor = "mvor"
    mkv = "mkv"


@dataclass(frozen=True)
class ImportConfig:
    """Import a CMU Panoptic folder, MVOR (calibration, and images with --images) or Azure
    Kinect .mkv recordings as an orscene session."""

    kind: tyro.conf.Positional[ImportKind]
    """What to import: panoptic (a folder of view folders), mvor (camma_mvor_2018.json) or
    mkv (one or more Azure Kinect recordings, one camera each)."""
    source: tyro.conf.Positional[tuple[Path, ...]]
    """The Panoptic folder, the MVOR JSON file, or the .mkv files (never modified)."""
    session: str = "imported"
    """Name of the session to create under the recordings root."""
    recordings: Path = default_recordings_root()
    """Recordings root (``$ORSCENE_RECORDINGS`` or ./recordings)."""
    images: Path | None = None
    """MVOR only: the folder holding MVOR's ``day<d>/cam<i>/color/*.png`` (and ``depth/``): its
    images become the session's frame-sets, in the annotation file's order, without overwriting
    (file names repeat across days)."""
    force: bool = False
    """Replace an existing session of that name."""

    def __post_init__(self) -> None:
        src = self.source
        object.__setattr__(self, "source", (Path(src),) if isinstance(src, (str, os.PathLike)) else tuple(Path(p) for p in src))


def _read_json(path: Path, what: str, error: type = CalibrationError) -> object:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} not found", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"cannot read {what}: {e}", path) from None
    except json.JSONDecodeError as e:
        raise error(f"malformed {what}: {e}", path) from None


# ------------------------------------------------------------------------- Panoptic
def load_panoptic_cameras(path: str | Path, names: list[str] | None = None) -> dict[str, Camera]:
    """Cameras of a Panoptic ``camera_parameters.json`` in orscene's z-up world, metres.

    ``world_from_cam = WORLD_FROM_PANOPTIC @ inv([R | t / 100])``.
    """
    path = Path(path)
    data = _read_json(path, "Panoptic camera parameters")
    try:
        entries = data["cameras"] if isinstance(data, dict) else data
        by_name = {str(c["name"]): c for c in entries}
    except (KeyError, TypeError) as e:
        raise CalibrationError(f"malformed Panoptic camera parameters ({type(e).__name__}: {excerpt(str(e))})", path) from None
    out: dict[str, Camera] = {}
    for name in names if names is not None else sorted(by_name):
        c = by_name.get(name)
        if c is None:
            raise CalibrationError("camera missing from the Panoptic camera parameters", path, camera=name)
        try:
            K = np.array(c["K"], dtype=np.float64).reshape(3, 3)
            dist = np.array(c["distCoef"], dtype=np.float64).ravel()  # k1, k2, p1, p2, k3 = OpenCV order
            w, h = (int(v) for v in c["resolution"])
            cam_from_pan = np.eye(4)
            cam_from_pan[:3, :3] = np.array(c["R"], dtype=np.float64).reshape(3, 3)
            cam_from_pan[:3, 3] = np.array(c["t"], dtype=np.float64).ravel() / 100.0  # cm -> m
            world_from_cam = WORLD_FROM_PANOPTIC @ np.linalg.inv(cam_from_pan)
            out[name] = Camera(name, Intrinsics(K, dist, w, h), world_from_cam)
        except (KeyError, TypeError, ValueError) as e:
            raise CalibrationError(f"malformed entry ({type(e).__name__}: {excerpt(str(e))})", path, camera=name) from None
    return out


def _panoptic_images(src: Path, views: list[str]) -> dict[str, dict[int, Path]]:
    """{view: {frame id: image}} from ``<view>/<view>_<frame id>.jpg|png``."""
    out: dict[str, dict[int, Path]] = {}
    for v in views:
        pat = re.compile(rf"^{re.escape(v)}_(\d+)\.(jpg|jpeg|png)$", re.IGNORECASE)
        frames = {}
        for p in sorted((src / v).iterdir()):
            m = pat.match(p.name)
            if m:
                frames[int(m.group(1))] = p
        if not frames:
            raise RecordingError(f"no images named {v}_<frame>.jpg in the view folder", src / v)
        out[v] = frames
    return out


def load_panoptic_faces(
    path: str | Path, frame_ids: list[int] | None = None, cameras: list[str] | None = None, session: str = "panoptic"
) -> FaceAnnotations:
    """Panoptic ``faces_gt.json`` as FaceAnnotations.

    Frame-set index ``k`` = position of the frame id in ``frame_ids`` (default: the sorted
    frame ids of the file's images). Person ``P<n>`` -> ``n``; ``partial`` ->
    ``visible_fraction`` 0.5; entries of ``ignore`` -> ``ignore`` boxes (person -1).
    """
    path = Path(path)
    data = _read_json(path, "Panoptic face annotations", AnnotationError)
    try:
        images = data["images"]
        ids = sorted({int(i["frame"]) for i in images}) if frame_ids is None else [int(f) for f in frame_ids]
        index_of = {f: k for k, f in enumerate(ids)}
        cams = sorted({str(i["view"]) for i in images}) if cameras is None else list(cameras)
        annotated = sorted({index_of[int(i["frame"])] for i in images if int(i["frame"]) in index_of})
        boxes: list[FaceBox] = []
        for f in data.get("faces", []):
            if int(f["frame"]) not in index_of or str(f["view"]) not in cams:
                continue
            m = re.fullmatch(r"P(\d+)", str(f.get("person", "")))
            boxes.append(
                FaceBox(
                    frame=index_of[int(f["frame"])],
                    camera=str(f["view"]),
                    person=int(m.group(1)) if m else -1,
                    box_xyxy_px=tuple(float(v) for v in f["box"]),
                    visible_fraction=0.5 if f.get("partial") else 1.0,
                )
            )
        for f in data.get("ignore", []):
            if int(f["frame"]) not in index_of or str(f["view"]) not in cams:
                continue
            boxes.append(
                FaceBox(index_of[int(f["frame"])], str(f["view"]), -1, tuple(float(v) for v in f["box"]), ignore=True)
            )
    except (KeyError, TypeError, ValueError) as e:
        raise AnnotationError(f"malformed Panoptic face annotations ({type(e).__name__}: {excerpt(str(e))})", path) from None
    boxes.sort(key=lambda b: (b.frame, b.camera, b.person))
    return FaceAnnotations(session, tuple(cams), tuple(annotated), tuple(boxes))


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _staging(target: Path, force: bool) -> Path:
    if target.exists() and not force:
        raise SessionError("session already exists (use --force to replace it)", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.import."))


def _commit(staging: Path, target: Path) -> None:
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
        os.replace(target, old / target.name)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
    apply_umask(target)


def import_panoptic(src: str | Path, target: Path, force: bool = False) -> Path:
    """Create the session folder ``target`` from the Panoptic folder ``src``."""
    src = Path(src)
    name = validate_session_name(target.name)
    if not src.is_dir():
        raise RecordingError("Panoptic folder not found", src)
    params = src / "camera_parameters.json"
    if not params.is_file():
        raise CalibrationError("Panoptic camera_parameters.json not found", params)
    data = _read_json(params, "Panoptic camera parameters")
    try:
        known = {str(c["name"]) for c in (data["cameras"] if isinstance(data, dict) else data)}
    except (KeyError, TypeError) as e:
        raise CalibrationError(f"malformed Panoptic camera parameters ({type(e).__name__}: {excerpt(str(e))})", params) from None
    views = sorted(p.name for p in src.iterdir() if p.is_dir() and p.name in known)
    if not views:
        raise RecordingError("no view folder named like a camera of camera_parameters.json", src)
    cams = load_panoptic_cameras(params, views)
    images = _panoptic_images(src, views)
    frame_ids = sorted(set().union(*(set(f) for f in images.values())))
    index_of = {f: k for k, f in enumerate(frame_ids)}
    faces_src = src / "faces_gt.json"
    faces = load_panoptic_faces(faces_src, frame_ids, views, session=name) if faces_src.is_file() else None
    staging = _staging(target, force)
    try:
        for v in views:
            rows = ["frame,timestamp_ns"]
            for fid, p in sorted(images[v].items()):
                k = index_of[fid]
                _link_or_copy(p, staging / v / "color" / f"{k:06d}{p.suffix.lower()}")
                rows.append(f"{k},{round(fid * 1e9 / PANOPTIC_HD_FPS)}")
            atomic_write_text(staging / v / "timestamps.csv", "\n".join(rows) + "\n")
        atomic_write_text(staging / "calibration.json", json.dumps(calibration_to_dict(Calibration(cams)), indent=1))
        annotations = {}
        if faces is not None:
            atomic_write_text(staging / "annotations" / "faces.json", json.dumps(faces_to_dict(faces), indent=1))
            annotations["faces"] = "annotations/faces.json"
        manifest = SessionManifest(
            name=name,
            cameras=tuple(CameraSource(v, SourceKind.FOLDER, v) for v in views),
            fps=PANOPTIC_HD_FPS,
            annotations=annotations,
            description=f"CMU Panoptic import of {src.name}; Panoptic HD frame id of each frame-set: {frame_ids}",
        )
        atomic_write_text(staging / "session.yaml", yaml.safe_dump(manifest_to_dict(manifest), sort_keys=False))
        _commit(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("imported %d Panoptic views, %d frames into %s", len(views), len(frame_ids), target)
    return target


# ------------------------------------------------------------------------- MVOR
def load_mvor_cameras(path: str | Path) -> dict[str, Camera]:
    """The 3 MVOR cameras ``cam1..cam3`` in MVOR's room frame (z up), metres."""
    path = Path(path)
    data = _read_json(path, "MVOR annotation file")
    try:
        cp = data["cameras_info"]["camParams"]
        room_from_cam1 = np.array(cp["firstCamToRoomRef"], dtype=np.float64).reshape(4, 4)
        out: dict[str, Camera] = {}
        for i, (intr, ext) in enumerate(zip(cp["intrinsics"], cp["extrinsics"]), start=1):
            fx, fy = intr["focallength"]
            cx, cy = intr["principalpoint"]
            k1, k2, k3, p1, p2 = (float(v) for v in intr["distortion"])  # MVOR order: k1 k2 k3 p1 p2
            w, h = (int(v) for v in intr["imagesize"])
            K = np.array([[fx, float(intr.get("skew_value", 0.0)), cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
            world_from_cam = room_from_cam1 @ np.array(ext, dtype=np.float64).reshape(4, 4)  # mm
            world_from_cam[:3, 3] /= 1000.0  # mm -> m
            name = f"cam{i}"
            out[name] = Camera(name, Intrinsics(K, np.array([k1, k2, p1, p2, k3]), w, h), world_from_cam)
    except (KeyError, TypeError, ValueError) as e:
        raise CalibrationError(f"malformed MVOR camera parameters ({type(e).__name__}: {excerpt(str(e))})", path) from None
    if len(out) != 3:
        raise CalibrationError(f"expected 3 MVOR cameras, found {len(out)}", path)
    return out


def mvor_frame_files(path: str | Path, images: Path) -> list[dict[str, Path]]:
    """Per MVOR multi-view frame (the annotation file's ``multiview_images`` order, which
    is the frame numbering of ``evaluate``'s MVOR loader), camera name -> its colour image
    under ``images`` (``day<d>/cam<i>/color/NNNNNN.png``). Raises naming the first missing
    file; the numbers repeat across days, so frames are told apart by their whole path."""
    path = Path(path)
    data = _read_json(path, "MVOR annotation file")
    try:
        frames = [{f"cam{int(img['cam_id'])}": images / str(img["file_name"]) for img in mv["images"]} for mv in data["multiview_images"]]
    except (KeyError, TypeError, ValueError) as e:
        raise CalibrationError(f"malformed MVOR multiview_images ({type(e).__name__}: {e})", path) from None
    missing = [p for f in frames for p in f.values() if not p.is_file()]
    if missing:
        raise RecordingError(f"{len(missing)} MVOR images named in {path.name} are missing under {images} (first: {missing[0].relative_to(images)})", missing[0])
    return frames


def import_mvor(src: str | Path, target: Path, force: bool = False, images: str | Path | None = None) -> Path:
    """Create a session with the MVOR calibration: with ``images`` (the folder holding
    ``day<d>/cam<i>/...``), the MVOR frames as frame-sets ``0..N-1`` in the annotation
    file's order (colour, and registered depth where present; hard links or copies) and the
    annotation file as the session's face annotations; without, empty image folders."""
    src = Path(src)
    name = validate_session_name(target.name)
    if not src.is_file():
        raise CalibrationError("MVOR annotation file not found", src)
    cams = load_mvor_cameras(src)
    frames = mvor_frame_files(src, Path(images)) if images is not None else []
    staging = _staging(target, force)
    try:
        for c in cams:
            (staging / c / "color").mkdir(parents=True)
        for k, views in enumerate(frames):
            for c, color in views.items():
                _link_or_copy(color, staging / c / "color" / f"{k:06d}{color.suffix.lower()}")
                depth = color.parent.parent / "depth" / color.name
                if depth.is_file():
                    _link_or_copy(depth, staging / c / "depth" / f"{k:06d}.png")
        annotations = {}
        if frames:
            _link_or_copy(src, staging / "annotations" / src.name)
            annotations["faces"] = f"annotations/{src.name}"
        atomic_write_text(staging / "calibration.json", json.dumps(calibration_to_dict(Calibration(cams)), indent=1))
        manifest = SessionManifest(
            name=name,
            cameras=tuple(CameraSource(c, SourceKind.FOLDER, c) for c in cams),
            fps=1.0,
            annotations=annotations,
            description=(
                f"MVOR import: {len(frames)} multi-view frames of {src.name}, frame-set k = its k-th multiview_images entry"
                if frames else "MVOR calibration import: run `import mvor FILE --images DIR` to add the MVOR images"
            ),
        )
        atomic_write_text(staging / "session.yaml", yaml.safe_dump(manifest_to_dict(manifest), sort_keys=False))
        _commit(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


# ------------------------------------------------------------------------- Azure Kinect .mkv
def _mkv_camera_names(paths: list[Path]) -> list[str]:
    """Each recording's file stem when it is a valid, unique camera name, else ``cam<i>``."""
    stems = [p.stem for p in paths]
    ok = all(re.fullmatch(r"[A-Za-z0-9_.-]+", s) and ".." not in s for s in stems) and len(set(stems)) == len(stems)
    return stems if ok else [f"cam{i}" for i in range(len(paths))]


def _mkv_room_calibration(path: Path, names: list[str]) -> Path:
    """A room calibration file for recordings whose cameras are ``names``, checked: it reads
    as a calibration file and gives a world pose to at least one of them (a camera it does
    not pose is uncalibrated, said in one warning line). Returns its absolute path."""
    from orscene.recording.session import load_calibration

    calib = load_calibration(path)  # one-line CalibrationError naming the file
    posed = set(calib.cameras) | set(calib.poses_only)
    if not posed & set(names):
        raise CalibrationError(
            f"gives a world pose to none of the recordings' cameras {names} (named after the .mkv files)", path
        )  # fmt: skip
    missing = [n for n in names if n not in posed]
    if missing:
        log.warning("%s gives no world pose to cameras %s: their views are anonymized by the 2D path only", path, missing)
    return path.resolve()


def write_mkv_session(
    mkvs: "list[str | Path] | tuple[str | Path, ...]", target: Path, name: str | None = None, calibration: "str | Path | None" = None
) -> Path:
    """Write the session folder ``target`` for Azure Kinect recordings, one camera each: the
    manifest names the files (absolute paths; nothing is copied), intrinsics and
    depth-to-colour come from each file's calibration attachment, frames are synchronized by
    their timestamps. World poses come from the room ``calibration`` file when given (as
    ``calibrate`` writes it; cameras are named after the files); else the first camera is at
    the world origin and the others have no world pose (uncalibrated: their views go through
    the 2D path only, fail closed), said in one warning line. Calibrate the room
    (``calibrate``) for the 3D path in every view."""
    from orscene.recording.mkv import MkvReader

    paths = [Path(p) for p in mkvs]
    if not paths:
        raise ConfigError("give one or more .mkv recordings")
    readers = []
    for p in paths:
        if not p.is_file():
            raise RecordingError("recording not found", p)
        readers.append(MkvReader(p, strict=False))
    names = _mkv_camera_names(paths)
    room = _mkv_room_calibration(Path(calibration), names) if calibration is not None else None
    staging = target
    staging.mkdir(parents=True, exist_ok=True)
    if room is None:
        atomic_write_text(staging / "calibration.json", json.dumps(calibration_to_dict(Calibration({}, poses_only={names[0]: np.eye(4)})), indent=1))
    manifest = SessionManifest(
        name=validate_session_name(name or target.name),
        cameras=tuple(CameraSource(n, SourceKind.MKV, str(p.resolve())) for n, p in zip(names, paths)),
        calibration=str(room) if room is not None else "calibration.json",
        fps=float(readers[0].fps),
        description=f"Azure Kinect recordings {[p.name for p in paths]}; "
        + (f"world poses from {room}" if room is not None else f"{names[0]} at the world origin"),
    )
    atomic_write_text(staging / "session.yaml", yaml.safe_dump(manifest_to_dict(manifest), sort_keys=False))
    if room is None and len(names) > 1:
        log.warning(
            "cameras %s have no world pose (no calibration given): their views are anonymized by the 2D path only; "
            "run `calibrate` on a board recording for the 3D path", names[1:],
        )  # fmt: skip
    return target


def mkv_session_name(mkvs) -> str:
    """The session name of recordings processed directly: the first file's stem when it is
    a valid session name, else ``mkv``."""
    stem = Path(list(mkvs)[0]).stem if mkvs else ""
    return stem if re.fullmatch(r"[A-Za-z0-9_.-]+", stem) and ".." not in stem else "mkv"


@contextlib.contextmanager
def temporary_mkv_session(mkvs, calibration: "str | Path | None" = None):
    """``(recordings root, session name)`` of a session folder for ``mkvs`` (and the room
    ``calibration`` file, when given) written into a temporary folder (see
    :func:`write_mkv_session`), removed on exit."""
    name = mkv_session_name(mkvs)
    with tempfile.TemporaryDirectory(prefix="orscene-mkv-") as tmp:
        write_mkv_session(mkvs, Path(tmp) / name, name=name, calibration=calibration)
        yield Path(tmp), name


def import_mkv(mkvs: "list[str | Path] | tuple[str | Path, ...]", target: Path, force: bool = False) -> Path:
    """Create the session folder ``target`` for Azure Kinect recordings (see
    :func:`write_mkv_session`); nothing is written when a recording is invalid."""
    validate_session_name(target.name)
    staging = _staging(target, force)
    try:
        write_mkv_session(mkvs, staging, name=target.name)
        _commit(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def run_import(cfg: ImportConfig) -> int:
    target = session_dir(cfg.recordings, cfg.session)
    if cfg.kind is not ImportKind.mkv and len(cfg.source) != 1:
        raise ConfigError(f"import {cfg.kind.value} takes one source, got {len(cfg.source)}")
    if cfg.images is not None and cfg.kind is not ImportKind.mvor:
        raise ConfigError("--images is for MVOR only")
    if cfg.kind is ImportKind.panoptic:
        import_panoptic(cfg.source[0], target, cfg.force)
    elif cfg.kind is ImportKind.mvor:
        import_mvor(cfg.source[0], target, cfg.force, cfg.images)
    else:
        import_mkv(cfg.source, target, cfg.force)
    log.info("session %s written to %s", cfg.session, target)
    return 0
