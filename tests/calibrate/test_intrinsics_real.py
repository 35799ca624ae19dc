"""Intrinsic calibration on a subset of the 30 real Azure Kinect board images (the full
comparison with the reference calib.yml is benchmarks/bench_calibrate.py)."""

import cv2
import numpy as np
import pytest

from orscene.calibrate import IntrinsicsConfig, calibrate_intrinsics, detect_charuco, load_board, load_opencv_calibration

SUBSET = (0, 2, 5, 9, 13, 17, 22, 26, 29)


def test_intrinsics_subset_agree_with_reference(shared_data):
    d = shared_data / "kinect_charuco"
    spec = load_board(d / "board.json")
    ref = load_opencv_calibration(d / "calibration" / "calib.yml")
    assert ref.size_wh == (4096, 3072) and ref.K_px[0, 0] == pytest.approx(1960.95, abs=0.01)
    dets = [detect_charuco(cv2.imread(str(d / "calibration" / f"color-{i}.jpg"), cv2.IMREAD_GRAYSCALE), spec) for i in SUBSET]
    res = calibrate_intrinsics(dets, spec, IntrinsicsConfig())
    K = res.intrinsics.K_px
    # subset of 9 views: focal lengths within 0.5 %, principal point within 8 px of the reference
    assert K[0, 0] == pytest.approx(ref.K_px[0, 0], rel=5e-3)
    assert K[1, 1] == pytest.approx(ref.K_px[1, 1], rel=5e-3)
    assert abs(K[0, 2] - ref.K_px[0, 2]) < 8 and abs(K[1, 2] - ref.K_px[1, 2]) < 8
    assert res.rms_px < 1.0 and res.intrinsics.distortion.shape == (8,)
    # the two models agree on the rays of pixels where the board was seen (distortion too)
    us, vs = np.meshgrid(np.linspace(800, 3300, 6), np.linspace(600, 2500, 5))
    pts = np.stack([us.ravel(), vs.ravel()], axis=-1)[:, None, :]
    a = cv2.undistortPoints(pts, ref.K_px, ref.distortion)
    b = cv2.undistortPoints(pts, K, res.intrinsics.distortion)
    assert np.max(np.abs(a - b)) * ref.K_px[0, 0] < 3.0, np.max(np.abs(a - b)) * ref.K_px[0, 0]


def test_too_few_views_names_camera(shared_data):
    d = shared_data / "kinect_charuco"
    spec = load_board(d / "board.json")
    dets = [detect_charuco(cv2.imread(str(d / "registration" / "color-0.jpg"), cv2.IMREAD_GRAYSCALE), spec)]
    with pytest.raises(Exception, match="camera 'kinect_a'.*only 1 of 1 images"):
        calibrate_intrinsics(dets, spec, camera="kinect_a")
