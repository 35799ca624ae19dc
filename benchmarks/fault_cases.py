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
* ``args``: extra ``process`` options.

Every case also checks that the inputs' sha256 are unchanged and counts ground-truth faces
left raw in the written images and MP4 frames (a face crop that still matches the
original crop). More cases (the write side: read-only output, full disk...) are added by
appending to :data:`CASES`.
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
    prepare_out: Callable[[Path, Path], None] | None = None
    """Called with (output folder, session copy) before the run, for faults of the output
    side (a read-only or symlinked output folder...); files it leaves there are not
    counted as written."""
    env: tuple[tuple[str, str], ...] = ()
    """Extra environment of the run (e.g. ``ORSCENE_CACHE``)."""


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

    left = []
    for f in faces:
        p = out / "images" / f["camera"] / f"{f['frame']:06d}.jpg"
        if p.is_file():
            img = cv2.imread(str(p))
            if img is not None and _is_raw(img[:, :, ::-1], orig(f["camera"], f["frame"]), f["box"]):
                left.append(("image", f["camera"], f["frame"], f["person"]))
    for cam in sorted({f["camera"] for f in faces}):
        p = out / "video" / f"{cam}.mp4"
        if not p.is_file():
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

    @property
    def error_line(self) -> str:
        return self.stderr_lines[-1] if self.stderr_lines else ""


def run_case(case: FaultCase | None, pristine: Path, work: Path, timeout_s: float = 600) -> CaseResult:
    """Copy ``pristine`` (a session folder) under ``work``, inject ``case`` (None: no
    fault, the baseline), run ``cli.py process`` on it into ``work/out`` and measure."""
    name = "baseline" if case is None else case.name
    rec = work / name / "rec"
    session = rec / pristine.name
    shutil.copytree(pristine, session, symlinks=True)
    if case is not None:
        case.inject(session)
    before = input_digests(session)
    out = work / name / "out"
    if case is not None and case.prepare_out is not None:
        case.prepare_out(out, session)
    present = _files(out)
    cmd = [sys.executable, str(REPO / "cli.py"), "process", "--session", session.name, "--recordings", str(rec), "--out", str(out),
           *(case.args if case else ())]  # fmt: skip
    env = {**os.environ, "ORSCENE_LOG": os.environ.get("ORSCENE_FAULTS_LOG", "WARNING"), **dict(case.env if case else ())}
    timeout_s = float(os.environ.get("ORSCENE_FAULTS_TIMEOUT", timeout_s))
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s)
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:  # a hang (a FIFO read before the fix): killed
        code, stdout = -9, (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = ((e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")) + f"\nhung: killed after {timeout_s:.0f} s"
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


def _files(out: Path) -> set[str]:
    """Files under ``out`` (not following links out of it)."""
    if not out.is_dir() or out.is_symlink():
        return set()
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.is_symlink()}


def _progress(line: str) -> bool:
    """A tqdm progress bar line (stderr is not a terminal, but tqdm may still print)."""
    return "frame-set/s" in line or "it/s]" in line or "frame-set]" in line


def check(case: FaultCase, r: CaseResult, baseline_raw: int) -> list[str]:
    """What ``r`` gets wrong against ``case``'s expectation (empty: all as expected)."""
    bad = []
    if r.inputs_changed:
        bad.append(f"inputs changed: {r.inputs_changed}")
    if r.traceback:
        bad.append("traceback on stderr")
    if len(r.raw_faces) > baseline_raw:
        bad.append(f"{len(r.raw_faces)} raw faces, the fault-free run leaves {baseline_raw}")
    if case.expect == "error":
        if r.exit_code == 0:
            bad.append("exit code 0")
        if len(r.stderr_lines) != 1:
            bad.append(f"{len(r.stderr_lines)} error lines: {r.stderr_lines[:3]}")
        line = r.error_line
        if case.error not in line:
            bad.append(f"error line lacks {case.error!r}: {line!r}")
        if case.file not in line:
            bad.append(f"error line does not name {case.file}: {line!r}")
        if len(line) > MAX_ERROR_CHARS:
            bad.append(f"error line of {len(line)} characters")
        if r.written:
            bad.append(f"{len(r.written)} files written")
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
