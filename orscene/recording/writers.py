"""Writers for anonymized colour: image sequences and MP4 (H.264 via PyAV).

Image sequences: ``<dir>/NNNNNN.jpg|png`` per frame-set index, each written atomically
(``atomic_write_bytes``: a reader sees the old file or the complete new one).

MP4: H.264 (``libx264``, else ``libopenh264``; ``mpeg4`` with a logged warning when the
PyAV wheel has neither), ``yuv420p``, even dimensions (an odd last row/column is dropped,
never resampled), and the source's timing: each frame's pts is its ``timestamp_ns``
relative to the first frame in a 1/90000 s time base (the MPEG standard clock; 1/30000 s
for the mpeg4 fallback), so frame drops and jitter of the recording are kept. Written to a
temporary file in the same folder and renamed when complete.
"""

import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from orscene.errors import RecordingError, ShapeError
from orscene.recording.session import apply_umask, atomic_path, atomic_write_bytes

__all__ = [
    "ImageFormat",
    "encode_image",
    "write_image",
    "image_path",
    "h264_encoder",
    "Mp4Writer",
    "write_mp4",
    "concat_mp4",
    "MP4_TIME_BASE",
]

log = logging.getLogger(__name__)

MP4_TIME_BASE = Fraction(1, 90000)
"""Time base of the MP4 video stream (90 kHz)."""

ImageFormat = str
"""``"jpg"`` or ``"png"``."""


def encode_image(rgb: np.ndarray, fmt: str = "jpg", jpeg_quality: int = 95) -> bytes:
    """Encode (H, W, 3) uint8 RGB as JPEG or PNG bytes."""
    if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8):
        raise ShapeError("image", "(H, W, 3) uint8 RGB", getattr(rgb, "shape", type(rgb).__name__))
    fmt = fmt.lower().lstrip(".")
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if fmt in ("jpg", "jpeg"):
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    elif fmt == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        raise ShapeError("image format", "'jpg' or 'png'", fmt)
    if not ok:
        raise RecordingError(f"could not encode a {rgb.shape[1]}x{rgb.shape[0]} image as {fmt}")
    return buf.tobytes()


def image_path(folder: str | Path, index: int, fmt: str = "jpg") -> Path:
    """``<folder>/NNNNNN.<fmt>`` for frame-set ``index``."""
    return Path(folder) / f"{int(index):06d}.{fmt.lower().lstrip('.')}"


def write_image(path: str | Path, rgb: np.ndarray, jpeg_quality: int = 95) -> Path:
    """Write one RGB image atomically; the format follows the suffix (.jpg/.jpeg/.png)."""
    path = Path(path)
    atomic_write_bytes(path, encode_image(rgb, path.suffix, jpeg_quality))
    return path


