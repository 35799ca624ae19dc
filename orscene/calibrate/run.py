"""``cli.py calibrate``: register all cameras of a room into one world frame from a ChArUco
board seen in a session.

    python cli.py calibrate --session CALIB_01 --board calibration/board.json

Reads the session (``orscene.recording.reader``), detects the board in every camera of the
chosen frame-sets, takes intrinsics and depth-to-colour from each camera's recording or the
session's calibration file (or re-estimates the colour intrinsics from the board), solves
all camera poses jointly (:func:`orscene.calibrate.world.register_cameras`), optionally puts
the floor (seen in depth) at z = 0 with z up, and writes the calibration file.
"""

import json
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from orscene.calibrate.board import BoardSpec, DetectConfig, CharucoCorners, detect_charuco, load_board
from orscene.calibrate.icp import refine_poses_colored_icp
from orscene.calibrate.intrinsics import IntrinsicsConfig, calibrate_intrinsics
from orscene.calibrate.world import WorldConfig, WorldResult, floor_alignment, register_cameras
from orscene.errors import CalibrationError, ConfigError
from orscene.geometry.camera import depth_to_points_cam, transform_points
from orscene.recording.session import (
    Calibration,
    SourceKind,
    default_recordings_root,
    load_manifest,
    manifest_to_dict,
    save_calibration,
    session_dir,
)
from orscene.types import Camera, FrameSet

__all__ = ["CalibrateConfig", "run_calibrate", "calibrate_session", "default_board_path", "default_calibration_path"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrateConfig:
    """Register every camera of a session from a ChArUco board into one world frame."""

    session: str
    """Session name (a folder under the recordings root) in which the cameras see the board."""
    board: Path | None = None
    """Board definition JSON (squares_x, squares_y, square_length and marker_length in mm,
    aruco_dict_name); see calibration/README.md. Default: the board shipped with orscene
    (7x5 squares of 120 mm, 90 mm ArUco 4x4 markers; calibration/board.json in a checkout)."""
    recordings: Path | None = None
    """Recordings root; default $ORSCENE_RECORDINGS or ./recordings."""
    output: Path | None = None
    """Calibration file to write; default calibration/<session>.json (ignored with
    --write-session)."""
    write_session: bool = False
    """Write the result as the session's own calibration file (the path its session.yaml
    names), so that `cli.py process` on this session uses it directly."""
    world: str = "board"
    """World frame: 'board' (origin at the board's first corner, z out of its printed face,
    for the first frame-set in which it is seen) or a camera name (that camera's frame)."""
    floor: bool = True
    """Where depth sees the floor, move the world so that the floor is z = 0 with z up (RANSAC
    plane fit); skipped with a warning when there is no depth."""
    reestimate_intrinsics: bool = False
    """Re-estimate each camera's colour intrinsics (8-coefficient Brown-Conrady) from the board
    views instead of using the recording's factory calibration or the calibration file; needs
    the board in several poses per camera."""
    board_static: bool = False
    """The board lies still for the whole session (cameras may see it in turn): all
    frame-sets form one board placement, and each camera keeps its one best view. Cannot
    apply to a board that moves (its placements would be merged into one, inconsistent)
    nor with --reestimate-intrinsics (one view per camera; intrinsics need several poses)."""
    start: int = 0
    """First frame-set to use."""
    stop: int | None = None
    """Frame-set to stop before (default: the end)."""
    step: int = 1
    """Use every step-th frame-set."""
    max_framesets: int = 60
    """At most this many frame-sets are read (evenly spread over start..stop)."""
    min_corners: int = 6
    """A view with fewer ChArUco corners does not count as seeing the board."""
    icp: bool = False
    """After the board registration, refine each camera's pose by coloured ICP of its RGB-D
    point cloud against the other cameras' (needs depth and overlapping views; corrections
    over 5 cm or 2 degrees are rejected)."""


def default_board_path() -> Path:
    """The default ChArUco board file, shipped in the package (``calibration/board.json``
    of a checkout links to it)."""
    return Path(__file__).with_name("default_board.json")


def default_calibration_path(session: str) -> Path:
    """``calibration/<session>.json`` (relative to the working directory)."""
    return Path("calibration") / f"{session}.json"


def _open_reader(path: Path):
    """Open the session; when its calibration file does not exist yet (a fresh calibration
    session of .mkv cameras), open it through a temporary manifest with an empty calibration
    so that intrinsics come from the recordings."""
    from orscene.recording.reader import open_session

    manifest = load_manifest(path)
    calib_path = Path(manifest.calibration)
    calib_path = calib_path if calib_path.is_absolute() else path / calib_path
    if calib_path.exists():
        return open_session(path), None
    if any(c.kind is not SourceKind.MKV for c in manifest.cameras):
        missing = [c.name for c in manifest.cameras if c.kind is not SourceKind.MKV]
        raise CalibrationError(f"no calibration file with the intrinsics of image-folder cameras {missing}", calib_path)
    tmp = tempfile.TemporaryDirectory(prefix="orscene-calibrate-")
    d = manifest_to_dict(manifest)
    for c in d["cameras"]:
        p = Path(c["path"])
        c["path"] = str(p if p.is_absolute() else (path / p).resolve())
    d["calibration"] = "calibration.json"
    (Path(tmp.name) / "session.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    (Path(tmp.name) / "calibration.json").write_text(
        json.dumps({"format": "orscene-calibration", "version": 1, "units": "metres", "cameras": {}})
    )
    return open_session(tmp.name), tmp


def _framesets(reader, cfg: CalibrateConfig) -> Iterator[FrameSet]:
    stop = reader.n_framesets if cfg.stop is None else min(cfg.stop, reader.n_framesets)
    idx = np.arange(max(0, cfg.start), stop, max(1, cfg.step))
    if idx.size > cfg.max_framesets:
        idx = idx[np.round(np.linspace(0, idx.size - 1, cfg.max_framesets)).astype(int)]
    for i in idx:
        yield from reader.framesets(int(i), int(i) + 1)


def _detect_boards(
    framesets: Iterator[FrameSet], cameras: dict[str, Camera], spec: BoardSpec, cfg: CalibrateConfig
) -> tuple[dict[tuple[str, int], CharucoCorners], dict[str, list[tuple[np.ndarray, np.ndarray]]]]:
    """``(board detection per (camera, placement), up to two RGB-D views per camera)``. A
    placement is a frame-set, or with ``board_static`` the one placement 0 where each camera
    keeps its view with the most corners."""
    det_cfg = DetectConfig()
    detections: dict[tuple[str, int], CharucoCorners] = {}
    depth_views: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in cameras}
    n_read = 0
    for fs in framesets:
        n_read += 1
        for name, view in fs.views.items():
            if name not in cameras:
                continue
            det = detect_charuco(view.rgb, spec, det_cfg)
            log.debug("frame-set %d camera %s: %d corners", fs.index, name, len(det))
            k = 0 if cfg.board_static else fs.index
            if cfg.board_static and (name, 0) in detections and len(detections[(name, 0)]) >= len(det):
                continue
            detections[(name, k)] = det
            if view.depth_m is not None and len(depth_views[name]) < 2:
                depth_views[name].append((view.rgb, view.depth_m))
    if n_read == 0:
        raise CalibrationError("no frame-sets to calibrate from (check --start/--stop)")
    return detections, depth_views


