"""Azure Kinect ``.mkv`` recordings, read with PyAV (no Azure Kinect SDK).

A recording written by ``k4arecorder`` is a Matroska file with the tracks ``COLOR``
(MJPEG, NV12 or BGRA), ``DEPTH`` (raw ``b16g``: 16-bit big-endian millimetres on the depth
sensor's grid), ``IR``, ``IMU`` and the attachment ``calibration.json`` (the factory
calibration). Track timestamps are microseconds since the start of the recording; a
*capture* is a colour frame plus the depth frame with the same timestamp (shifted by
``K4A_DEPTH_DELAY_NS``). Opening indexes the captures from the Matroska element headers
alone (:mod:`orscene.recording.ebml`), falling back to PyAV's demuxer for the layouts it cannot
index (unknown-size clusters, laced blocks).

Calibration conversion (:func:`camera_from_k4a_calibration`), once, at this boundary:

* ``ModelParameters`` = ``cx, cy, fx, fy, k1..k6, codx, cody, p2, p1, metric_radius``; the
  first four are normalised by the calibration image size; distortion becomes OpenCV's
  ``k1, k2, p1, p2, k3, k4, k5, k6`` (note the swapped ``p2, p1``).
* The recorded mode is a scale and crop of the sensor: colour modes are the 4:3 sensor
  scaled to width ``W`` and centre-cropped vertically to ``H`` (720p: 4096x3072 ->
  1280x960, rows 120..839); depth NFOV unbinned is the 1024x1024 sensor cropped at
  (192, 180) to 640x576, NFOV binned the 512x512 binned sensor cropped at (96, 90) to
  320x288, WFOV uses the whole (binned) sensor. So ``cx_px = cx * W_cal - crop_x - 0.5``
  (Azure puts the centre of pixel (0, 0) at (0.5, 0.5); orscene at (0, 0)).
* The colour camera's ``Rt`` is the transform from the depth camera to the colour camera
  (``x_color = R x_depth + t``, rotation row-major, translation in metres): it is our
  ``cam_from_depth``. The depth camera's own ``Rt`` is the identity.
"""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from orscene.errors import CalibrationError, RecordingError, excerpt
from orscene.recording.ebml import matroska_block_index, matroska_truncation
from orscene.types import Camera, Intrinsics

__all__ = [
    "MkvFrame",
    "MkvReader",
    "camera_from_k4a_calibration",
    "k4a_intrinsics",
    "DEPTH_MODES",
]

log = logging.getLogger(__name__)

DEPTH_MODES: dict[tuple[int, int], tuple[int, tuple[int, int]]] = {
    # recorded (W, H) -> (calibration image side in px, crop offset (x, y)) for the 1024x1024 sensor
    (640, 576): (1024, (192, 180)),  # NFOV unbinned
    (320, 288): (512, (96, 90)),  # NFOV 2x2 binned
    (1024, 1024): (1024, (0, 0)),  # WFOV unbinned / passive IR
    (512, 512): (512, (0, 0)),  # WFOV 2x2 binned
}


def k4a_intrinsics(
    params: list[float], cal_w: float, cal_h: float, crop_xy: tuple[float, float], size_wh: tuple[int, int]
) -> Intrinsics:
    """Convert Azure ``ModelParameters`` (normalised by ``cal_w x cal_h``) into orscene
    Intrinsics for an image cropped at ``crop_xy`` of size ``size_wh``.

    ``cx_px = cx * cal_w - crop_x - 0.5`` (pixel-centre shift), ``fx_px = fx * cal_w``;
    distortion ``(k1, k2, p1, p2, k3, k4, k5, k6)`` from ``params[4:10]`` and ``params[13], params[12]``.
    """
    if len(params) < 14:
        raise ValueError(f"expected 14 ModelParameters, got {len(params)}")
    cx, cy, fx, fy = params[0:4]
    k1, k2, k3, k4, k5, k6 = params[4:10]
    p2, p1 = params[12], params[13]
    K = np.array(
        [
            [fx * cal_w, 0.0, cx * cal_w - crop_xy[0] - 0.5],
            [0.0, fy * cal_h, cy * cal_h - crop_xy[1] - 0.5],
            [0.0, 0.0, 1.0],
        ]
    )
    return Intrinsics(K, np.array([k1, k2, p1, p2, k3, k4, k5, k6], dtype=np.float64), size_wh[0], size_wh[1])


