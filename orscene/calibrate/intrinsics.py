"""Intrinsic calibration (Brown-Conrady, 8 coefficients) from ChArUco detections, and
per-view board pose (PnP)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orscene.calibrate.board import BoardSpec, CharucoCorners, board_corners_m
from orscene.errors import CalibrationError
from orscene.types import Intrinsics

__all__ = [
    "IntrinsicsConfig",
    "IntrinsicsResult",
    "calibrate_intrinsics",
    "estimate_board_pose",
    "reprojection_rms_px",
    "load_opencv_calibration",
    "rt_to_matrix",
    "matrix_to_rt",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntrinsicsConfig:
    """Intrinsic calibration options."""

    rational_model: bool = True
    """Estimate 8 coefficients k1 k2 p1 p2 k3 k4 k5 k6 (``cv2.CALIB_RATIONAL_MODEL``), the
    Azure Kinect's model; False = 5 coefficients."""
    min_corners_per_view: int = 12
    """Views with fewer corners are skipped."""
    min_views: int = 4
    """Fewer usable views than this raise CalibrationError."""


@dataclass(frozen=True)
class IntrinsicsResult:
    intrinsics: Intrinsics
    rms_px: float
    """Overall reprojection RMS (pixels), as returned by cv2.calibrateCamera."""
    per_view_rms_px: tuple[float, ...]
    cam_from_board: tuple[np.ndarray, ...]
    """Board pose in each used view, (4, 4) metres."""
    used_views: tuple[int, ...]
    """Indices (into the input detections) of the views used."""


def rt_to_matrix(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3))[0]
    T[:3, 3] = np.asarray(tvec, dtype=np.float64).reshape(3)
    return T


def matrix_to_rt(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rvec = cv2.Rodrigues(np.asarray(T[:3, :3], dtype=np.float64))[0].reshape(3)
    return rvec, np.asarray(T[:3, 3], dtype=np.float64).copy()


def calibrate_intrinsics(
    detections: Sequence[CharucoCorners], spec: BoardSpec, cfg: IntrinsicsConfig = IntrinsicsConfig(), camera: str = "camera"
) -> IntrinsicsResult:
    """Estimate K and distortion from several views of a planar board.

    Minimises ``sum ||project(K, dist, cam_from_board_i @ X_j) - x_ij||^2`` over all views
    and corners (OpenCV's Zhang initialisation + Levenberg-Marquardt).
    """
    if not detections:
        raise CalibrationError("no board images given", camera=camera)
    sizes = {d.image_size_wh for d in detections}
    if len(sizes) != 1:
        raise CalibrationError(f"board images of different sizes {sorted(sizes)}", camera=camera)
    (w, h) = sizes.pop()
    obj_all = board_corners_m(spec)
    used = [i for i, d in enumerate(detections) if len(d) >= cfg.min_corners_per_view]
    if len(used) < cfg.min_views:
        raise CalibrationError(
            f"board seen with >= {cfg.min_corners_per_view} corners in only {len(used)} of {len(detections)} images "
            f"(need {cfg.min_views})",
            camera=camera,
        )
    obj = [obj_all[detections[i].ids].astype(np.float32) for i in used]
    img = [detections[i].corners_px.astype(np.float32).reshape(-1, 1, 2) for i in used]
    flags = cv2.CALIB_RATIONAL_MODEL if cfg.rational_model else 0
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12)
    rms, K, dist, rvecs, tvecs, _, _, per_view = cv2.calibrateCameraExtended(
        obj, img, (w, h), None, None, flags=flags, criteria=crit
    )
    dist = np.asarray(dist, dtype=np.float64).ravel()[:8]
    intr = Intrinsics(K, dist, w, h)
    poses = tuple(rt_to_matrix(r, t) for r, t in zip(rvecs, tvecs))
    log.info("camera %s: intrinsics from %d views, RMS %.3f px", camera, len(used), rms)
    return IntrinsicsResult(intr, float(rms), tuple(float(e) for e in np.asarray(per_view).ravel()), poses, tuple(used))


def reprojection_rms_px(det: CharucoCorners, spec: BoardSpec, intr: Intrinsics, cam_from_board: np.ndarray) -> float:
    obj = board_corners_m(spec)[det.ids]
    r, t = matrix_to_rt(cam_from_board)
    proj, _ = cv2.projectPoints(obj, r, t, intr.K_px, intr.distortion)
    return float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - det.corners_px) ** 2, axis=1))))


def estimate_board_pose(
    det: CharucoCorners, spec: BoardSpec, intr: Intrinsics, camera: str = "camera", min_corners: int = 6
) -> tuple[np.ndarray, float]:
    """``cam_from_board`` (4, 4) from one detection by PnP (SQPnP init, LM refinement),
    and its reprojection RMS in pixels. Raises CalibrationError naming the camera when
    fewer than ``min_corners`` corners are seen or the corners are collinear."""
    if len(det) < min_corners:
        raise CalibrationError(f"only {len(det)} board corners seen (need {min_corners})", camera=camera)
    obj = board_corners_m(spec)[det.ids]
    nx = spec.squares_x - 1
    cols, rows = det.ids % nx, det.ids // nx
    if np.unique(cols).size < 2 or np.unique(rows).size < 2:
        raise CalibrationError(f"the {len(det)} board corners seen are collinear", camera=camera)
    img = det.corners_px.reshape(-1, 1, 2)
    ok, rvec, tvec = cv2.solvePnP(obj, img, intr.K_px, intr.distortion, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        ok, rvec, tvec = cv2.solvePnP(obj, img, intr.K_px, intr.distortion, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise CalibrationError("board pose (solvePnP) failed", camera=camera)
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, intr.K_px, intr.distortion, rvec, tvec)
    T = rt_to_matrix(rvec, tvec)
    if T[2, 3] <= 0:
        raise CalibrationError("board pose (solvePnP) puts the board behind the camera", camera=camera)
    return T, reprojection_rms_px(det, spec, intr, T)


def load_opencv_calibration(path: str | Path) -> Intrinsics:
    """Read an OpenCV FileStorage calibration (``K``, ``dist``, ``img_size``) as Intrinsics."""
    path = Path(path)
    if not path.exists():
        raise CalibrationError("calibration file not found", path)
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    try:
        K = fs.getNode("K").mat()
        dist = fs.getNode("dist").mat()
        size = fs.getNode("img_size").mat()
    finally:
        fs.release()
    if K is None or dist is None or size is None:
        raise CalibrationError("expected K, dist and img_size in OpenCV FileStorage", path)
    size = np.asarray(size).ravel()
    return Intrinsics(np.asarray(K, np.float64), np.asarray(dist, np.float64).ravel()[:8], int(size[0]), int(size[1]))
