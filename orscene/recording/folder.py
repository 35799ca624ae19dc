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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orscene.errors import RecordingError

__all__ = ["FolderFrame", "FolderSource", "read_color_image", "read_depth_png"]

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


def read_color_image(path: Path) -> np.ndarray:
    """Read a JPEG/PNG as (H, W, 3) uint8 RGB; RecordingError when unreadable."""
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise RecordingError("colour image not found", path)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise RecordingError("corrupt or unreadable colour image", path)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_depth_png(path: Path) -> np.ndarray:
    """Read a 16-bit PNG of millimetres as (H, W) uint16; RecordingError otherwise."""
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise RecordingError("depth image not found", path)
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
        self.frame_numbers = np.array(sorted(files), dtype=np.int64)
        self._color = [files[int(n)] for n in self.frame_numbers]
        depth_dir = self.root / "depth"
        depth_files: dict[int, Path] = {}
        if depth_dir.is_dir():
            for p in depth_dir.iterdir():
                if p.suffix.lower() == ".png" and p.stem.isdigit():
                    depth_files[int(p.stem)] = p
        # a frame without a depth PNG is a frame without depth measurements
        self._depth: list[Path | None] = [depth_files.get(int(n)) for n in self.frame_numbers]
        self.timestamps_ns = self._timestamps(fps)

    def _timestamps(self, fps: float) -> np.ndarray:
        path = self.root / "timestamps.csv"
        if not path.is_file():
            return np.round(self.frame_numbers * (1e9 / fps)).astype(np.int64)
        table: dict[int, int] = {}
        try:
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or not {"frame", "timestamp_ns"} <= set(reader.fieldnames):
                    raise RecordingError("timestamps.csv needs the columns frame,timestamp_ns", path)
                for row in reader:
                    table[int(row["frame"])] = int(row["timestamp_ns"])
        except (ValueError, TypeError) as e:
            raise RecordingError(f"malformed timestamps.csv ({e})", path) from None
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
        """(W, H) of the first colour image, read from the header only when possible."""
        if not self._color:
            return None
        rgb = read_color_image(self._color[0])
        return (rgb.shape[1], rgb.shape[0])

    def first_depth_size(self) -> tuple[int, int] | None:
        for p in self._depth:
            if p is not None:
                d = read_depth_png(p)
                return (d.shape[1], d.shape[0])
        return None

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[FolderFrame]:
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for i in range(start, stop):
            rgb = read_color_image(self._color[i])
            yield FolderFrame(i, int(self.frame_numbers[i]), int(self.timestamps_ns[i]), rgb, self._depth[i])