def _find(cams: list[dict], purpose: str) -> dict | None:
    for c in cams:
        if c.get("Purpose") == purpose:
            return c
    return None


def camera_from_k4a_calibration(
    calib: dict | str | bytes,
    color_wh: tuple[int, int],
    depth_wh: tuple[int, int] | None,
    name: str,
    path: str | Path | None = None,
) -> Camera:
    """Build a Camera (world pose = identity) from an Azure Kinect ``calibration.json``.

    ``color_wh`` is the recorded colour resolution, ``depth_wh`` the recorded depth
    resolution or None for a colour-only recording. ``path`` names the file in errors.
    """
    try:
        data = json.loads(calib) if isinstance(calib, (str, bytes)) else calib
        cams = data["CalibrationInformation"]["Cameras"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CalibrationError(f"malformed Azure Kinect calibration.json ({type(e).__name__}: {excerpt(str(e))})", path) from None
    color = _find(cams, "CALIBRATION_CameraPurposePhotoVideo")
    depth = _find(cams, "CALIBRATION_CameraPurposeDepth")
    if color is None:
        raise CalibrationError("Azure Kinect calibration has no colour (PhotoVideo) camera", path)
    try:
        cw, ch = color_wh
        sw, sh = float(color["SensorWidth"]), float(color["SensorHeight"])
        # colour modes: the 4:3 (or 1536p/3072p full) sensor scaled to width cw, centre-cropped to ch
        cal_w, cal_h = float(cw), float(cw) * sh / sw
        if ch > cal_h + 0.5:
            raise CalibrationError(f"colour resolution {cw}x{ch} is not a mode of the {sw:.0f}x{sh:.0f} sensor", path)
        color_intr = k4a_intrinsics(color["Intrinsics"]["ModelParameters"], cal_w, cal_h, (0.0, (cal_h - ch) / 2.0), (cw, ch))
        R = np.array(color["Rt"]["Rotation"], dtype=np.float64).reshape(3, 3)
        t = np.array(color["Rt"]["Translation"], dtype=np.float64).reshape(3)
        if np.linalg.norm(t) > 1.0:  # factory files store metres; a millimetre file would be ~30
            raise CalibrationError(f"colour extrinsic translation {t.tolist()} is not in metres", path)
        cam_from_depth = np.eye(4)
        cam_from_depth[:3, :3], cam_from_depth[:3, 3] = R, t
        depth_intr = None
        if depth_wh is not None:
            if depth is None:
                raise CalibrationError("Azure Kinect calibration has no depth camera", path)
            mode = DEPTH_MODES.get(tuple(depth_wh))
            if mode is None:
                raise CalibrationError(f"depth resolution {depth_wh[0]}x{depth_wh[1]} is not an Azure Kinect depth mode", path)
            side, crop = mode
            depth_intr = k4a_intrinsics(depth["Intrinsics"]["ModelParameters"], side, side, crop, tuple(depth_wh))
            # the depth camera is the reference of the extrinsics; fold in its Rt in case it is not identity
            Rd = np.array(depth["Rt"]["Rotation"], dtype=np.float64).reshape(3, 3)
            td = np.array(depth["Rt"]["Translation"], dtype=np.float64).reshape(3)
            ref_from_depth = np.eye(4)
            ref_from_depth[:3, :3], ref_from_depth[:3, 3] = Rd, td
            cam_from_depth = cam_from_depth @ np.linalg.inv(ref_from_depth)
        return Camera(
            name=name,
            color=color_intr,
            depth=depth_intr,
            cam_from_depth=cam_from_depth if depth_intr is not None else None,
        )
    except CalibrationError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise CalibrationError(f"malformed Azure Kinect calibration ({type(e).__name__}: {excerpt(str(e))})", path) from None


@dataclass(frozen=True)
class MkvFrame:
    """One capture of an Azure Kinect recording."""

    index: int
    """Capture index in the recording, 0-based."""
    timestamp_ns: int
    """Colour timestamp, ns since the start of the recording."""
    rgb: np.ndarray
    """(H, W, 3) uint8 RGB."""
    depth_mm: np.ndarray | None
    """(Hd, Wd) uint16 millimetres on the depth sensor's grid (not registered), or None."""


@dataclass(frozen=True)
class _Capture:
    color_pts: int
    depth_pts: int | None


def _track(container: av.container.InputContainer, title: str):
    for s in container.streams:
        if s.metadata.get("title") == title and s.type == "video":
            return s
    return None


class MkvReader:
    """Lazy, streaming reader of one Azure Kinect recording.

    Opening scans the packet headers once (no decoding) to index the captures; frames are
    decoded on demand by :meth:`frames`, which seeks to the requested capture.
    With ``strict`` (the default) a truncated or corrupt file raises RecordingError;
    otherwise the captures before the damage are kept and a warning is logged.
    """

    def __init__(self, path: str | Path, strict: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise RecordingError("Azure Kinect recording not found", self.path)
        self.broken_at: int | None = None
        """Index of the first damaged capture (None when the file is intact)."""
        self.truncation = matroska_truncation(self.path)
        """Why the file looks truncated, or None."""
        if self.truncation is not None and (strict or "truncated" not in self.truncation):
            raise RecordingError(self.truncation, self.path)
        try:
            with av.open(str(self.path)) as c:
                self._read_header(c)
                self._index(c, strict)
        except av.FFmpegError as e:
            raise RecordingError(f"not a readable Azure Kinect recording ({type(e).__name__}: {excerpt(str(e))})", self.path) from None
        if not self._captures and self.broken_at is not None:
            what = self.truncation or f"truncated or corrupt after {self.broken_at} colour frame(s)"
            raise RecordingError(f"{what}, and no capture before the damage is complete: nothing to read", self.path)
        if not self._captures:
            raise RecordingError("recording holds no colour frame", self.path)
        if self.broken_at is not None:
            log.warning(
                "%s: %s; keeping the %d complete capture(s) before the damage",
                self.path, self.truncation or f"truncated or corrupt after {self.broken_at} colour frame(s)", len(self._captures),
            )  # fmt: skip

    # -- header -----------------------------------------------------------------------
    def _read_header(self, c) -> None:
        color = _track(c, "COLOR")
        if color is None:
            raise RecordingError("no COLOR track: not an Azure Kinect recording with colour", self.path)
        depth = _track(c, "DEPTH")
        self.color_codec: str = color.codec_context.name
        self.color_wh = (int(color.codec_context.width), int(color.codec_context.height))
        if depth is not None:
            # k4arecorder writes the tag b16g; remuxers may drop it (empty): read as b16g either way
            tag = (getattr(depth.codec_context, "codec_tag", "") or "").strip("\x00 ")
            if depth.codec_context.name != "rawvideo" or tag not in ("b16g", ""):
                raise RecordingError(f"DEPTH track has codec {depth.codec_context.name}/{tag}, expected rawvideo b16g", self.path)
            self.depth_wh: tuple[int, int] | None = (int(depth.codec_context.width), int(depth.codec_context.height))
        else:
            self.depth_wh = None
        self._color_index, self._depth_index = color.index, (depth.index if depth is not None else None)
        self.time_base = color.time_base
        self.metadata = dict(c.metadata)
        self.color_mode = color.metadata.get("K4A_COLOR_MODE", "")
        self.depth_mode = depth.metadata.get("K4A_DEPTH_MODE", "") if depth is not None else ""
        self.depth_delay_ns = int(self.metadata.get("K4A_DEPTH_DELAY_NS", "0") or 0)
        att = None
        for s in c.streams:
            if s.type == "attachment" and (
                s.metadata.get("K4A_CALIBRATION_FILE") or s.metadata.get("filename") == "calibration.json"
            ):
                att = s
        if att is None:
            raise CalibrationError("no calibration.json attachment", self.path)
        self.calibration_json: bytes = bytes(att.data)
        self.camera = camera_from_k4a_calibration(
            self.calibration_json, self.color_wh, self.depth_wh, name=self.path.stem or "cam", path=self.path
        )

    def _index(self, c, strict: bool) -> None:
        depth_size = None if self.depth_wh is None else self.depth_wh[0] * self.depth_wh[1] * 2
        tb_ns = float(self.time_base) * 1e9
        fast = matroska_block_index(self.path)
        if fast is not None and "COLOR" in fast[0]:
            blocks, scale, complete = fast
            color_pts = [round(t * scale / tb_ns) for t, n in blocks["COLOR"] if n > 0]
            depth_pts = []
            for t, n in blocks.get("DEPTH", []) if depth_size is not None else []:
                if n == 0:
                    continue
                if n != depth_size:
                    complete = False
                    break
                depth_pts.append(round(t * scale / tb_ns))
            if not complete:
                self.broken_at = len(color_pts)
                if strict:
                    raise RecordingError(f"truncated or corrupt after {len(color_pts)} colour frames", self.path)
            # blocks are indexed only when whole: a capture is complete when its depth is
            self._finish_index(color_pts, depth_pts, tb_ns, drop_last=False)
            return
        self._index_by_demux(c, strict, depth_size, tb_ns)

    def _index_by_demux(self, c, strict: bool, depth_size: int | None, tb_ns: float) -> None:
        color_pts: list[int] = []
        depth_pts: list[int] = []
        streams = [c.streams[self._color_index]] + ([c.streams[self._depth_index]] if self._depth_index is not None else [])
        try:
            for pkt in c.demux(streams):
                if pkt.pts is None or pkt.size == 0:
                    continue
                if pkt.stream.index == self._color_index:
                    color_pts.append(int(pkt.pts))
                elif depth_size is not None and pkt.size != depth_size:
                    raise RecordingError(f"depth frame at pts {pkt.pts} has {pkt.size} bytes, expected {depth_size}: truncated or corrupt")
                else:
                    depth_pts.append(int(pkt.pts))
        except (av.FFmpegError, RecordingError) as e:
            msg = e.message if isinstance(e, RecordingError) else f"{type(e).__name__}: {e}"
            if strict:
                raise RecordingError(f"truncated or corrupt after {len(color_pts)} colour frames ({msg})", self.path) from None
            log.warning("%s: truncated or corrupt after %d colour frames (%s)", self.path, len(color_pts), excerpt(msg))
            self.broken_at = len(color_pts)
        if self.truncation is not None and self.broken_at is None:
            self.broken_at = len(color_pts)
        self._finish_index(color_pts, depth_pts, tb_ns)

    def _finish_index(self, color_pts: list[int], depth_pts: list[int], tb_ns: float, drop_last: bool = True) -> None:
        """The captures (colour pts matched to depth pts). In a damaged file the captures
        before the damage are kept: all of them whose colour and (when the recording has
        depth) depth are whole when the blocks were indexed whole (``drop_last`` False),
        else all but the last, whose packets the demuxer may have cut."""
        if self.truncation is not None and self.broken_at is None:
            self.broken_at = len(color_pts)
        delay = int(round(self.depth_delay_ns / tb_ns)) if tb_ns else 0
        dset = {p - delay: p for p in depth_pts}
        half = int(round(1e9 / 30 / 2 / tb_ns))  # tolerance for matching colour and depth pts
        dsorted = np.array(sorted(dset), dtype=np.int64)
        caps = []
        for cp in sorted(set(color_pts)):
            dp = None
            if dsorted.size:
                j = int(np.searchsorted(dsorted, cp))
                best = min((k for k in (j - 1, j) if 0 <= k < dsorted.size), key=lambda k: abs(int(dsorted[k]) - cp))
                if abs(int(dsorted[best]) - cp) <= half:
                    dp = dset[int(dsorted[best])]
            caps.append(_Capture(cp, dp))
        if self.broken_at is not None and caps:
            if drop_last:
                caps = caps[:-1]  # the last capture before the damage may be incomplete: drop it
            while caps and self.depth_wh is not None and caps[-1].depth_pts is None:
                caps = caps[:-1]  # its depth was lost with the damage
        self._captures: list[_Capture] = caps
        self._tb_ns = tb_ns

    # -- properties -------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return len(self._captures)

    @property
    def timestamps_ns(self) -> np.ndarray:
        """(n_frames,) int64 colour timestamps, ns since the recording start."""
        return np.array([round(c.color_pts * self._tb_ns) for c in self._captures], dtype=np.int64)

    @property
    def has_depth(self) -> bool:
        return self.depth_wh is not None

    @property
    def fps(self) -> float:
        """Frame rate from the colour mode metadata, or from the timestamps."""
        ts = self.timestamps_ns
        if ts.size >= 2:
            return float(1e9 / np.median(np.diff(ts)))
        return 30.0

    # -- decoding ---------------------------------------------------------------------
    def _decode_color(self, pkt) -> np.ndarray:
        data = bytes(pkt)
        if self.color_codec == "mjpeg":
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if img is None:
                raise RecordingError(f"corrupt MJPEG colour frame at pts {pkt.pts}", self.path)
            rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        else:
            w, h = self.color_wh
            if self.color_codec == "rawvideo" and len(data) == w * h * 3 // 2:  # NV12
                yuv = np.frombuffer(data, np.uint8).reshape(h * 3 // 2, w)
                rgb = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_NV12)
            elif self.color_codec == "rawvideo" and len(data) == w * h * 4:  # BGRA
                rgb = cv2.cvtColor(np.frombuffer(data, np.uint8).reshape(h, w, 4), cv2.COLOR_BGRA2RGB)
            else:
                raise RecordingError(f"colour frame at pts {pkt.pts}: codec {self.color_codec} with {len(data)} bytes is not MJPEG, NV12 or BGRA", self.path)
        if rgb.shape[:2] != (self.color_wh[1], self.color_wh[0]):
            raise RecordingError(f"colour frame at pts {pkt.pts} is {rgb.shape[1]}x{rgb.shape[0]}, expected {self.color_wh}", self.path)
        return np.ascontiguousarray(rgb)

    def _decode_depth(self, pkt) -> np.ndarray:
        w, h = self.depth_wh
        data = bytes(pkt)
        if len(data) != w * h * 2:
            raise RecordingError(f"depth frame at pts {pkt.pts} has {len(data)} bytes, expected {w * h * 2}", self.path)
        return np.frombuffer(data, dtype=">u2").reshape(h, w).astype(np.uint16)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[MkvFrame]:
        """Decode captures ``start <= i < stop`` in order, seeking to ``start``.

        Raises RecordingError at the first frame that cannot be decoded.
        """
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        if start >= stop:
            return
        wanted = {c.color_pts: i for i, c in enumerate(self._captures[start:stop], start)}
        wanted_depth = {c.depth_pts: i for i, c in enumerate(self._captures[start:stop], start) if c.depth_pts is not None}
        pending: dict[int, dict] = {}
        next_i = start
        try:
            with av.open(str(self.path)) as c:
                cs = c.streams[self._color_index]
                streams = [cs] + ([c.streams[self._depth_index]] if self._depth_index is not None else [])
                first_pts = min(self._captures[start].color_pts, self._captures[start].depth_pts or self._captures[start].color_pts)
                if start > 0:
                    c.seek(first_pts, stream=cs, backward=True, any_frame=False)
                for pkt in c.demux(streams):
                    if pkt.pts is None or pkt.size == 0:
                        continue
                    if pkt.stream.index == self._color_index and pkt.pts in wanted:
                        pending.setdefault(wanted[pkt.pts], {})["rgb"] = self._decode_color(pkt)
                    elif pkt.stream.index == self._depth_index and pkt.pts in wanted_depth:
                        pending.setdefault(wanted_depth[pkt.pts], {})["depth"] = self._decode_depth(pkt)
                    # emit every capture that is complete, in order
                    while next_i < stop and next_i in pending:
                        cap = self._captures[next_i]
                        got = pending[next_i]
                        if "rgb" not in got or (cap.depth_pts is not None and "depth" not in got):
                            break
                        del pending[next_i]
                        yield MkvFrame(next_i, round(cap.color_pts * self._tb_ns), got["rgb"], got.get("depth"))
                        next_i += 1
                    if next_i >= stop:
                        return
                    if pkt.pts > self._captures[next_i].color_pts + 2e9 / self._tb_ns:
                        # far past the capture we wait for: its packets are missing
                        raise RecordingError(f"capture {next_i} is incomplete in the file")
        except av.FFmpegError as e:
            raise RecordingError(f"corrupt data near capture {next_i} ({type(e).__name__}: {excerpt(str(e))})", self.path) from None
        except RecordingError as e:
            if e.path is None:
                raise RecordingError(e.message, self.path) from None
            raise
        if next_i < stop:
            raise RecordingError(f"recording ends at capture {next_i}, expected {stop} (truncated?)", self.path)

    def read(self, index: int) -> MkvFrame:
        """Decode one capture."""
        if not 0 <= index < self.n_frames:
            raise IndexError(index)
        return next(self.frames(index, index + 1))
