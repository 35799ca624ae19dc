"""Write-side faults of ``cli.py process`` (issue 16, items 3, 5, 6, 7 and 8's write errors).

Each test runs the real command line in a subprocess on a tiny hand-made session (two
RGB-D cameras, three frame-sets of 160x120 noise, no people: a run takes seconds) and checks
the exit code, the one-line error, what was written, and that no input file changed.
Read-only folders and a full disk are real: a tmpfs mounted read-only or with a few
kilobytes when this runs as root, else a folder without write permission and a file-size
limit (``RLIMIT_FSIZE``, which fails writes with EFBIG).
"""

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest
import yaml

from orscene.recording.session import Calibration, calibration_to_dict
from orscene.types import Camera, Intrinsics

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

N_FRAMESETS = 3


def _intr(w: int, h: int, f: float) -> Intrinsics:
    return Intrinsics(np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]]), None, w, h)


def make_session(root: Path, name: str = "S", cameras: tuple[str, ...] = ("cam0", "cam1"), n: int = N_FRAMESETS) -> Path:
    """Cameras named ``cameras`` in folders ``c0``, ``c1``...: colour 160x120 (a gradient
    and noise), depth 80x60 at 2 m, ``n`` frame-sets 0.2 s apart."""
    s = root / name
    rng = np.random.default_rng(7)
    calib = {}
    for i, cam in enumerate(cameras):
        pose = np.eye(4)
        pose[0, 3] = 0.5 * i
        calib[cam] = Camera(cam, _intr(160, 120, 150.0), pose, _intr(80, 60, 75.0), np.eye(4))
        for k in range(n):
            img = np.zeros((120, 160, 3), np.uint8)
            img[..., 0] = np.arange(160, dtype=np.uint8)[None, :]
            img[..., 1] = (40 * k + 60 * i) % 256
            img[..., 2] = rng.integers(0, 255, (120, 160), dtype=np.uint8)
            for sub, data, ext in (("color", img, "jpg"), ("depth", np.full((60, 80), 2000 + 10 * k, np.uint16), "png")):
                p = s / f"c{i}" / sub / f"{k:06d}.{ext}"
                p.parent.mkdir(parents=True, exist_ok=True)
                assert cv2.imwrite(str(p), data)
        (s / f"c{i}" / "timestamps.csv").write_text("frame,timestamp_ns\n" + "".join(f"{k},{k * 200_000_000}\n" for k in range(n)))
    (s / "calibration.json").write_text(json.dumps(calibration_to_dict(Calibration(calib))))
    manifest = {
        "format": "orscene-session", "version": 1, "name": name, "fps": 5, "calibration": "calibration.json",
        "cameras": [{"name": c, "source": "folder", "path": f"c{i}"} for i, c in enumerate(cameras)],
    }  # fmt: skip
    (s / "session.yaml").write_text(yaml.safe_dump(manifest))
    return s


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    return make_session(tmp_path_factory.mktemp("rec"))


def _sha(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``folder`` (links not followed): its size and modification time."""
    if not folder.exists():
        return {}
    out = {}
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs + files:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), folder)] = (st.st_size, st.st_mtime_ns)
    return out


def _cmd(session: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "cli.py"), "process", "--session", session.name, "--recordings", str(session.parent),
            "--out", str(out), *extra]  # fmt: skip


def _env(**kw: str) -> dict[str, str]:
    return {**os.environ, "ORSCENE_LOG": "WARNING", **kw}


def _run(cmd: list[str], env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env=env or _env(), capture_output=True, text=True, timeout=900, **kw)


def _error_line(done: subprocess.CompletedProcess, only_line: bool = True) -> str:
    """The run failed with one ``error:`` line and no traceback; ``only_line``: nothing else
    on stderr (a run that failed after loading its models may have logged before)."""
    assert done.returncode != 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    if only_line:
        assert done.stderr.strip().splitlines() == errors, done.stderr[-3000:]
    return errors[0]


@pytest.fixture
def mounts():
    """``mount(path, size, read_only)``: a fresh tmpfs at ``path`` (root only), unmounted after."""
    done: list[Path] = []

    def mount(path: Path, size: str, read_only: bool = False) -> bool:
        if os.geteuid() != 0:
            return False
        path.mkdir(parents=True, exist_ok=True)
        opts = f"size={size}" + (",ro" if read_only else "")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True).returncode != 0:
            return False
        done.append(path)
        return True

    yield mount
    for path in reversed(done):
        subprocess.run(["umount", str(path)], capture_output=True)


def _read_only_folder(path: Path, mount) -> str:
    """A real read-only folder: an ``ro`` tmpfs as root, else a folder without write
    permission. Returns the error's expected errno name."""
    if mount(path, "1M", read_only=True):
        return "EROFS"
    if os.geteuid() == 0:
        pytest.skip("running as root without permission to mount a tmpfs: no way to make a folder read-only")
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o555)
    return "EACCES"


