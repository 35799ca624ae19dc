"""The fault matrix as data: named faults injected into a copy of a small session, what
``cli.py process`` must do with each, and one harness that runs a case and measures it.

Used by ``tests/faults/`` (which assert each case's expectation) and by
``python -m benchmarks.bench_faults`` (which prints the table). A case is

* ``inject(session)``: damages a copy of the session in place (a folder session as written
  by ``cli.py synth``: ``cam<k>/color/NNNNNN.jpg``, ``cam<k>/depth/NNNNNN.png``);
* ``expect``: ``"error"`` (the run is refused: non-zero exit, one line on stderr naming
  ``file`` and containing ``error``, no traceback, nothing written) or ``"view"`` (the run
  finishes, exit 0, and exactly the views ``views`` are written obscured, or withheld with
  ``args=("--on-error", "withhold")``, with ``file`` named in ``audit.json``);
* ``args``: extra ``process`` options;
* ``expect="ok"``: the run finishes, exit 0, no view failed, and no ground-truth face is
  left raw that the reference run covers (``reference``: the same damaged session run with
  those options, e.g. every stage on every frame-set; None: the fault-free run);
* ``rerun``: the options of a corrected second run into the same output folder after the
  refused one (no ``--force``): it must finish, exit 0, writing what the fault-free run
  writes;
* ``prepare_out`` / ``env``: faults of the output side (a symlinked, locked, read-only or
  full output folder, a read-only model cache). ``file``, ``env`` and ``error`` may name
  ``<out>`` (the output folder) and ``<case>`` (the case's work folder).

Every case also checks that the inputs' sha256 are unchanged and counts ground-truth faces
left raw in the written images and MP4 frames (a face crop that still matches the
original crop). A case whose fault cannot be made here (a read-only mount without root)
is reported as skipped, with the reason. Issue 16's item 5 (workers outliving a killed
parent) needs a run killed midway and is tested in ``tests/faults/test_io_safety.py``
only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
FAULT_CAMERA, FAULT_FRAME = "cam0", 1
"""Where a one-view fault is injected: the middle frame-set of a 3-frame-set session."""
RAW_MEAN_ABS_DIFF = 4.0
"""A written face crop whose mean absolute difference (0-255, all channels) to the
original crop is below this still shows the face raw: JPEG/H.264 re-encoding moves a
crop by ~1-2; blurring, pixelating or rendering a template moves it much more."""


@dataclass(frozen=True)
class FaultCase:
    name: str
    inject: Callable[[Path], None]
    expect: str
    """"error" or "view"."""
    file: str
    """The file the error or the audit must name (relative to the session folder)."""
    error: str = ""
    """A substring of the one-line error ("error" cases)."""
    views: tuple[tuple[str, int], ...] = ()
    """(camera, frame-set) written obscured / withheld ("view" cases)."""
    status: str = "obscured"
    args: tuple[str, ...] = ()
    description: str = ""
    prepare_out: Callable[[Path, Path], Callable[[], None] | None] | None = None
    """Called with (output folder, session copy) before the run, for faults of the output
    side (a read-only or symlinked output folder...); files it leaves there are not
    counted as written. It may return a function undoing it (unmount, unlock), called
    once the run is measured, and raises :class:`CaseSkipped` if it cannot be made."""
    env: tuple[tuple[str, str], ...] = ()
    """Extra environment of the run (e.g. ``ORSCENE_CACHE``)."""
    reference: tuple[str, ...] | None = None
    """``expect="ok"``: options of the reference run on the same damaged session."""
    rerun: tuple[str, ...] | None = None
    """``expect="error"``: options of the corrected re-run (no ``--force``)."""


class CaseSkipped(Exception):
    """Raised by ``prepare_out`` when the fault cannot be made on this machine."""


def _frame(kind: str, camera: str = FAULT_CAMERA, frame: int = FAULT_FRAME) -> str:
    return f"{camera}/{'color' if kind == 'color' else 'depth'}/{frame:06d}.{'jpg' if kind == 'color' else 'png'}"


COLOR, DEPTH = _frame("color"), _frame("depth")


def _truncate(rel: str, keep: float = 0.5) -> Callable[[Path], None]:
    def f(s: Path) -> None:
        data = (s / rel).read_bytes()
        (s / rel).write_bytes(data[: int(len(data) * keep)])

    return f


def _random_bytes(rel: str) -> Callable[[Path], None]:
    def f(s: Path) -> None:
        n = (s / rel).stat().st_size
        (s / rel).write_bytes(np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes())

    return f


def _noop(s: Path) -> None:
    """The session stays as it is (a fault of the output side or of the options)."""


def _empty(rel: str) -> Callable[[Path], None]:
    return lambda s: (s / rel).write_bytes(b"")


def _half_size_color(s: Path) -> None:
    img = cv2.imread(str(s / COLOR))
    cv2.imwrite(str(s / COLOR), cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2)))


def _depth_resized(s: Path) -> None:
    d = cv2.imread(str(s / DEPTH), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(s / DEPTH), cv2.resize(d, (d.shape[1] // 2, d.shape[0] // 2), interpolation=cv2.INTER_NEAREST))


def _depth_uint8(s: Path) -> None:
    d = cv2.imread(str(s / DEPTH), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(s / DEPTH), np.clip(d // 20, 0, 255).astype(np.uint8))


def _fifo(s: Path) -> None:
    (s / COLOR).unlink()
    os.mkfifo(s / COLOR)


def _dangling(s: Path) -> None:
    (s / COLOR).unlink()
    (s / COLOR).symlink_to(s / "cam0" / "color" / "gone.jpg")


def _binary_manifest(s: Path) -> None:
    (s / "session.yaml").write_bytes(np.random.default_rng(1).integers(0, 256, 600, dtype=np.uint8).tobytes())


def _edit_manifest(old: str, new: str) -> Callable[[Path], None]:
    def f(s: Path) -> None:
        text = (s / "session.yaml").read_text()
        assert old in text, (old, text)
        (s / "session.yaml").write_text(text.replace(old, new, 1))

    return f


def _edit_calibration(key: str, value: float) -> Callable[[Path], None]:
    """``key`` = "cameras/cam1/world_from_cam/0/3"-style path; JSON gets NaN / Infinity."""

    def f(s: Path) -> None:
        data = json.loads((s / "calibration.json").read_text())
        *parents, last = key.split("/")
        node = data
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[int(last) if isinstance(node, list) else last] = value
        (s / "calibration.json").write_text(json.dumps(data))  # allow_nan: NaN, Infinity

    return f


def _calibration_is_text(s: Path) -> None:
    secret = "".join(f"user{k}:x:{1000 + k}:{1000 + k}:secret line {k}:/home/user{k}:/bin/bash\n" for k in range(200))
    (s / "notes.txt").write_text(secret)
    _edit_manifest("calibration: calibration.json", "calibration: notes.txt")(s)


def _calibration_is_other_json(s: Path) -> None:
    _edit_manifest("calibration: calibration.json", "calibration: annotations/faces.json")(s)


# ---------------------------------------------------------------- the output side (items 3, 6, 7, 8)
def _out_links_to_input_colour(out: Path, session: Path) -> None:
    """An output folder of a previous run whose ``images/cam0`` links to the input's
    colour frames (main: every input frame replaced by its anonymized copy, exit 0)."""
    (out / ".state").mkdir(parents=True)
    (out / "images").mkdir()
    (out / "images" / "cam0").symlink_to(session / "cam0" / "color", target_is_directory=True)


def _out_locked(out: Path, session: Path) -> Callable[[], None]:
    """Hold the output folder's lock as a running ``process`` does (its public helper)."""
    from orscene.pipeline.outputs import OutputLayout

    return OutputLayout(out).lock().release


