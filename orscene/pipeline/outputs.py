"""The output folder of ``cli.py process``: layout, atomic writes, resume state.

::

    outputs/<SESSION>/
      config.yaml                   the effective configuration of the run
      images/<camera>/<frame>.jpg   anonymized colour (``--format images|both``)
      masks/<camera>/<frame>.png    what was anonymized in that view (0/255)
      video/<camera>.mp4            anonymized colour with the source's timing (``--format mp4|both``)
      faces.json                    per frame, camera and person: box and path (render3d, head2d,
                                    head3d, detector2d, obscured), in the project's face format
      audit.json                    inputs with checksums, config, package versions, and per
                                    frame-set what was anonymized how, what was obscured/withheld
      summary.json                  frames, people, share of faces per path, throughput
      review.json                   what was uncertain and the frame-sets to review, ranked
      .state/                       one file per finished chunk (resume), the run fingerprint,
                                    and each chunk's part of the MP4s until they are joined
      .orscene.lock                 while a run writes the folder: its advisory lock and pid

A chunk's state file is written last, atomically, after all of its images, masks and video
segments: a chunk with a state file is complete; anything else is redone. The MP4s are
encoded chunk by chunk in the workers and joined without re-encoding at the end.
Everything is written to a temporary name first and renamed, so an interrupted run never
leaves a half-written file (a resumed run deletes the temporary files a killed one left).

Writes never leave the output folder: every write goes through :class:`OutputLayout`, which
refuses a folder inside the root that is (or holds) a symbolic link, that is not a real
folder, or that lies in one of the input folders. The existing tree is checked once at the
start of a run (:meth:`OutputLayout.check_tree`) and each folder once, when first written
to, per process; files are created new (``O_EXCL``, so never through a link) and renamed
over their name. An OS error while writing becomes one :class:`OutputError` naming the file.
"""

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orscene.errors import OrsceneError
from orscene.recording.session import atomic_write_bytes
from orscene.recording.writers import Mp4Writer, concat_mp4

__all__ = [
    "OutputLayout", "OutputLock", "SegmentWriters", "check_output_location", "file_sha256", "fingerprint", "input_folders",
]  # fmt: skip

LOCK_NAME = ".orscene.lock"
"""The lock file of a run in progress, at the output folder's top."""

_TEMP_NAME_EXTRA = len(".") + len(".mp4") + len(".") + 8 + len(".mp4")
"""How much longer than ``<camera>`` the longest name derived from it is: the joined MP4's
temporary name ``.<camera>.mp4.XXXXXXXX.mp4`` (``tempfile`` adds 8 characters)."""

_CHECKED_DIRS: set[str] = set()
"""Folders of the output checked in this process (a real folder inside the root, not in an
input folder): each is checked once, when first written to."""


class OutputError(OrsceneError):
    """The output folder is invalid (inside the input, not an orscene output, ...)."""


def write_error(e: OSError, path: str | Path) -> OutputError:
    """An OS error while writing ``path`` as one line: the file, the problem, its errno name."""
    code = errno.errorcode.get(e.errno, "") if e.errno else ""
    why = e.strerror or str(e) or type(e).__name__
    return OutputError(f"cannot write: {why}" + (f" ({code})" if code else ""), path)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def input_folders(files: Iterable[Path], *folders: Path) -> tuple[Path, ...]:
    """The real paths a run must never write into or over: ``folders`` (the session), the
    folders that hold input files (a camera's frames: a file written there would become an
    input), and a recording file itself (an ``.mkv``, anywhere) rather than its folder; a
    linked file counts at its target too. One ``realpath`` per folder, one ``lstat`` per file."""
    paths = {Path(f) for f in folders}
    for f in map(Path, files):
        targets = (f, Path(os.path.realpath(f))) if os.path.islink(f) else (f,)
        paths |= {t if t.suffix.lower() == ".mkv" else t.parent for t in targets}
    return tuple(sorted({Path(os.path.realpath(p)) for p in paths}))