# ------------------------------------------------------------------ 3. writes stay inside the output folder
@pytest.mark.parametrize("link", ["images/cam0", ".state"])
def test_links_in_the_output_folder_are_refused_and_inputs_kept(session, tmp_path, link):
    """An existing output folder whose ``images/cam0`` links to the input's colour frames
    (main: every input frame of cam0 replaced by its anonymized copy, exit 0), or whose
    ``.state`` links to a folder elsewhere: refused before anything is written."""
    before = _sha(session)
    out = tmp_path / "out"
    (out / ".state").mkdir(parents=True)
    (out / "images").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    target = session / "c0" / "color" if link == "images/cam0" else outside
    if link == ".state":
        (out / ".state").rmdir()
    (out / link).symlink_to(target, target_is_directory=True)
    tree = _tree(out)
    line = _error_line(_run(_cmd(session, out)))
    assert str(out / link) in line and "symbolic link" in line
    assert _tree(out) == tree and list(outside.iterdir()) == []
    assert _sha(session) == before


def test_an_input_folder_inside_the_output_folder_is_refused(tmp_path):
    """A camera whose frames live in the output folder's ``images/cam1`` (its ``path`` in
    the manifest points there): main's ``--force`` deletes them with the old images."""
    s = make_session(tmp_path / "rec")
    out = tmp_path / "out"
    (out / ".state").mkdir(parents=True)
    (out / "images").mkdir()
    (s / "c1").rename(out / "images" / "cam1")
    manifest = yaml.safe_load((s / "session.yaml").read_text())
    manifest["cameras"][1]["path"] = str(out / "images" / "cam1")
    (s / "session.yaml").write_text(yaml.safe_dump(manifest))
    before, tree = {**_sha(s), **_sha(out)}, _tree(out)
    line = _error_line(_run(_cmd(s, out, "--force")))
    assert "holds the input" in line and str(out / "images" / "cam1") in line
    assert {**_sha(s), **_sha(out)} == before and _tree(out) == tree