def _tmpfs(path: Path, size: str, read_only: bool) -> Callable[[], None]:
    """A fresh tmpfs at ``path`` (root only); returns its unmount."""
    if os.geteuid() != 0:
        raise CaseSkipped("not root: no tmpfs mount (tests/faults/test_io_safety.py covers it with file permissions)")
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise CaseSkipped(f"root without permission to mount a tmpfs: {done.stderr.strip()[:80]}")
    return lambda: subprocess.run(["umount", str(path)], capture_output=True)


def _out_read_only(out: Path, session: Path) -> Callable[[], None]:
    return _tmpfs(out, "1M", read_only=True)


def _cache_read_only(out: Path, session: Path) -> Callable[[], None]:
    return _tmpfs(out.parent / "cache", "1M", read_only=True)


def _out_tiny_disk(out: Path, session: Path) -> Callable[[], None]:
    """A 96 kB disk: full while the first chunk's images are written."""
    return _tmpfs(out, "96k", read_only=False)


LONG_NAME = "c" * 250


def _long_camera_name(s: Path) -> None:
    """cam0 renamed to 250 characters in the manifest, the calibration and the annotations
    (its folder stays ``cam0``)."""
    _edit_manifest("name: cam0", f"name: {LONG_NAME}")(s)
    for rel in ("calibration.json", "annotations/faces.json"):
        (s / rel).write_text((s / rel).read_text().replace('"cam0"', f'"{LONG_NAME}"'))


