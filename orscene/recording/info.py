"""``python cli.py info``: summarize a session or one Azure Kinect ``.mkv``.

The text is built by :func:`format_session_info` / :func:`format_mkv_info` (tested);
:func:`run_info` only prints it.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orscene.errors import ConfigError
from orscene.recording.mkv import MkvReader
from orscene.recording.reader import SessionReader, open_session
from orscene.recording.session import default_recordings_root, session_dir
from orscene.types import Camera, Intrinsics

__all__ = ["InfoConfig", "run_info", "format_session_info", "format_mkv_info", "format_camera"]


@dataclass(frozen=True)
class InfoConfig:
    """Summarize a session (``--session NAME``) or an Azure Kinect recording (``--mkv FILE``)."""

    session: str | None = None
    """Session name under the recordings root."""
    mkv: Path | None = None
    """An Azure Kinect .mkv file to summarize instead of a session."""
    recordings: Path = default_recordings_root()
    """Recordings root holding the sessions (``$ORSCENE_RECORDINGS`` or ./recordings)."""


_DIST_NAMES = ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")
"""OpenCV's order of the distortion coefficients (the order stored and printed)."""


def _distortion_model(d: np.ndarray) -> tuple[str, int]:
    """The model's name with its coefficients in OpenCV's order, and how many it has."""
    if not np.any(d):
        return "none", 0
    if np.any(d[5:]):
        return "Brown-Conrady rational (k1, k2, p1, p2, k3, k4, k5, k6)", 8
    return "Brown-Conrady (k1, k2, p1, p2, k3)", 5


def _intr_lines(label: str, i: Intrinsics) -> list[str]:
    K = i.K_px
    model, n = _distortion_model(i.distortion)
    # every coefficient of the model, zeros included (a zero p1 is a value, not an absence)
    values = ", ".join(f"{name}={v:+.4g}" for name, v in zip(_DIST_NAMES[:n], i.distortion[:n]))
    return [
        f"    {label}: {i.width_px}x{i.height_px} px, fx={K[0, 0]:.2f} fy={K[1, 1]:.2f} px, "
        f"principal point ({K[0, 2]:.2f}, {K[1, 2]:.2f}) px",
        f"      distortion: {model}" + (f": {values}" if n else ""),
    ]


def format_camera(cam: Camera, posed: bool) -> list[str]:
    """Calibration summary lines of one camera."""
    lines = _intr_lines("colour", cam.color)
    if cam.depth is not None and cam.cam_from_depth is not None:
        lines += _intr_lines("depth ", cam.depth)
        t_mm = cam.cam_from_depth[:3, 3] * 1000.0
        ang = np.degrees(np.arccos(np.clip((np.trace(cam.cam_from_depth[:3, :3]) - 1) / 2, -1, 1)))
        lines.append(f"      depth -> colour: t = ({t_mm[0]:.1f}, {t_mm[1]:.1f}, {t_mm[2]:.1f}) mm, rotation {ang:.2f} deg")
    if posed:
        c = cam.center_world_m
        view = cam.world_from_cam[:3, 2]
        lines.append(
            f"    position in world: ({c[0]:.3f}, {c[1]:.3f}, {c[2]:.3f}) m, looking along ({view[0]:.2f}, {view[1]:.2f}, {view[2]:.2f})"
        )
    else:
        lines.append("    position in world: unknown (uncalibrated)")
    return lines


def format_session_info(reader: SessionReader) -> str:
    """Cameras, kind, resolution, frames, duration and calibration of a session."""
    m = reader.manifest
    lines = [
        f"session {m.name}  ({reader.path})",
        f"  {len(reader.camera_names)} cameras, {reader.n_framesets} frame-sets, "
        f"{reader.duration_s:.2f} s at {reader.fps:g} fps (sync tolerance {m.tolerance_ns / 1e6:.1f} ms)",
        f"  calibration: {reader.calibration_path.name}",
    ]
    if m.description:
        lines.insert(1, f"  {m.description}")
    for src in m.cameras:
        name = src.name
        cam = reader.camera(name)
        n = reader.n_frames(name)
        posed = name in reader.calibration.cameras
        lines.append(
            f"  camera {name}: {reader.kind(name)}, {src.kind.value} {src.path}, "
            f"{cam.color.width_px}x{cam.color.height_px}, {n} frames"
        )
        lines += format_camera(cam, posed)
    for key, path in m.annotations.items():
        lines.append(f"  annotations {key}: {path}")
    return "\n".join(lines)


def format_mkv_info(mkv: MkvReader) -> str:
    """Tracks, frames, duration and factory calibration of one Azure Kinect recording."""
    ts = mkv.timestamps_ns
    dur = (float(ts[-1] - ts[0]) / 1e9 + 1.0 / mkv.fps) if ts.size else 0.0
    kind = "RGB-D" if mkv.has_depth else "RGB"
    lines = [
        f"Azure Kinect recording {mkv.path}",
        f"  {kind}: colour {mkv.color_codec.upper()} {mkv.color_wh[0]}x{mkv.color_wh[1]} ({mkv.color_mode or '?'})"
        + (f", depth b16g {mkv.depth_wh[0]}x{mkv.depth_wh[1]} ({mkv.depth_mode or '?'})" if mkv.depth_wh else ""),
        f"  {mkv.n_frames} captures, {dur:.3f} s, first timestamp {ts[0] / 1e9:.6f} s" if ts.size else "  0 captures",
        f"  device serial {mkv.metadata.get('K4A_DEVICE_SERIAL_NUMBER', '?')}, sync {mkv.metadata.get('K4A_WIRED_SYNC_MODE', '?')}",
        "  factory calibration (from the calibration.json attachment):",
    ]
    lines += format_camera(mkv.camera, posed=False)[:-1]
    lines.append("    position in world: not in the recording (set world_from_cam in the session calibration)")
    return "\n".join(lines)


def run_info(cfg: InfoConfig) -> int:
    if (cfg.session is None) == (cfg.mkv is None):
        raise ConfigError("give exactly one of --session NAME or --mkv FILE")
    if cfg.mkv is not None:
        text = format_mkv_info(MkvReader(cfg.mkv, strict=True))
    else:
        text = format_session_info(open_session(session_dir(cfg.recordings, cfg.session)))
    sys.stdout.write(text + "\n")
    return 0
