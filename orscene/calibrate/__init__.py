"""orscene.calibrate: ChArUco board detection, intrinsic calibration, pairwise and world
registration of cameras (``cli.py calibrate``)."""

from orscene.calibrate.board import (
    BoardSpec,
    CharucoCorners,
    DetectConfig,
    board_corners_m,
    detect_charuco,
    load_board,
    make_charuco_board,
    normalize_ir,
)
from orscene.calibrate.icp import IcpConfig, refine_poses_colored_icp
from orscene.calibrate.intrinsics import (
    IntrinsicsConfig,
    IntrinsicsResult,
    calibrate_intrinsics,
    estimate_board_pose,
    load_opencv_calibration,
    reprojection_rms_px,
)
from orscene.calibrate.pairwise import (
    PairResult,
    azure_color_from_depth,
    compare_transforms,
    register_pair,
    rotation_angle_deg,
)
from orscene.calibrate.world import WORLD_FROM_BOARD_FRAME, WorldConfig, WorldResult, floor_alignment, register_cameras

__all__ = [
    "BoardSpec",
    "DetectConfig",
    "CharucoCorners",
    "board_corners_m",
    "detect_charuco",
    "load_board",
    "make_charuco_board",
    "normalize_ir",
    "IcpConfig",
    "refine_poses_colored_icp",
    "IntrinsicsConfig",
    "IntrinsicsResult",
    "calibrate_intrinsics",
    "estimate_board_pose",
    "load_opencv_calibration",
    "reprojection_rms_px",
    "PairResult",
    "azure_color_from_depth",
    "compare_transforms",
    "register_pair",
    "rotation_angle_deg",
    "WORLD_FROM_BOARD_FRAME",
    "WorldConfig",
    "WorldResult",
    "floor_alignment",
    "register_cameras",
]