# ---------------------------------------------------------------- the privacy side (items 1, 2)
def _constant_depth(camera: str, mm: int) -> Callable[[Path], None]:
    """Every depth frame of ``camera`` a flat wall ``mm`` in front of the camera."""

    def f(s: Path) -> None:
        for p in sorted((s / camera / "depth").glob("*.png")):
            d = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            cv2.imwrite(str(p), np.full_like(d, mm))

    return f


def _time_gap(after: int, gap_ns: int) -> Callable[[Path], None]:
    """``gap_ns`` added to every camera's timestamps of the frames after ``after``."""

    def f(s: Path) -> None:
        for ts in sorted(s.glob("cam*/timestamps.csv")):
            head, *rows = ts.read_text().splitlines()
            rows = [f"{k},{int(t) + (gap_ns if int(k) > after else 0)}" for k, t in (r.split(",") for r in rows)]
            ts.write_text("\n".join([head, *rows]) + "\n")

    return f


EVERY_STAGE = ("--pipeline.keyframe-every", "1", "--pipeline.detector-every", "1", "--pipeline.pose-search-every", "1")


ONE_VIEW = ((FAULT_CAMERA, FAULT_FRAME),)

CASES: list[FaultCase] = [
    FaultCase("jpeg_truncated", _truncate(COLOR), "view", COLOR, views=ONE_VIEW, description="colour JPEG cut in half"),
    FaultCase("jpeg_truncated_withhold", _truncate(COLOR), "view", COLOR, views=ONE_VIEW, status="withheld",
              args=("--on-error", "withhold"), description="the same, --on-error withhold"),  # fmt: skip
    FaultCase("jpeg_random_bytes", _random_bytes(COLOR), "view", COLOR, views=ONE_VIEW, description="colour file of random bytes"),
    FaultCase("jpeg_zero_bytes", _empty(COLOR), "view", COLOR, views=ONE_VIEW, description="empty colour file"),
    FaultCase("color_size_changes", _half_size_color, "view", COLOR, views=ONE_VIEW, description="one colour frame at half size"),
    FaultCase("depth_wrong_size", _depth_resized, "view", DEPTH, views=ONE_VIEW, description="one depth PNG at half size"),
    FaultCase("depth_wrong_dtype", _depth_uint8, "view", DEPTH, views=ONE_VIEW, description="one depth PNG 8-bit"),
    FaultCase("depth_zero_bytes", _empty(DEPTH), "view", DEPTH, views=ONE_VIEW, description="empty depth PNG"),
    FaultCase("depth_truncated", _truncate(DEPTH), "view", DEPTH, views=ONE_VIEW, description="depth PNG cut in half"),
    FaultCase("fifo_frame", _fifo, "error", COLOR, error="FIFO", description="a FIFO in place of a colour frame"),
    FaultCase("dangling_symlink", _dangling, "error", COLOR, error="dangling symbolic link", description="colour frame is a dangling link"),
    FaultCase("manifest_binary", _binary_manifest, "error", "session.yaml", error="not UTF-8", description="session.yaml of random bytes"),
    FaultCase("fps_nan", _edit_manifest("fps: 5.0", "fps: .nan"), "error", "session.yaml", error="fps: nan is not a finite number"),
    FaultCase("fps_inf", _edit_manifest("fps: 5.0", "fps: .inf"), "error", "session.yaml", error="fps: inf is not a finite number"),
    FaultCase("pose_inf", _edit_calibration("cameras/cam1/world_from_cam/0/3", float("inf")), "error", "calibration.json",
              error="cameras/cam1/world_from_cam/0/3: inf is not a finite number"),  # fmt: skip
    FaultCase("pose_nan", _edit_calibration("cameras/cam0/world_from_cam/2/3", float("nan")), "error", "calibration.json",
              error="cameras/cam0/world_from_cam/2/3: nan is not a finite number"),  # fmt: skip
    FaultCase("distortion_nan", _edit_calibration("cameras/cam0/color/distortion/1", float("nan")), "error", "calibration.json",
              error="cameras/cam0/color/distortion/1: nan is not a finite number"),  # fmt: skip
    FaultCase("calibration_is_a_text_file", _calibration_is_text, "error", "notes.txt", error="invalid calibration file",
              description="calibration: points at a 14 kB text file (quoted at most in excerpt)"),  # fmt: skip
    FaultCase("calibration_is_other_json", _calibration_is_other_json, "error", "annotations/faces.json", error="invalid calibration file",
              description="calibration: points at the face annotations"),  # fmt: skip
    # the output side
    FaultCase("out_links_to_input", _noop, "error", "<out>/images/cam0", error="symbolic link", prepare_out=_out_links_to_input_colour,
              description="item 3: output's images/cam0 links to the input's cam0/color"),  # fmt: skip
    FaultCase("out_locked", _noop, "error", "<out>", error="another orscene run (pid", prepare_out=_out_locked,
              description="item 6: the output folder held by another run (its lock)"),  # fmt: skip
    FaultCase("fails_early_then_rerun", _noop, "error", "model_path", error="model_path", args=("--pipeline.body-model.kind", "smpl"),
              rerun=(), description="item 7: SMPL body model without files; then the corrected run, no --force"),  # fmt: skip
    FaultCase("out_read_only", _noop, "error", "<out>", error="(EROFS)", prepare_out=_out_read_only,
              description="item 8: --out on a read-only mount"),  # fmt: skip
    FaultCase("cache_read_only", _noop, "error", "<case>/cache/anny", error="cannot be built", prepare_out=_cache_read_only,
              env=(("ORSCENE_CACHE", "<case>/cache"),), description="item 8: ORSCENE_CACHE on a read-only mount"),  # fmt: skip
    FaultCase("disk_full", _noop, "error", "<out>", error="(ENOSPC)", prepare_out=_out_tiny_disk,
              description="item 8: --out on a 96 kB disk"),  # fmt: skip
    FaultCase("camera_name_250_chars", _long_camera_name, "error", "session.yaml", error="250 characters",
              description="item 8: a 250-character camera name"),  # fmt: skip
    # the privacy side
    FaultCase("depth_constant_400mm", _constant_depth("cam1", 400), "ok", "cam1/depth",
              description="item 2: every depth frame of cam1 a wall at 400 mm; no face raw that the fault-free run covers"),  # fmt: skip
    FaultCase("time_gap_60s", _time_gap(0, 60_000_000_000), "ok", "cam0/timestamps.csv", reference=EVERY_STAGE,
              description="item 1: 60 s between frame-sets 0 and 1; no face raw that every stage on every frame-set covers"),  # fmt: skip
]
BY_NAME = {c.name: c for c in CASES}

