"""Read a session: its cameras' frames grouped into synchronized frame-sets.

    reader = open_session("recordings/OR_03")
    for fs in reader.framesets(start=0, stop=100):     # streams, bounded memory
        for name, view in fs.views.items(): ...          # view.rgb, view.depth_m (registered)

Frame-sets: all views of all cameras are sorted by timestamp and grouped greedily: a group
starts at the earliest unassigned view and takes the following views within the manifest's
tolerance (``sync_tolerance_ms``, default a third of the frame period), at most one per
camera. The frame-set's timestamp is its earliest view's. A camera that missed an instant
is absent from that frame-set. The table of groups (a few integers per frame-set) is built
once when the session is opened; images are decoded only while iterating, so
``framesets(start, stop)`` of any chunk seeks directly to it (``.mkv`` sources seek in the
file).

Camera models: a folder camera takes everything from the calibration file. An ``.mkv``
camera takes its colour and depth intrinsics and ``cam_from_depth`` from the recording's
``calibration.json`` attachment, unless its calibration-file entry gives a ``depth``
model (then the file wins); its world pose always comes from the calibration file. A
camera without a world pose (``world_from_cam`` null, or an ``.mkv`` camera missing from
the file) is listed in ``calibration.uncalibrated``. A calibration entry for an ``.mkv``
camera may give only ``world_from_cam`` (no ``color``): intrinsics from the recording.

Damage: a source that cannot be opened, a frame file that is not a regular file (a FIFO,
a device, a dangling link) and a non-finite number in the manifest or calibration are
errors (one line naming the file), raised when the session is opened. A frame that cannot
be read (corrupt, truncated or empty file, wrong size or type) costs one view: the
frame-set lists the camera in ``failed`` with the file and the reason (the pipeline writes
that view obscured or withheld), and the camera comes back at its next good frame. A
recording that ends before its last indexed frame fails its remaining views the same way.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orscene.errors import CalibrationError, RecordingError, SessionError
from orscene.geometry.camera import sphere_box_px
from orscene.geometry.depth_registration import register_depth_to_color
from orscene.geometry.rig import CameraRig
from orscene.recording.folder import FolderFrame, FolderSource, check_regular_file, depth_png_size
from orscene.recording.mkv import MkvReader
from orscene.recording.session import (
    MANIFEST_NAME,
    Calibration,
    SessionManifest,
    SourceKind,
    load_calibration,
    load_manifest,
)
from orscene.types import Camera, FrameSet, View, ViewFailure

__all__ = ["SessionReader", "open_session", "group_by_timestamp"]

log = logging.getLogger(__name__)


def group_by_timestamp(stamps_ns: dict[str, np.ndarray], tolerance_ns: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Group per-camera timestamps into frame-sets.

    Returns ``(frameset_timestamps_ns (F,) int64, {camera: (F,) int64 local frame index or -1})``.
    Greedy: the earliest unassigned view opens a group that takes later views within
    ``tolerance_ns`` of it, one per camera.
    """
    names = list(stamps_ns)
    if not names:
        return np.zeros(0, np.int64), {}
    ts = np.concatenate([np.asarray(stamps_ns[n], dtype=np.int64) for n in names])
    cam = np.concatenate([np.full(len(stamps_ns[n]), k, dtype=np.int64) for k, n in enumerate(names)])
    local = np.concatenate([np.arange(len(stamps_ns[n]), dtype=np.int64) for n in names])
    order = np.lexsort((cam, ts))
    group_ts: list[int] = []
    rows: list[list[int]] = []
    anchor = None
    row: list[int] = []
    for o in order:
        t, c, i = int(ts[o]), int(cam[o]), int(local[o])
        if anchor is None or t - anchor > tolerance_ns or row[c] >= 0:
            anchor = t
            row = [-1] * len(names)
            rows.append(row)
            group_ts.append(t)
        row[c] = i
    table = np.array(rows, dtype=np.int64).reshape(-1, len(names))
    return np.array(group_ts, dtype=np.int64), {n: table[:, k].copy() for k, n in enumerate(names)}


@dataclass
class _Cam:
    name: str
    kind: SourceKind
    path: Path
    source: MkvReader | FolderSource
    camera: Camera


def _check_finite(cam: Camera, path: Path) -> None:
    """CalibrationError naming the camera and the key when any number of its model is
    NaN or infinite (a calibration file is checked key by key when loaded; this also
    covers an ``.mkv``'s calibration attachment)."""
    parts = {"color.K": cam.color.K_px, "color.distortion": cam.color.distortion, "world_from_cam": cam.world_from_cam}
    if cam.depth is not None:
        parts |= {"depth.K": cam.depth.K_px, "depth.distortion": cam.depth.distortion}
    if cam.cam_from_depth is not None:
        parts["cam_from_depth"] = cam.cam_from_depth
    for key, a in parts.items():
        if not np.all(np.isfinite(np.asarray(a, np.float64))):
            raise CalibrationError(f"{key} holds a value that is not a finite number", path, cam.name)


