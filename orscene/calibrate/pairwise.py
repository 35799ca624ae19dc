"""Pairwise registration of two cameras that see one board at the same time (e.g. an
Azure Kinect's colour and IR cameras), and the Azure Kinect factory extrinsics."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orscene.calibrate.board import BoardSpec, CharucoCorners
from orscene.calibrate.world import WorldConfig, register_cameras
from orscene.errors import CalibrationError
from orscene.types import Intrinsics

__all__ = ["PairResult", "register_pair", "azure_color_from_depth", "rotation_angle_deg", "compare_transforms"]


@dataclass(frozen=True)
class PairResult:
    a_from_b: np.ndarray
    """(4, 4) metres: ``p_a = a_from_b @ p_b``."""
    rms_a_px: float
    rms_b_px: float


def register_pair(
    det_a: CharucoCorners,
    intr_a: Intrinsics,
    det_b: CharucoCorners,
    intr_b: Intrinsics,
    spec: BoardSpec,
    names: tuple[str, str] = ("a", "b"),
    cfg: WorldConfig = WorldConfig(),
) -> PairResult:
    """``a_from_b`` from one simultaneous board view in each camera: solvePnP per camera,
    composed (``a_from_board @ inv(b_from_board)``), then refined jointly over the board
    pose and ``a_from_b`` (camera a = reference) by least squares on both images' corners."""
    a, b = names
    res = register_cameras({(a, 0): det_a, (b, 0): det_b}, {a: intr_a, b: intr_b}, spec, reference=a, cfg=cfg)
    a_from_b = res.cam_from_world[a] @ np.linalg.inv(res.cam_from_world[b])
    return PairResult(a_from_b, res.rms_px[a], res.rms_px[b])


def azure_color_from_depth(calibration_json: str | Path) -> np.ndarray:
    """The colour-from-depth transform (4, 4, metres) of an Azure Kinect factory
    calibration (``calibration.json`` attached to every ``.mkv``).

    The JSON gives each camera's ``Rt`` relative to the depth camera (``D0``, identity):
    ``p_color = R p_depth + t`` with ``Rotation`` row-major and ``Translation`` in metres,
    the same direction and units as the SDK's ``extrinsics[DEPTH][COLOR]`` (which is in mm).
    """
    path = Path(calibration_json)
    try:
        data = json.loads(path.read_text())
        cams = data["CalibrationInformation"]["Cameras"]
        by_purpose = {c["Purpose"]: c for c in cams}
        depth = by_purpose["CALIBRATION_CameraPurposeDepth"]["Rt"]
        color = by_purpose["CALIBRATION_CameraPurposePhotoVideo"]["Rt"]
    except FileNotFoundError:
        raise CalibrationError("Azure Kinect calibration file not found", path) from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise CalibrationError(f"not an Azure Kinect factory calibration ({type(e).__name__}: {e})", path) from None

    def mat(rt: dict) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = np.asarray(rt["Rotation"], dtype=np.float64).reshape(3, 3)
        T[:3, 3] = np.asarray(rt["Translation"], dtype=np.float64)
        return T

    color_from_ref, depth_from_ref = mat(color), mat(depth)
    T = color_from_ref @ np.linalg.inv(depth_from_ref)
    if not 0.005 < np.linalg.norm(T[:3, 3]) < 0.2:
        raise CalibrationError(f"implausible depth-to-colour baseline {np.linalg.norm(T[:3, 3]):.4f} m (units?)", path)
    return T


def rotation_angle_deg(R: np.ndarray) -> float:
    """Angle (degrees) of a rotation matrix."""
    c = (np.trace(np.asarray(R)[:3, :3]) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def compare_transforms(T_est: np.ndarray, T_ref: np.ndarray) -> tuple[float, float]:
    """(translation difference in metres, rotation difference in degrees)."""
    d_t = float(np.linalg.norm(T_est[:3, 3] - T_ref[:3, 3]))
    d_r = rotation_angle_deg(T_est[:3, :3] @ T_ref[:3, :3].T)
    return d_t, d_r