MAX_ERROR_CHARS = 300
"""An error line longer than this quotes too much."""


# ---------------------------------------------------------------- the harness
def input_digests(session: Path) -> dict[str, str]:
    """sha256 of every file of the session (a non-regular file by its kind, a link by its
    target: hashing a FIFO would block)."""
    out = {}
    for p in sorted(session.rglob("*")):
        rel = str(p.relative_to(session))
        if p.is_symlink():
            out[rel] = "link->" + os.readlink(p)
            continue
        mode = p.lstat().st_mode
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            out[rel] = f"special {stat.S_IFMT(mode):o}"
            continue
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _gt_faces(session: Path) -> list[dict]:
    data = json.loads((session / "annotations" / "faces.json").read_text())
    return [f for f in data["faces"] if not f.get("ignore") and f.get("visible_fraction", 1.0) > 0]


def _crop(img: np.ndarray, box) -> np.ndarray:
    h, w = img.shape[:2]
    x0, y0 = max(0, int(np.ceil(box[0] + 0.5))), max(0, int(np.ceil(box[1] + 0.5)))
    x1, y1 = min(w, int(np.floor(box[2] + 0.5))), min(h, int(np.floor(box[3] + 0.5)))
    return img[y0:y1, x0:x1]


def _is_raw(out: np.ndarray, orig: np.ndarray, box) -> bool:
    a, b = _crop(out, box), _crop(orig, box)
    if a.size == 0 or a.shape != b.shape:
        return False
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean()) < RAW_MEAN_ABS_DIFF


