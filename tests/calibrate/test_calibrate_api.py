import orscene.calibrate


def test_public_names():
    assert sorted(orscene.calibrate.__all__) == sorted(
        [
            "BoardSpec", "DetectConfig", "CharucoCorners", "board_corners_m", "detect_charuco", "load_board",
            "make_charuco_board", "normalize_ir", "IcpConfig", "refine_poses_colored_icp", "IntrinsicsConfig",
            "IntrinsicsResult", "calibrate_intrinsics", "estimate_board_pose", "load_opencv_calibration",
            "reprojection_rms_px", "PairResult", "azure_color_from_depth", "compare_transforms", "register_pair",
            "rotation_angle_deg", "WORLD_FROM_BOARD_FRAME", "WorldConfig", "WorldResult", "floor_alignment",
            "register_cameras",
        ]
    )  # fmt: skip
    for name in orscene.calibrate.__all__:
        assert hasattr(orscene.calibrate, name)