# ------------------------------------------------------------------ 5. workers die with their parent
def test_workers_die_when_the_parent_is_killed(session, tmp_path):
    """``--workers 2``, the parent killed with SIGKILL once the workers have returned a
    first chunk (main: both workers go on computing and writing, then idle for ever)."""
    before = _sha(session)
    for attempt in range(3):
        out = tmp_path / f"try{attempt}"
        proc = subprocess.Popen(_cmd(session, out, "--workers", "2", "--chunk-size", "1", "--warmup", "0"), cwd=REPO, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        workers: list[psutil.Process] = []
        try:
            deadline = time.monotonic() + 600
            # a phase-A result is written by the parent only after a worker initialized and returned it
            while not list((out / ".state").glob("pose_*.pkl")) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert list((out / ".state").glob("pose_*.pkl")), "no worker ever returned a chunk"
            if proc.poll() is None:
                workers = psutil.Process(proc.pid).children(recursive=True)
                spawned = [w for w in workers if "spawn_main" in " ".join(w.cmdline())]
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            if not (out / "summary.json").exists():
                break
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert not (out / "summary.json").exists() and len(spawned) == 2
    try:
        gone, alive = psutil.wait_procs(workers, timeout=20)
        assert alive == [], [p.pid for p in alive]
    finally:
        for p in workers:
            if p.is_running():
                p.kill()
    tree = _tree(out)
    time.sleep(1.0)
    assert _tree(out) == tree  # nothing writes into the output any more
    assert _sha(session) == before


# ------------------------------------------------------------------ 6. one run per output folder
def test_a_second_run_on_the_same_output_fails_at_once(session, tmp_path):
    """Run A holds the output folder (stopped with SIGSTOP once it has written its run
    state, so the race is deterministic); run B on the same folder fails at once with one
    line naming A's pid and writes nothing (main: B runs over A's files)."""
    before = _sha(session)
    out = tmp_path / "out"
    a = subprocess.Popen(_cmd(session, out), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not (out / ".state" / "run.json").exists() and a.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert a.poll() is None, "run A ended before it could be held"
        psutil.Process(a.pid).suspend()
        tree = _tree(out)
        b = _run(_cmd(session, out))
        line = _error_line(b)
        assert f"pid {a.pid}" in line and str(out) in line
        assert _tree(out) == tree
        psutil.Process(a.pid).resume()
        assert a.wait(timeout=600) == 0
    finally:
        if a.poll() is None:
            a.kill()
            a.wait()
    assert json.loads((out / "summary.json").read_text())["framesets"] == N_FRAMESETS
    assert not (out / ".orscene.lock").exists()
    assert _sha(session) == before


# ------------------------------------------------------------------ 7. failed runs leave nothing that blocks
def test_a_run_that_fails_early_leaves_nothing_and_the_corrected_run_proceeds(session, tmp_path):
    """A run that fails in phase C (an SMPL body model without its file: main leaves
    config.yaml and .state, and the corrected re-run refuses without --force) leaves no
    output folder; leftovers of a run killed before it finished a chunk do not block a
    run with another configuration either."""
    before = _sha(session)
    out = tmp_path / "out"
    line = _error_line(_run(_cmd(session, out, "--pipeline.body-model.kind", "smpl")), only_line=False)
    assert "model_path" in line
    assert not out.exists()
    # leftovers of a run killed early (its lock file, config.yaml, .state with its run state)
    killed = subprocess.Popen(_cmd(session, out, "--chunk-size", "1"), cwd=REPO, env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 600
    while not (out / ".state" / "run.json").exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.kill()
    killed.wait()
    assert (out / ".state" / "run.json").exists() and not list((out / ".state").glob("chunk_*.json"))
    done = _run(_cmd(session, out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["framesets"] == N_FRAMESETS
    assert sorted(p.name for p in (out / "images" / "cam0").iterdir()) == [f"{k:06d}.jpg" for k in range(N_FRAMESETS)]
    assert _sha(session) == before


# ------------------------------------------------------------------ 8. write errors: one line, nothing written
def test_read_only_output_folder(session, tmp_path, mounts):
    before = _sha(session)
    parent = tmp_path / "ro"
    code = _read_only_folder(parent, mounts)
    line = _error_line(_run(_cmd(session, parent / "out")))
    assert str(parent / "out") in line and f"({code})" in line
    assert list(parent.iterdir()) == []
    assert _sha(session) == before


def test_read_only_model_cache(session, tmp_path, mounts):
    """``ORSCENE_CACHE`` on a read-only folder without the body model's cache (main: a
    traceback from anny's first mkdir, after config.yaml and .state were written)."""
    before = _sha(session)
    cache = tmp_path / "cache"
    _read_only_folder(cache, mounts)
    out = tmp_path / "out"
    line = _error_line(_run(_cmd(session, out), env=_env(ORSCENE_CACHE=str(cache))))
    assert str(cache / "anny") in line and "cannot be built" in line
    assert not out.exists() and list(cache.iterdir()) == []
    assert _sha(session) == before


def _limit_file_size(limit_bytes: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG from write() instead of the signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def test_disk_full(session, tmp_path, mounts):
    """The disk fills while the first chunk's images are written (main: a traceback, and
    config.yaml, .state, the first images left): one line naming the file, nothing left."""
    before = _sha(session)
    disk = tmp_path / "disk"
    if mounts(disk, "96k"):
        done, code = _run(_cmd(session, disk / "out")), "ENOSPC"
    else:  # not root: a file-size limit (the images are ~15 kB, the run state ~2 kB)
        disk.mkdir()
        done, code = _run(_cmd(session, disk / "out"), preexec_fn=_limit_file_size(8_000)), "EFBIG"
    line = _error_line(done, only_line=False)
    assert f"({code})" in line and str(disk / "out") in line
    assert _tree(disk) == {}
    assert _sha(session) == before


def test_camera_name_too_long_for_the_file_names(tmp_path):
    """A 250-character camera name (main: ENAMETOOLONG at the final MP4 join, after every
    image was written): refused before anything is written, naming the manifest."""
    s = make_session(tmp_path / "rec", cameras=("c" * 250, "cam1"))
    before = _sha(s)
    out = tmp_path / "out"
    line = _error_line(_run(_cmd(s, out)))
    assert str(s / "session.yaml") in line and "250 characters" in line and len(line) < 300
    assert not out.exists()
    assert _sha(s) == before