def raw_faces(out: Path, pristine: Path) -> list[tuple[str, str, int, int]]:
    """Ground-truth faces (of ``pristine``, the session before the fault) left raw in the
    written images and MP4 frames: ``(where, camera, frame, person)``."""
    import av

    faces = _gt_faces(pristine)
    origs: dict[tuple[str, int], np.ndarray] = {}

    def orig(cam: str, frame: int) -> np.ndarray:
        if (cam, frame) not in origs:
            origs[cam, frame] = cv2.imread(str(pristine / cam / "color" / f"{frame:06d}.jpg"))[:, :, ::-1]
        return origs[cam, frame]

    real_out = out.resolve()

    def written(p: Path) -> bool:
        """A file the run wrote: not reached through a link (a symlinked images/cam0 shows
        the inputs, not what was written)."""
        return p.is_file() and p.resolve().is_relative_to(real_out) and not any(q.is_symlink() for q in [p, *p.parents] if q != out and q.is_relative_to(out))

    left = []
    for f in faces:
        p = out / "images" / f["camera"] / f"{f['frame']:06d}.jpg"
        if written(p):
            img = cv2.imread(str(p))
            if img is not None and _is_raw(img[:, :, ::-1], orig(f["camera"], f["frame"]), f["box"]):
                left.append(("image", f["camera"], f["frame"], f["person"]))
    for cam in sorted({f["camera"] for f in faces}):
        p = out / "video" / f"{cam}.mp4"
        if not written(p):
            continue
        with av.open(str(p)) as c:
            frames = [fr.to_ndarray(format="rgb24") for fr in c.decode(video=0)]
        for f in faces:
            if f["camera"] == cam and f["frame"] < len(frames):
                o = orig(cam, f["frame"])
                v = frames[f["frame"]][: o.shape[0], : o.shape[1]]
                if _is_raw(v, o, f["box"]):
                    left.append(("mp4", cam, f["frame"], f["person"]))
    return left


@dataclass
class CaseResult:
    name: str
    exit_code: int
    stderr_lines: list[str]
    """Lines of stderr other than log records (``INFO ...``, ``WARNING ...``)."""
    stdout: str
    traceback: bool
    written: list[str]
    inputs_changed: list[str]
    raw_faces: list[tuple[str, str, int, int]]
    audit_views: dict[tuple[str, int], dict] = field(default_factory=dict)
    """(camera, frame) -> audit entry of every view not written anonymized."""
    summary: dict = field(default_factory=dict)
    """summary.json of a finished run."""
    skipped: str = ""
    """Why the fault could not be made here (the case was not run)."""
    places: dict[str, str] = field(default_factory=dict)
    """``<out>``, ``<case>``: the folders these placeholders stand for."""
    reference_raw_faces: list[tuple[str, str, int, int]] | None = None
    """Raw faces of the reference run (``case.reference``)."""
    rerun: "CaseResult | None" = None
    """The corrected re-run (``case.rerun``)."""

    @property
    def error_line(self) -> str:
        return self.stderr_lines[-1] if self.stderr_lines else ""