class SessionReader:
    """An opened session. Cheap to create in each worker process (no image is decoded)."""

    def __init__(self, session_path: str | Path, rig: CameraRig | None = None) -> None:
        self.path = Path(session_path)
        self.manifest: SessionManifest = load_manifest(self.path)
        calib_path = Path(self.manifest.calibration)
        if not calib_path.is_absolute():
            calib_path = self.path / calib_path
        self.calibration_path = calib_path
        file_calib = load_calibration(calib_path)
        file_cams = file_calib.all_cameras()
        self._cams: dict[str, _Cam] = {}
        cameras: dict[str, Camera] = {}
        uncal: dict[str, Camera] = {}
        for src in self.manifest.cameras:
            spath = Path(src.path) if Path(src.path).is_absolute() else self.path / src.path
            entry = file_cams.get(src.name)
            posed = src.name in file_calib.cameras
            pose_only = file_calib.poses_only.get(src.name)
            if src.kind is SourceKind.MKV:
                if not spath.is_file() and not spath.is_symlink() and not spath.exists():
                    raise RecordingError(f"recording of camera {src.name!r} not found", spath)
                check_regular_file(spath, f"recording of camera {src.name!r}")
                mkv = MkvReader(spath, strict=False)
                if entry is not None and entry.depth is not None:
                    cam = Camera(src.name, entry.color, entry.world_from_cam, entry.depth, entry.cam_from_depth)
                else:
                    a = mkv.camera
                    if entry is not None:
                        pose = entry.world_from_cam
                    elif pose_only is not None:
                        pose, posed = pose_only, True
                    else:
                        pose = np.eye(4)
                    cam = Camera(src.name, a.color, pose, a.depth, a.cam_from_depth)
                if (cam.color.width_px, cam.color.height_px) != mkv.color_wh:
                    raise CalibrationError(
                        f"colour resolution {cam.color.size_wh} does not match the recording's {mkv.color_wh}", calib_path, src.name
                    )
                source: MkvReader | FolderSource = mkv
            else:
                if not spath.is_dir():
                    raise RecordingError(f"image folder of camera {src.name!r} not found", spath)
                if entry is None:
                    raise CalibrationError("camera missing from the calibration file", calib_path, src.name)
                cam = entry
                source = FolderSource(spath, self.manifest.fps)
                if source.n_frames == 0:
                    log.warning("%s: camera %r has no colour images yet", spath / "color", src.name)
                else:
                    # the first few readable frames decide: one damaged or odd file is one
                    # bad view (reported when read), a whole camera of the wrong size is an error
                    sizes = source.color_sizes(3)
                    if sizes and all(wh != cam.color.size_wh for _, wh in sizes):
                        f, wh = sizes[0]
                        raise RecordingError(
                            f"colour images are {wh[0]}x{wh[1]}, the calibration says {cam.color.width_px}x{cam.color.height_px}", f
                        )
                    dsizes = source.depth_sizes(3)
                    ok = cam.depth.size_wh if cam.depth is not None else cam.color.size_wh
                    if dsizes and all(dwh != ok for _, dwh in dsizes):
                        dwh = dsizes[0][1]
                        what = "depth sensor" if cam.depth is not None else "colour image (no depth sensor calibrated)"
                        raise RecordingError(
                            f"depth images are {dwh[0]}x{dwh[1]}, matching neither the {what} {ok[0]}x{ok[1]}",
                            spath / "depth",
                        )
            _check_finite(cam, calib_path if entry is not None else spath)
            self._cams[src.name] = _Cam(src.name, src.kind, spath, source, cam)
            (cameras if posed else uncal)[src.name] = cam
        extra = sorted((set(file_cams) | set(file_calib.poses_only)) - set(self._cams))
        if extra:
            log.info("%s: cameras %s are not in the manifest; ignored", calib_path, extra)
        self.calibration = Calibration(cameras, uncal, {k: v for k, v in file_calib.residuals.items() if k in self._cams})
        every = {n: c.camera for n, c in self._cams.items()}
        self.rig: CameraRig = rig if rig is not None and rig.holds(every) else CameraRig(every)
        """Every camera of the session (calibrated or not) with its lens tables and depth
        registration, built on first use (``rig.subset(calibration.cameras)``: the calibrated ones)."""
        stamps = {n: c.source.timestamps_ns for n, c in self._cams.items()}
        self.frameset_timestamps_ns, self._table = group_by_timestamp(stamps, self.manifest.tolerance_ns)

    # -- the stable interface used by the pipeline ----------------------------------------
    @property
    def camera_names(self) -> tuple[str, ...]:
        """Cameras in manifest order."""
        return tuple(self._cams)

    @property
    def n_framesets(self) -> int:
        return int(self.frameset_timestamps_ns.shape[0])

    @property
    def fps(self) -> float:
        """Nominal frame-sets per second (the manifest's ``fps``)."""
        return float(self.manifest.fps)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last frame-set plus one frame period (0 when empty)."""
        if self.n_framesets == 0:
            return 0.0
        ts = self.frameset_timestamps_ns
        return float(ts[-1] - ts[0]) / 1e9 + 1.0 / self.fps

    def camera(self, name: str) -> Camera:
        return self._cams[name].camera

    def source(self, name: str) -> MkvReader | FolderSource:
        """The camera's underlying source (MkvReader or FolderSource)."""
        return self._cams[name].source

    def color_size(self, name: str) -> tuple[int, int]:
        """(W, H) of the camera's colour images."""
        src = self._cams[name].source
        wh = src.color_wh if isinstance(src, MkvReader) else src.first_color_size()
        if wh is None:
            raise RecordingError(f"camera {name!r} has no colour images", self._cams[name].path)
        return (int(wh[0]), int(wh[1]))

    def n_frames(self, name: str) -> int:
        """Frames of one camera."""
        return self._cams[name].source.n_frames

    def kind(self, name: str) -> str:
        """``"RGB-D"`` or ``"RGB"``."""
        c = self._cams[name]
        has_depth = c.camera.has_depth or (isinstance(c.source, FolderSource) and c.source.has_depth)
        return "RGB-D" if has_depth else "RGB"

    def frame_index(self, frameset: int, camera: str) -> int | None:
        """Local frame index of ``camera`` in frame-set ``frameset`` (None when absent)."""
        i = int(self._table[camera][frameset])
        return None if i < 0 else i

    def input_files(self) -> list[Path]:
        """Every file the session's frames and calibration are read from (for checksums):
        the manifest, the calibration file, each ``.mkv``, each image and timestamps file."""
        out = [self.path / MANIFEST_NAME, self.calibration_path]
        for c in self._cams.values():
            out += [c.path] if isinstance(c.source, MkvReader) else c.source.files()
        return out

    def _depth_m(self, c: _Cam, depth_mm: np.ndarray | None, hw: tuple[int, int], roi: list | None = None) -> np.ndarray | None:
        """Depth on the colour grid: registered (only inside the colour boxes ``roi`` when
        given), or as stored when the depth already is on the colour grid."""
        if c.camera.depth is not None:
            if depth_mm is None:
                return np.zeros(hw, dtype=np.float32)  # an RGB-D camera that missed a depth frame
            if depth_mm.shape != (c.camera.depth.height_px, c.camera.depth.width_px):
                raise RecordingError(
                    f"depth frame is {depth_mm.shape[1]}x{depth_mm.shape[0]}, the depth sensor is {c.camera.depth.size_wh}", c.path
                )
            return register_depth_to_color(depth_mm, self.rig.registration(c.name), roi_px=roi)
        if depth_mm is None:
            return None
        if depth_mm.shape != hw:
            raise RecordingError(f"depth frame is {depth_mm.shape[1]}x{depth_mm.shape[0]}, colour is {hw[1]}x{hw[0]}", c.path)
        return depth_mm.astype(np.float32) * np.float32(1e-3)  # z_m = d_mm / 1000, already on the colour grid

    def framesets(
        self, start: int = 0, stop: int | None = None, with_depth: Callable[[int], bool | np.ndarray] | None = None
    ) -> Iterator[FrameSet]:
        """Frame-sets ``start <= index < stop``, decoded one at a time (bounded memory).

        ``with_depth(index)`` False skips registering depth for that frame-set (its views
        then carry ``depth_m=None``): for callers that need depth only on some frame-sets.
        The views of depth sensors then carry ``depth_in_boxes`` instead, which registers
        (and first decodes) the depth only where, and if, it is asked for.
        ``with_depth`` may also return world spheres ``(K, 4)`` (x, y, z, radius in
        metres): depth sensors are then registered only where those spheres appear in each
        colour image (exact there, 0 elsewhere), which costs a fraction of the whole image.
        Depth that is already on the colour grid is returned whole.

        A frame that cannot be read (corrupt, truncated or empty file, colour or depth of
        the wrong size or type) costs that one view: the camera is listed in the
        frame-set's ``failed`` with the file and the reason, and comes back at its next
        good frame. A depth file is checked (header and completeness) on every frame-set,
        whether or not its depth is registered there, so every pass over the session sees
        the same failures."""
        stop = self.n_framesets if stop is None else min(int(stop), self.n_framesets)
        start = max(0, int(start))
        if start >= stop:
            return
        last: dict[str, int] = {}
        for name in self._cams:
            idx = self._table[name][start:stop]
            idx = idx[idx >= 0]
            if idx.size:
                last[name] = int(idx.max())
        iters: dict[str, Iterator] = {}
        ended: dict[str, str] = {}  # camera -> why its stream ended before its last frame
        for k in range(start, stop):
            views: dict[str, View] = {}
            failed: dict[str, ViewFailure] = {}
            for name in last:
                li = int(self._table[name][k])
                if li < 0:
                    continue
                c = self._cams[name]
                if name in ended:
                    failed[name] = self._failure(c, str(c.path), ended[name])
                    continue
                if name not in iters:  # (re)start at this frame: after a bad frame the next good one reads
                    iters[name] = iter(c.source.frames(li, last[name] + 1))
                try:
                    fr = next(iters[name])
                    while fr.index < li:
                        fr = next(iters[name])
                except StopIteration:
                    log.warning("%s: camera %r ends at frame %d (frame-set %d); its later views are obscured", c.path, name, li, k)
                    ended[name] = f"the recording ends before frame {li}"
                    failed[name] = self._failure(c, str(c.path), ended[name])
                    continue
                except RecordingError as e:  # the stream cannot go on: restart at the next frame
                    del iters[name]
                    failed[name] = self._failure(c, str(e.path or c.path), e.message)
                    continue
                try:
                    views[name] = self._view(c, fr, with_depth, k)
                except RecordingError as e:
                    failed[name] = self._failure(c, str(e.path or c.path), e.message, fr.rgb)
            for name, f in failed.items():
                log.warning("frame-set %d: camera %r cannot be read: %s: %s", k, name, f.path, f.reason)
            yield FrameSet(k, int(self.frameset_timestamps_ns[k]), views, failed)

    def _failure(self, c: _Cam, path: str, reason: str, rgb: np.ndarray | None = None) -> ViewFailure:
        w, h = c.camera.color.size_wh
        if rgb is not None and rgb.shape[:2] != (h, w):
            rgb = None
        return ViewFailure(c.name, path, reason, (int(w), int(h)), rgb)

    def _view(self, c: _Cam, fr, with_depth: Callable | None, k: int) -> View:
        """One camera's decoded frame as a View; RecordingError naming the file when its
        colour or depth is not what the camera's calibration says."""
        w, h = c.camera.color.size_wh
        if fr.rgb.shape[:2] != (h, w):
            where = c.source.color_path(fr.index) if isinstance(c.source, FolderSource) else c.path
            raise RecordingError(f"colour image is {fr.rgb.shape[1]}x{fr.rgb.shape[0]}, the camera's is {w}x{h}", where)
        depth_path = fr.depth_path if isinstance(fr, FolderFrame) else None  # an .mkv's depth is checked when decoded
        if depth_path is not None:  # header only: cheap, and catches empty, cut and mis-sized files
            dwh = depth_png_size(depth_path)
            ok = c.camera.depth.size_wh if c.camera.depth is not None else (w, h)
            if dwh != tuple(ok):
                raise RecordingError(f"depth image is {dwh[0]}x{dwh[1]}, expected {ok[0]}x{ok[1]}", depth_path)
        need = True if with_depth is None else with_depth(k)
        hw = fr.rgb.shape[:2]
        on_demand = None
        if need is None or isinstance(need, (bool, np.bool_)):
            depth_m = self._depth_m(c, fr.depth_mm, hw) if need else None
            if not need and c.camera.depth is not None:  # decoded and registered only if asked
                on_demand = lambda boxes, c=c, fr=fr, hw=hw: self._depth_m(c, fr.depth_mm, hw, roi=list(boxes))
        else:  # only around these world spheres (x, y, z, radius)
            boxes = (sphere_box_px(c.camera, sp[:3], float(sp[3]), lens=self.rig.lens(c.name)) for sp in np.asarray(need, np.float64).reshape(-1, 4))
            depth_m = self._depth_m(c, fr.depth_mm, hw, roi=[b for b in boxes if b is not None])
        return View(c.name, fr.rgb, int(fr.timestamp_ns), depth_m, on_demand)


def open_session(session_path: str | Path, rig: CameraRig | None = None) -> SessionReader:
    """Open ``session_path`` (a folder with ``session.yaml``); raises a one-line
    OrsceneError naming the file when the manifest, calibration or a source is missing or
    malformed. ``rig``: the session's cameras as an earlier open built them
    (``reader.rig``), whose tables are reused when its cameras are this session's."""
    path = Path(session_path)
    if not path.is_dir():
        raise SessionError("session folder not found", path)
    return SessionReader(path, rig)