def h264_encoder() -> str | None:
    """Name of an H.264 encoder in the installed PyAV/FFmpeg, or None."""
    for name in ("libx264", "libopenh264", "h264"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # noqa: BLE001 - PyAV raises various errors for unknown codecs
            continue
    return None


class Mp4Writer:
    """Append RGB frames with their timestamps to an MP4; ``close()`` finalizes it.

    Use as a context manager. The file appears under its name only when closed without
    error.
    """

    def __init__(
        self, path: str | Path, width: int, height: int, fps: float = 30.0, crf: int = 18, preset: str = "veryfast", threads: int = 0
    ) -> None:
        """``preset``: the x264 speed/size trade-off (faster presets write larger files at
        the same CRF); ``threads``: encoder threads (0 = automatic)."""
        self.path = Path(path)
        self.width, self.height = int(width) - int(width) % 2, int(height) - int(height) % 2
        if self.width <= 0 or self.height <= 0:
            raise ShapeError("MP4 size", "at least 2x2 pixels", (width, height))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".mp4")
        os.close(fd)
        self._tmp = Path(tmp)
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        codec = h264_encoder()
        if codec is None:
            log.warning("PyAV has no H.264 encoder; writing %s with mpeg4 (MPEG-4 part 2)", self.path)
            codec = "mpeg4"
        self.codec = codec
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        self._stream = self._container.add_stream(codec, rate=rate)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        # MPEG-4 part 2 allows time-base denominators < 2^16 only
        self.time_base = MP4_TIME_BASE if codec != "mpeg4" else Fraction(1, 30000)
        self._stream.time_base = self.time_base
        self._stream.codec_context.time_base = self.time_base
        if codec in ("libx264", "h264"):
            # no B-frames: decoding order = display order, so segments concatenate (concat_mp4)
            self._stream.options = {"crf": str(crf), "preset": preset, "bf": "0", "threads": str(int(threads))}
        elif codec == "mpeg4":
            self._stream.bit_rate = 8_000_000
        self._t0: int | None = None
        self._last_pts = -1
        self.n_frames = 0

    def write(self, rgb: np.ndarray, timestamp_ns: int) -> None:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ShapeError("MP4 frame", "(H, W, 3) uint8 RGB", rgb.shape)
        if rgb.shape[0] < self.height or rgb.shape[1] < self.width:
            raise ShapeError("MP4 frame", f"at least {self.width}x{self.height}", rgb.shape)
        if self._t0 is None:
            self._t0 = int(timestamp_ns)
        pts = int(round((int(timestamp_ns) - self._t0) * 1e-9 / self.time_base))
        if pts <= self._last_pts:
            raise RecordingError(f"MP4 frame timestamps must increase: {timestamp_ns} ns after pts {self._last_pts}", self.path)
        # to the encoder's YUV 4:2:0 with OpenCV (BT.601, limited range, as swscale's default
        # rgb24 -> yuv420p): about half the time of PyAV's conversion inside encode()
        yuv = cv2.cvtColor(np.ascontiguousarray(rgb[: self.height, : self.width]), cv2.COLOR_RGB2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = pts
        frame.time_base = self.time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._last_pts = pts
        self.n_frames += 1

    def close(self) -> Path:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        apply_umask(self._tmp)
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._container.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def concat_mp4(segments: Sequence[tuple[str | Path, int]], path: str | Path, t0_ns: int) -> Path:
    """Join MP4 segments written by :class:`Mp4Writer` (same size, codec and settings, each
    starting at its own first frame) into one MP4 without re-encoding. ``segments`` are
    ``(file, timestamp_ns of its first frame)`` in order; ``t0_ns`` is the video's time 0.
    The file appears under its name only when complete."""
    path = Path(path)
    if not segments:
        raise RecordingError("no video segments to join", path)
    with atomic_path(path, ".mp4") as tmp, av.open(str(tmp), mode="w", format="mp4") as out:
        ostream = None
        last_dts = None
        for seg, start_ns in segments:
            with av.open(str(seg)) as src:
                istream = src.streams.video[0]
                if ostream is None:
                    ostream = out.add_stream_from_template(istream)
                offset = int(round((int(start_ns) - int(t0_ns)) * 1e-9 / istream.time_base))
                for packet in src.demux(istream):
                    if packet.dts is None:  # the demuxer's end-of-stream marker
                        continue
                    packet.pts += offset
                    packet.dts += offset
                    if last_dts is not None and packet.dts <= last_dts:
                        raise RecordingError(f"segment timestamps overlap the previous segment's ({packet.dts} <= {last_dts})", seg)
                    last_dts = packet.dts
                    packet.stream = ostream
                    out.mux(packet)
    return path


def write_mp4(path: str | Path, frames: Iterable[tuple[np.ndarray, int]], fps: float = 30.0, crf: int = 18) -> Path:
    """Write ``(rgb, timestamp_ns)`` pairs (increasing timestamps) as one MP4."""
    writer: Mp4Writer | None = None
    try:
        for rgb, ts in frames:
            if writer is None:
                writer = Mp4Writer(path, rgb.shape[1], rgb.shape[0], fps, crf)
            writer.write(rgb, ts)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is None:
        raise RecordingError("no frames to write", path)
    return writer.close()