def _place(text: str, places: dict[str, str]) -> str:
    for k, v in places.items():
        text = text.replace(k, v)
    return text


def _process(session: Path, out: Path, args: tuple[str, ...], env: dict[str, str], timeout_s: float) -> tuple[int, str, str]:
    cmd = [sys.executable, str(REPO / "cli.py"), "process", "--session", session.name, "--recordings", str(session.parent), "--out", str(out), *args]
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s)
        return proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:  # a hang (a FIFO read before the fix): killed
        stdout = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return -9, stdout, stderr + f"\nhung: killed after {timeout_s:.0f} s"


def _measure(name: str, out: Path, present: set[str], pristine: Path, session: Path, before: dict, run: tuple[int, str, str]) -> CaseResult:
    code, stdout, stderr = run
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(("INFO", "WARNING ", "DEBUG "))]
    lines = [ln for ln in lines if not _progress(ln)]
    written = sorted(_files(out) - present)
    after = input_digests(session)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    audit_views = {}
    if (out / "audit.json").is_file():
        for e in json.loads((out / "audit.json").read_text())["framesets"]:
            for cam, v in e["views"].items():
                if v["status"] != "anonymized":
                    audit_views[cam, e["frame"]] = v
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else {}
    return CaseResult(name, code, lines, stdout, "Traceback" in stderr, written, changed, raw_faces(out, pristine), audit_views, summary)


def run_case(case: FaultCase | None, pristine: Path, work: Path, timeout_s: float = 600) -> CaseResult:
    """Copy ``pristine`` (a session folder) under ``work``, inject ``case`` (None: no
    fault, the baseline), run ``cli.py process`` on it into ``work/<case>/out`` and
    measure; then the case's reference run or corrected re-run, if it has one."""
    name = "baseline" if case is None else case.name
    rec = work / name / "rec"
    session = rec / pristine.name
    shutil.copytree(pristine, session, symlinks=True)
    if case is not None:
        case.inject(session)
    before = input_digests(session)
    out = work / name / "out"
    places = {"<out>": str(out), "<case>": str(work / name)}
    undo = None
    if case is not None and case.prepare_out is not None:
        try:
            undo = case.prepare_out(out, session)
        except CaseSkipped as e:
            return CaseResult(name, 0, [], "", False, [], [], [], skipped=str(e), places=places)
    try:
        present = _files(out)
        env = {**os.environ, "ORSCENE_LOG": os.environ.get("ORSCENE_FAULTS_LOG", "WARNING")}
        env.update({k: _place(v, places) for k, v in (case.env if case else ())})
        timeout_s = float(os.environ.get("ORSCENE_FAULTS_TIMEOUT", timeout_s))
        r = _measure(name, out, present, pristine, session, before, _process(session, out, case.args if case else (), env, timeout_s))
    finally:
        if undo is not None:
            undo()
    r.places = places
    if case is not None and case.reference is not None:
        ref_out = work / name / "reference"
        _process(session, ref_out, case.reference, env, timeout_s)
        r.reference_raw_faces = raw_faces(ref_out, pristine)
    if case is not None and case.rerun is not None:
        present = _files(out)
        r.rerun = _measure(name + " (re-run)", out, present, pristine, session, before, _process(session, out, case.rerun, env, timeout_s))
    return r


def _files(out: Path) -> set[str]:
    """Files under ``out`` (not following links out of it)."""
    if not out.is_dir() or out.is_symlink():
        return set()
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.is_symlink()}


def _progress(line: str) -> bool:
    """A tqdm progress bar line (stderr is not a terminal, but tqdm may still print)."""
    return "frame-set/s" in line or "it/s]" in line or "frame-set]" in line


