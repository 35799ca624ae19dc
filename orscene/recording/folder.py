"""Image-folder recordings: one folder per camera.

Layout (``NNNNNN`` = frame number, zero padded, 6 digits or more)::

    <cam>/color/NNNNNN.jpg | .png     colour frames (required)
    <cam>/depth/NNNNNN.png            optional, uint16 millimetres (0 = invalid)
    <cam>/timestamps.csv              optional: header ``frame,timestamp_ns``, one row per frame

Depth PNGs are on the depth sensor's own grid when the calibration gives the camera a depth
sensor (the session reader registers them into the colour camera exactly like Azure Kinect
depth); a camera without depth intrinsics may only hold depth already registered to the
colour image (same size as colour). Without ``timestamps.csv`` frame ``n`` is at ``n / fps``.
"""

import csv
import functools
import logging
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orscene.errors import RecordingError, excerpt

__all__ = ["FolderFrame", "FolderSource", "read_color_image", "read_depth_png", "depth_png_size", "check_regular_file"]

log = logging.getLogger(__name__)
_FRAME_RE = re.compile(r"^(\d+)\.(jpg|jpeg|png)$", re.IGNORECASE)


@dataclass(frozen=True)
class FolderFrame:
    index: int
    """Position of the frame in the folder (0-based, in frame-number order)."""
    frame_number: int
    """The ``NNNNNN`` of the file name."""
    timestamp_ns: int
    rgb: np.ndarray
    """(H, W, 3) uint8 RGB."""
    depth_path: Path | None
    """The frame's depth PNG, or None when it has none."""

    @functools.cached_property
    def depth_mm(self) -> np.ndarray | None:
        """(Hd, Wd) uint16 millimetres as stored, or None when this frame has no depth PNG.
        Decoded on first access: a reader that skips depth on a frame never pays for it."""
        return None if self.depth_path is None else read_depth_png(self.depth_path)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_SOI, _JPEG_EOI = b"\xff\xd8", b"\xff\xd9"


def check_regular_file(path: Path, what: str) -> None:
    """RecordingError unless ``path`` is (or links to) a regular file: a FIFO or device
    would block or never end when read, a dangling link cannot be read at all."""
    try:
        st = path.stat()
    except FileNotFoundError:
        problem = "is a dangling symbolic link" if path.is_symlink() else "not found"
        raise RecordingError(f"{what} {problem}", path) from None
    except OSError as e:
        raise RecordingError(f"cannot read {what}: {e.strerror}", path) from None
    if not stat.S_ISREG(st.st_mode):
        m = st.st_mode
        kind = "a FIFO" if stat.S_ISFIFO(m) else "a device" if stat.S_ISCHR(m) or stat.S_ISBLK(m) else "a socket" if stat.S_ISSOCK(m) else "a folder"
        raise RecordingError(f"{what} is {kind}, not a regular file", path)


def _read_bytes(path: Path, what: str) -> np.ndarray:
    check_regular_file(path, what)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as e:
        raise RecordingError(f"cannot read {what}: {e.strerror or e}", path) from None
    if data.size == 0:
        raise RecordingError(f"{what} is an empty file", path)
    return data


def read_color_image(path: Path) -> np.ndarray:
    """Read a JPEG/PNG as (H, W, 3) uint8 RGB; RecordingError when unreadable, empty, or
    cut short (a JPEG without its end-of-image marker, which decoders fill with grey)."""
    data = _read_bytes(path, "colour image")
    head = data[:8].tobytes()
    if head.startswith(_JPEG_SOI) and _JPEG_EOI not in data[-1024:].tobytes():
        raise RecordingError("truncated JPEG (no end-of-image marker)", path)
    if head.startswith(_PNG_SIGNATURE) and not data[-12:].tobytes() == _PNG_IEND:
        raise RecordingError("truncated PNG (no IEND chunk at the end)", path)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise RecordingError("corrupt or unreadable colour image", path)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def depth_png_size(path: Path) -> tuple[int, int]:
    """(W, H) of a depth PNG from its header alone, after checking that the file is a
    complete single-channel 16-bit PNG (signature, IHDR, IEND); RecordingError otherwise."""
    check_regular_file(path, "depth image")
    try:
        with open(path, "rb") as f:
            head = f.read(33)
            size = f.seek(0, 2)
            f.seek(max(0, size - 12))
            tail = f.read(12)
    except OSError as e:
        raise RecordingError(f"cannot read depth image: {e.strerror or e}", path) from None
    if size == 0:
        raise RecordingError("depth image is an empty file", path)
    if not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR" or len(head) < 33:
        raise RecordingError("depth image is not a PNG", path)
    if tail != _PNG_IEND:
        raise RecordingError("truncated depth PNG (no IEND chunk at the end)", path)
    w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    bits, colour_type = head[24], head[25]
    if bits != 16 or colour_type != 0:
        kinds = {0: "grey", 2: "RGB", 3: "palette", 4: "grey+alpha", 6: "RGBA"}
        raise RecordingError(
            f"depth image must be single-channel uint16 millimetres, got a {bits}-bit {kinds.get(colour_type, '?')} PNG", path
        )
    return (w, h)