@dataclass(frozen=True)
class OutputLayout:
    root: Path
    inputs: tuple[Path, ...] = ()
    """Real paths of the input folders and recordings (:func:`input_folders`): no write may
    land in them, and the output folder must not hold one."""

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
        self.write_bytes(path, buf.tobytes())
        return path

    def write_mask(self, camera: str, frame: int, mask: np.ndarray) -> Path:
        # a 1-bit PNG (reads back as 0/255 uint8): 4x faster to write than 8-bit, and smaller
        ok, buf = cv2.imencode(".png", np.asarray(mask, bool).view(np.uint8) * np.uint8(255), [cv2.IMWRITE_PNG_BILEVEL, 1])
        path = self.mask_path(camera, frame)
        if not ok:
            raise OutputError("could not encode PNG", path)
        self.write_bytes(path, buf.tobytes())
        return path

    def write_json(self, path: Path, data: object) -> None:
        self.write_bytes(path, json.dumps(data, indent=1, sort_keys=False).encode())

    def write_bytes(self, path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` (inside the root) atomically, through checked folders."""
        with self.writing(path):
            atomic_write_bytes(path, data)

    @contextlib.contextmanager
    def writing(self, path: Path) -> Iterator[Path]:
        """Check the folder of ``path`` (:meth:`folder`) and, while the block writes ``path``
        (atomically: a temporary file, then a rename), turn an OS error into one line."""
        self.folder(Path(path).parent)
        try:
            yield Path(path)
        except OSError as e:
            raise write_error(e, path) from None

    def folder(self, path: Path) -> Path:
        """Make ``path``, the root or a folder inside it, exist as a real folder: each
        component below the root is created when missing and refused when it is a symbolic
        link or not a folder; the folder must not lie in an input folder. Checked once per
        process and folder (a set lookup after that)."""
        path = Path(path)
        key = str(path)
        if key in _CHECKED_DIRS:
            return path
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            raise OutputError(f"is outside the output folder {self.root}: refusing to write there", path) from None
        if any(part in ("..", ".") for part in rel.parts):
            raise OutputError(f"leaves the output folder {self.root}: refusing to write there", path)
        cur = self.root
        try:
            if not os.path.lexists(cur):
                cur.mkdir(parents=True, exist_ok=True)
            for part in (None, *rel.parts):
                cur = cur if part is None else cur / part
                if part is not None and not os.path.lexists(cur):
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(cur)
                mode = os.lstat(cur).st_mode
                if stat.S_ISLNK(mode):
                    raise OutputError("is a symbolic link: refusing to write through it", cur)
                if not stat.S_ISDIR(mode):
                    raise OutputError("exists and is not a folder", cur)
        except OSError as e:
            raise write_error(e, cur) from None
        real = os.path.realpath(path)
        for folder in self.inputs:
            if _inside(real, str(folder)):
                raise OutputError(f"is the input {folder} or inside it: refusing to write there", path)
        _CHECKED_DIRS.add(key)
        return path

    def check_tree(self) -> None:
        """Refuse an output folder that holds a symbolic link anywhere, or an input folder
        (a run would write through the one, or over the other). Called once per run, before
        its first write; forgets the folders checked by an earlier run in this process."""
        _CHECKED_DIRS.clear()
        root = str(self.root)
        for folder in self.inputs:
            if _inside(str(folder), os.path.realpath(root)):
                raise OutputError(f"holds the input {folder}: refusing to write into it", self.root)
        if not os.path.lexists(root):
            return
        if os.path.islink(root):
            raise OutputError("is a symbolic link: give the folder it points to", self.root)
        todo = [root]
        while todo:
            with os.scandir(todo.pop()) as entries:
                for e in entries:
                    if e.is_symlink():
                        raise OutputError(
                            "is a symbolic link inside the output folder: refusing to write through it (remove it)", e.path
                        )
                    if e.is_dir(follow_symlinks=False):
                        todo.append(e.path)

    def check_names(self, cameras: Sequence[str], manifest: Path) -> None:
        """Every file name derived from a camera's name must fit the output's file system
        (``NAME_MAX``, 255 on most): checked before anything is written."""
        probe = self.root
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        try:
            name_max = os.pathconf(probe, "PC_NAME_MAX")
        except (OSError, ValueError):
            name_max = 255
        limit = name_max - _TEMP_NAME_EXTRA
        for cam in cameras:
            if len(cam) > limit:
                raise OutputError(
                    f"camera name {cam[:16]}... is {len(cam)} characters: at most {limit} fit in the output's file names "
                    f"(video/<camera>.mp4 and its temporary name, {name_max} characters at most here)",
                    manifest,
                )

    def has_finished_chunk(self) -> bool:
        """Whether any chunk of a run is complete here (its state file exists)."""
        return self.state_dir.is_dir() and any(self.state_dir.glob("chunk_*.json"))

    def write_video(self, camera: str, segments: Sequence[tuple[Path, int]], t0_ns: int) -> Path:
        """A camera's MP4: the chunks' segments joined in order, without re-encoding."""
        path = self.video_path(camera)
        with self.writing(path):
            concat_mp4(segments, path, t0_ns)
        return path

    def read_json(self, path: Path) -> object | None:
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def is_orscene_output(self) -> bool:
        return self.state_dir.is_dir()

    def lock(self) -> "OutputLock":
        """Hold this output folder for a run (creating the root when missing)."""
        self.folder(self.root)
        return OutputLock(self.root)

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


class OutputLock:
    """An advisory lock (``flock``) on an output folder, held for a whole run: a second run
    on the folder fails at once, naming the holder's pid (written into the lock file). The
    kernel drops the lock when its process ends, however it ends; :meth:`release` deletes
    the file. Taking it checks that the file locked is still the one named ``.orscene.lock``
    (a run that just released it has deleted it)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / LOCK_NAME
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise OutputError("is a symbolic link: refusing to write through it", self.path) from None
                raise write_error(e, self.path) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(
                    f"another orscene run (pid {pid}) is writing this output folder: wait for it to end or stop it", root
                ) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.lstat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # locked a file the previous holder had just deleted: take the new one
        self._fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


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
        path = self.layout.segment_path(camera, self.chunk_name)
        with self.layout.writing(path):
            if writer is None:
                writer = self._writers[camera] = Mp4Writer(path, w, h, self.fps, preset=self.preset, threads=self.threads)
            writer.write(rgb if rgb is not None else np.zeros((h, w, 3), np.uint8), timestamp_ns)

    def close(self) -> None:
        for camera, writer in self._writers.items():
            with self.layout.writing(self.layout.segment_path(camera, self.chunk_name)):
                writer.close()

    def abort(self) -> None:
        """Delete every segment's temporary file; called while an error propagates, so a
        writer that cannot even close (a full disk) must not replace that error."""
        for writer in self._writers.values():
            with contextlib.suppress(Exception):
                writer.abort()


def check_output_location(out: Path, session_path: Path) -> None:
    """Outputs go never inside the input session, nor over it, nor over a non-orscene folder."""
    out_r, ses_r = out.resolve(), session_path.resolve()
    if out_r == ses_r or ses_r in out_r.parents or out_r in ses_r.parents:
        raise OutputError(f"output folder must not be inside or contain the input session {session_path}", out)
    if out.exists() and not out.is_dir():
        raise OutputError("output path exists and is not a folder", out)
    if out.is_dir() and any(p.name != LOCK_NAME for p in out.iterdir()) and not (out / ".state").is_dir():
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