def _reestimate_intrinsics(
    cameras: dict[str, Camera], detections: dict[tuple[str, int], CharucoCorners], spec: BoardSpec, cfg: CalibrateConfig
) -> dict[str, Camera]:
    """Each camera with its colour intrinsics estimated from its board views."""
    cams = dict(cameras)
    for name, cam in cameras.items():
        dets = [d for (c, _), d in detections.items() if c == name]
        icfg = IntrinsicsConfig(min_corners_per_view=max(cfg.min_corners, 12))
        res = calibrate_intrinsics(dets, spec, icfg, camera=name)
        cams[name] = Camera(name, res.intrinsics, cam.world_from_cam, cam.depth, cam.cam_from_depth)
    return cams


def _depth_clouds(
    cams: dict[str, Camera], depth_views: dict[str, list[tuple[np.ndarray, np.ndarray]]]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per camera with depth registered to its colour grid, its first RGB-D view as a
    ``(points_cam_m, colours in [0, 1])`` cloud of at most ~40000 points."""
    clouds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, views in depth_views.items():
        for rgb, depth_m in views[:1]:
            if depth_m.shape == (cams[name].color.height_px, cams[name].color.width_px):
                p, idx = depth_to_points_cam(cams[name].color, depth_m)
                step = max(1, p.shape[0] // 40000)
                clouds[name] = (p[::step], rgb.reshape(-1, 3)[idx[::step]].astype(np.float64) / 255.0)
    return clouds


def _align_floor(world_from_cam: dict[str, np.ndarray], clouds: dict[str, tuple[np.ndarray, np.ndarray]], world: str) -> dict[str, np.ndarray]:
    """The poses moved so that the floor seen in depth is z = 0 with z up (unchanged, with a
    warning, when no camera has depth)."""
    pts = []
    for name, (p, _) in clouds.items():
        step = max(1, p.shape[0] // 20000)
        pts.append(transform_points(world_from_cam[name], p[::step].astype(np.float64)))
    if not pts:
        log.warning("no depth in the calibration frames: the floor is not aligned (world = %s frame)", world)
        return world_from_cam
    centres = np.stack([T[:3, 3] for T in world_from_cam.values()])
    up = -np.mean([T[:3, 1] for T in world_from_cam.values()], axis=0)
    new_from_world, n_in = floor_alignment(np.concatenate(pts), centres, up)
    log.info("floor plane: %d inliers; world moved so that the floor is z = 0", n_in)
    return {n: new_from_world @ T for n, T in world_from_cam.items()}


def calibrate_session(
    framesets: Iterator[FrameSet], cameras: dict[str, Camera], spec: BoardSpec, cfg: CalibrateConfig
) -> tuple[dict[str, Camera], WorldResult]:
    """The calibration itself, on frame-sets already read: returns cameras with their new
    ``world_from_cam`` (and re-estimated colour intrinsics if asked) and the solver result."""
    if cfg.board_static and cfg.reestimate_intrinsics:
        raise ConfigError(
            "--board-static keeps one view of the still board per camera, and --reestimate-intrinsics needs the board "
            "in several poses per camera: re-estimate the intrinsics on a recording where the board moves, or drop one option"
        )
    detections, depth_views = _detect_boards(framesets, cameras, spec, cfg)
    cams = _reestimate_intrinsics(cameras, detections, spec, cfg) if cfg.reestimate_intrinsics else dict(cameras)
    world_ref = None if cfg.world == "board" else cfg.world
    if world_ref is not None and world_ref not in cams:
        raise ConfigError(f"--world {world_ref!r} is neither 'board' nor one of the cameras {sorted(cams)}")
    intr = {n: c.color for n, c in cams.items()}
    result = register_cameras(detections, intr, spec, reference=world_ref, cfg=WorldConfig(min_corners=cfg.min_corners))
    world_from_cam = {n: np.linalg.inv(T) for n, T in result.cam_from_world.items()}
    clouds = _depth_clouds(cams, depth_views)
    if cfg.icp:
        if len(clouds) < 2:
            log.warning("coloured ICP needs depth in two or more cameras; skipped")
        else:
            fixed = world_ref if world_ref in clouds else max(clouds, key=lambda n: result.n_corners[n])
            world_from_cam = refine_poses_colored_icp(clouds, world_from_cam, fixed)
    if cfg.floor:
        world_from_cam = _align_floor(world_from_cam, clouds, cfg.world)
    out = {
        n: Camera(n, c.color, world_from_cam[n], c.depth, c.cam_from_depth) for n, c in cams.items()
    }
    return out, result


def run_calibrate(cfg: CalibrateConfig) -> int:
    """Calibrate the session's cameras and write the calibration file; returns 0."""
    root = cfg.recordings if cfg.recordings is not None else default_recordings_root()
    spath = session_dir(root, cfg.session)
    spec = load_board(cfg.board if cfg.board is not None else default_board_path())
    reader, tmp = _open_reader(spath)
    try:
        cameras = reader.calibration.all_cameras()
        kinds = {c.name: c.kind for c in reader.manifest.cameras}
        cams, result = calibrate_session(_framesets(reader, cfg), cameras, spec, cfg)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if cfg.write_session:
        manifest = load_manifest(spath)
        out_path = Path(manifest.calibration)
        out_path = out_path if out_path.is_absolute() else spath / out_path
    else:
        out_path = cfg.output if cfg.output is not None else default_calibration_path(cfg.session)
    # .mkv cameras keep their factory intrinsics from each recording (pose-only entries),
    # unless the intrinsics were re-estimated here
    poses_only = {
        n: c.world_from_cam for n, c in cams.items() if kinds.get(n) is SourceKind.MKV and not cfg.reestimate_intrinsics
    }
    full = {n: c for n, c in cams.items() if n not in poses_only}
    calib = Calibration(full, {}, {n: float(result.rms_px[n]) for n in full}, poses_only)
    save_calibration(out_path, calib)
    for n in sorted(cams):
        c = cams[n].world_from_cam[:3, 3]
        log.info(
            "camera %-8s corners %5d  RMS %.3f px  centre (%.3f, %.3f, %.3f) m",
            n, result.n_corners[n], result.rms_px[n], c[0], c[1], c[2],
        )  # fmt: skip
    log.info("wrote %s", out_path)
    return 0
