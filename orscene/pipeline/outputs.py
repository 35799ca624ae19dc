"""The output folder of ``cli.py process``: layout, atomic writes, resume state.

::

    outputs/<SESSION>/
      config.yaml                   the effective configuration of the run
      images/<camera>/<frame>.jpg   anonymized colour (``--format images|both``)
      masks/<camera>/<frame>.png    what was anonymized in that view (0/255)
      video/<camera>.mp4            anonymized colour with the source's timing (``--format mp4|both``)
      faces.json                    per frame, camera and person: box and path (render3d, head2d,
                                    detector2d, obscured), in the project's face format
      audit.json                    inputs with checksums, config, package versions, and per
                                    frame-set what was anonymized how, what was obscured/withheld
      summary.json                  frames, people, share of faces per path, throughput
      review.json                   what was uncertain and the frame-sets to review, ranked
      .state/                       one file per finished chunk (resume), the run fingerprint,
                                    and each chunk's part of the MP4s until they are joined

A chunk's state file is written last, atomically, after all of its images, masks and video
segments: a chunk with a state file is complete; anything else is redone. The MP4s are
encoded chunk by chunk in the workers and joined without re-encoding at the end.
Everything is written to a temporary name first and renamed, so an interrupted run never
leaves a half-written file (a resumed run deletes the temporary files a killed one left).
"""

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orscene.errors import OrsceneError
from orscene.recording.session import atomic_write_bytes, atomic_write_text
from orscene.recording.writers import Mp4Writer

__all__ = ["OutputLayout", "SegmentWriters", "check_output_location", "file_sha256", "fingerprint"]


class OutputError(OrsceneError):
    """The output folder is invalid (inside the input, not an orscene output, ...)."""


@dataclass(frozen=True)
class OutputLayout:
    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / ".state"

    def image_path(self, camera: str, frame: int) -> Path:
        return self.root / "images" / camera / f"{frame:06d}.jpg"

    def mask_path(self, camera: str, frame: int) -> Path:
        return self.root / "masks" / camera / f"{frame:06d}.png"

    def video_path(self, camera: str) -> Path:
        return self.root / "video" / f"{camera}.mp4"

    def chunk_state_path(self, chunk_name: str) -> Path:
        return self.state_dir / f"{chunk_name}.json"

    @property
    def run_state_path(self) -> Path:
        return self.state_dir / "run.json"

    def segment_path(self, camera: str, chunk_name: str) -> Path:
        """One chunk's part of a camera's MP4 (joined into ``video_path`` at the end)."""
        return self.state_dir / "video" / camera / f"{chunk_name}.mp4"

    @property
    def faces_path(self) -> Path:
        return self.root / "faces.json"

    @property
    def audit_path(self) -> Path:
        return self.root / "audit.json"

    @property
    def summary_path(self) -> Path:
        return self.root / "summary.json"

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    def write_image(self, camera: str, frame: int, rgb: np.ndarray, quality: int = 95) -> Path:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise OutputError("could not encode JPEG", self.image_path(camera, frame))
        path = self.image_path(camera, frame)
        atomic_write_bytes(path, buf.tobytes())
        return path

    def write_mask(self, camera: str, frame: int, mask: np.ndarray) -> Path:
        # a 1-bit PNG (reads back as 0/255 uint8): 4x faster to write than 8-bit, and smaller
        ok, buf = cv2.imencode(".png", np.asarray(mask, bool).view(np.uint8) * np.uint8(255), [cv2.IMWRITE_PNG_BILEVEL, 1])
        path = self.mask_path(camera, frame)
        if not ok:
            raise OutputError("could not encode PNG", path)
        atomic_write_bytes(path, buf.tobytes())
        return path

    def write_json(self, path: Path, data: object) -> None:
        atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False))

    def read_json(self, path: Path) -> object | None:
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def is_orscene_output(self) -> bool:
        return self.state_dir.is_dir()

    def remove_partial_files(self) -> int:
        """Delete the temporary files of atomic writes that a killed run left behind (hidden
        files in the output folders and ``.state``, ``.*.tmp`` at the top); returns how many."""
        stale = [p for name in ("images", "masks", "video") if (self.root / name).is_dir() for p in (self.root / name).rglob(".*") if p.is_file()]
        stale += [p for p in self.root.glob(".*.tmp") if p.is_file()] if self.root.is_dir() else []
        stale += [p for p in self.state_dir.rglob(".*") if p.is_file()] if self.state_dir.is_dir() else []
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)

    def clear(self) -> None:
        """Delete a previous run's outputs (``--force``). Only ever called on a folder that
        is empty or holds an orscene output (a ``.state`` folder)."""
        for name in ("images", "masks", "video", ".state"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        for path in (self.faces_path, self.audit_path, self.summary_path, self.config_path, self.root / "review.json"):
            path.unlink(missing_ok=True)


class SegmentWriters:
    """A chunk's part of every camera's MP4, written as its frame-sets are anonymized; a
    view that is missing or withheld becomes a black frame. Each segment appears under its
    name only when closed (``close``); ``abort`` leaves nothing."""

    def __init__(self, layout: OutputLayout, chunk_name: str, sizes: dict[str, tuple[int, int]], fps: float, preset: str, threads: int) -> None:
        self.layout, self.chunk_name, self.sizes, self.fps = layout, chunk_name, sizes, fps
        self.preset, self.threads = preset, threads
        self._writers: dict[str, Mp4Writer] = {}

    def write(self, camera: str, rgb: np.ndarray | None, timestamp_ns: int) -> None:
        w, h = self.sizes[camera]
        writer = self._writers.get(camera)
        if writer is None:
            path = self.layout.segment_path(camera, self.chunk_name)
            writer = self._writers[camera] = Mp4Writer(path, w, h, self.fps, preset=self.preset, threads=self.threads)
        writer.write(rgb if rgb is not None else np.zeros((h, w, 3), np.uint8), timestamp_ns)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()

    def abort(self) -> None:
        for writer in self._writers.values():
            writer.abort()


def check_output_location(out: Path, session_path: Path) -> None:
    """Outputs go never inside the input session, nor over it, nor over a non-orscene folder."""
    out_r, ses_r = out.resolve(), session_path.resolve()
    if out_r == ses_r or ses_r in out_r.parents or out_r in ses_r.parents:
        raise OutputError(f"output folder must not be inside or contain the input session {session_path}", out)
    if out.exists() and not out.is_dir():
        raise OutputError("output path exists and is not a folder", out)
    if out.is_dir() and any(out.iterdir()) and not (out / ".state").is_dir():
        raise OutputError("output folder is not empty and holds no orscene run (refusing to write into it)", out)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def fingerprint(config_dict: dict, input_checksums: dict[str, str]) -> str:
    """Identity of a run: the effective config and the inputs' checksums."""
    blob = json.dumps({"config": config_dict, "inputs": input_checksums}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