def read_depth_png(path: Path) -> np.ndarray:
    """Read a 16-bit PNG of millimetres as (H, W) uint16; RecordingError otherwise."""
    data = _read_bytes(path, "depth image")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise RecordingError("corrupt or unreadable depth image", path)
    if img.dtype != np.uint16 or img.ndim != 2:
        raise RecordingError(f"depth image must be single-channel uint16 millimetres, got {img.dtype} {img.shape}", path)
    return img


class FolderSource:
    """One camera's image folder, listed once; frames decoded on demand."""

    def __init__(self, root: str | Path, fps: float) -> None:
        self.root = Path(root)
        color_dir = self.root / "color"
        if not color_dir.is_dir():
            raise RecordingError("camera folder has no color/ subfolder", self.root)
        files: dict[int, Path] = {}
        for p in color_dir.iterdir():
            m = _FRAME_RE.match(p.name)
            if m:
                n = int(m.group(1))
                if n in files:
                    raise RecordingError(f"two colour images for frame {n}: {files[n].name}, {p.name}", color_dir)
                files[n] = p
        # a FIFO or device among the frames would block the run (checksums, decoding); a
        # dangling link could never be read: refuse them up front, by name
        for p in files.values():
            check_regular_file(p, "colour frame")
        self.frame_numbers = np.array(sorted(files), dtype=np.int64)
        self._color = [files[int(n)] for n in self.frame_numbers]
        depth_dir = self.root / "depth"
        depth_files: dict[int, Path] = {}
        if depth_dir.is_dir():
            for p in depth_dir.iterdir():
                if p.suffix.lower() == ".png" and p.stem.isdigit():
                    check_regular_file(p, "depth frame")
                    depth_files[int(p.stem)] = p
        # a frame without a depth PNG is a frame without depth measurements
        self._depth: list[Path | None] = [depth_files.get(int(n)) for n in self.frame_numbers]
        self.timestamps_ns = self._timestamps(fps)

    def _timestamps(self, fps: float) -> np.ndarray:
        path = self.root / "timestamps.csv"
        if not path.exists() and not path.is_symlink():
            return np.round(self.frame_numbers * (1e9 / fps)).astype(np.int64)
        check_regular_file(path, "timestamps file")
        table: dict[int, int] = {}
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or not {"frame", "timestamp_ns"} <= set(reader.fieldnames):
                    raise RecordingError("timestamps.csv needs the columns frame,timestamp_ns", path)
                for row in reader:
                    table[int(row["frame"])] = int(row["timestamp_ns"])
        except (ValueError, TypeError) as e:  # UnicodeDecodeError is a ValueError
            raise RecordingError(f"malformed timestamps.csv ({excerpt(str(e))})", path) from None
        missing = [int(n) for n in self.frame_numbers if int(n) not in table]
        if missing:
            raise RecordingError(f"no timestamp for frame(s) {missing[:5]}", path)
        ts = np.array([table[int(n)] for n in self.frame_numbers], dtype=np.int64)
        if np.any(np.diff(ts) <= 0):
            raise RecordingError("timestamps are not strictly increasing with the frame number", path)
        return ts

    @property
    def n_frames(self) -> int:
        return len(self._color)

    @property
    def has_depth(self) -> bool:
        return any(p is not None for p in self._depth)

    def color_path(self, index: int) -> Path:
        return self._color[index]

    def files(self) -> list[Path]:
        out = list(self._color) + [p for p in self._depth if p is not None]
        ts = self.root / "timestamps.csv"
        return out + ([ts] if ts.is_file() else [])

    def first_color_size(self) -> tuple[int, int] | None:
        """(W, H) of the first colour image that can be read (a damaged file is one bad
        view, reported when its frame is read, not a reason to refuse the session)."""
        sizes = self.color_sizes(1)
        return sizes[0][1] if sizes else None

    def color_sizes(self, n: int = 3) -> list[tuple[Path, tuple[int, int]]]:
        """(file, (W, H)) of the first ``n`` colour images that can be read, from their headers."""
        from PIL import Image

        out = []
        for p in self._color:
            try:
                with Image.open(p) as im:
                    out.append((p, (int(im.width), int(im.height))))
            except Exception:  # noqa: BLE001 - any unreadable image: try the next one
                continue
            if len(out) >= n:
                break
        return out

    def first_depth_size(self) -> tuple[int, int] | None:
        """(W, H) of the first depth PNG whose header reads (see :meth:`depth_sizes`)."""
        sizes = self.depth_sizes(1)
        return sizes[0][1] if sizes else None

    def depth_sizes(self, n: int = 3) -> list[tuple[Path, tuple[int, int]]]:
        """(file, (W, H)) of the first ``n`` well-formed depth PNGs, from their headers."""
        out = []
        for p in self._depth:
            if p is None:
                continue
            try:
                out.append((p, depth_png_size(p)))
            except RecordingError:
                continue
            if len(out) >= n:
                break
        return out

    def depth_path(self, index: int) -> Path | None:
        return self._depth[index]

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[FolderFrame]:
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for i in range(start, stop):
            rgb = read_color_image(self._color[i])
            yield FolderFrame(i, int(self.frame_numbers[i]), int(self.timestamps_ns[i]), rgb, self._depth[i])