def check(case: FaultCase, r: CaseResult, baseline: "int | CaseResult") -> list[str]:
    """What ``r`` gets wrong against ``case``'s expectation (empty: all as expected);
    ``baseline``: the fault-free run (or only its number of raw faces). A skipped case
    has nothing wrong (its reason is in ``r.skipped``)."""
    if r.skipped:
        return []
    baseline_raw = baseline if isinstance(baseline, int) else len(baseline.raw_faces)
    file = _place(case.file, r.places)
    bad = []
    if r.inputs_changed:
        bad.append(f"inputs changed: {r.inputs_changed}")
    if r.traceback:
        bad.append("traceback on stderr")
    if case.reference is not None and r.reference_raw_faces is not None:
        # a case with a reference run changes the session itself (e.g. its timing): its
        # bound is the same damaged session processed with the reference options
        if len(r.raw_faces) > len(r.reference_raw_faces):
            bad.append(f"{len(r.raw_faces)} raw faces, the reference run leaves {len(r.reference_raw_faces)}")
    elif len(r.raw_faces) > baseline_raw:
        bad.append(f"{len(r.raw_faces)} raw faces, the fault-free run leaves {baseline_raw}")
    if case.expect == "error":
        if r.exit_code == 0:
            bad.append("exit code 0")
        if len(r.stderr_lines) != 1:
            bad.append(f"{len(r.stderr_lines)} error lines: {r.stderr_lines[:3]}")
        line = r.error_line
        if _place(case.error, r.places) not in line:
            bad.append(f"error line lacks {case.error!r}: {line!r}")
        if file not in line:
            bad.append(f"error line does not name {file}: {line!r}")
        if len(line) > MAX_ERROR_CHARS:
            bad.append(f"error line of {len(line)} characters")
        if r.written:
            bad.append(f"{len(r.written)} files written")
        if case.rerun is not None:
            rr = r.rerun
            if rr is None or rr.exit_code != 0:
                bad.append(f"the corrected re-run failed: {rr.error_line if rr else 'not run'!r}")
            else:
                if isinstance(baseline, CaseResult) and set(rr.written) != set(baseline.written):
                    bad.append(f"the re-run wrote {sorted(set(rr.written) ^ set(baseline.written))} unlike the fault-free run")
                if rr.inputs_changed or len(rr.raw_faces) > baseline_raw:
                    bad.append(f"the re-run: inputs changed {rr.inputs_changed}, {len(rr.raw_faces)} raw faces")
    elif case.expect == "ok":
        if r.exit_code != 0:
            bad.append(f"exit code {r.exit_code}: {r.error_line}")
        if r.audit_views:
            bad.append(f"views not anonymized {sorted(r.audit_views)}")
        covered = r.reference_raw_faces if case.reference is not None else (None if isinstance(baseline, int) else baseline.raw_faces)
        if covered is not None and (left := sorted(set(r.raw_faces) - set(covered))):
            bad.append(f"raw faces the {'reference' if case.reference is not None else 'fault-free'} run covers: {left}")
    else:
        if r.exit_code != 0:
            bad.append(f"exit code {r.exit_code}: {r.error_line}")
        if sorted(r.audit_views) != sorted(case.views):
            bad.append(f"views not anonymized {sorted(r.audit_views)}, expected {sorted(case.views)}")
        for key in case.views:
            v = r.audit_views.get(key, {})
            if v.get("status") != case.status or not str(v.get("file", "")).endswith(case.file):
                bad.append(f"audit of {key}: {v}")
            cam, frame = key
            img = f"images/{cam}/{frame:06d}.jpg"
            if (img in r.written) != (case.status == "obscured"):
                bad.append(f"{img} {'missing' if case.status == 'obscured' else 'written'}")
            if raw := [f for f in r.raw_faces if (f[1], f[2]) == key]:
                bad.append(f"raw faces in the failed view: {raw}")
        if "unreadable" not in r.stdout or r.summary.get("views_unreadable") != len(case.views):
            bad.append(f"summary does not count the unreadable views: {r.stdout.strip()!r}")
    return bad
