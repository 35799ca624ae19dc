import json

import cv2
import numpy as np
import pytest

from orscene.calibrate import (
    DetectConfig,
    board_corners_m,
    detect_charuco,
    estimate_board_pose,
    load_board,
    load_opencv_calibration,
    normalize_ir,
)
from orscene.errors import CalibrationError, ConfigError


def test_load_real_board(shared_data):
    spec = load_board(shared_data / "kinect_charuco" / "board.json")
    assert (spec.squares_x, spec.squares_y) == (14, 9)
    assert spec.square_length_m == pytest.approx(0.04) and spec.marker_length_m == pytest.approx(0.03)
    assert spec.dictionary == cv2.aruco.DICT_5X5_250 == 6
    corners = board_corners_m(spec)
    assert corners.shape == (13 * 8, 3)
    assert np.allclose(corners[0], [0.04, 0.04, 0.0]) and np.allclose(corners[1] - corners[0], [0.04, 0.0, 0.0])


def test_load_board_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_board(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"squares_x": 5, "squares_y": 4, "square_length": 30, "marker_length": 40, "aruco_dict_name": 0}))
    with pytest.raises(ConfigError, match="marker_length"):
        load_board(bad)
    bad.write_text("{")
    with pytest.raises(ConfigError, match="bad.json"):
        load_board(bad)


def test_normalize_ir_stretches_16bit():
    x = np.linspace(0, 4000, 100 * 100, dtype=np.float32).reshape(100, 100).astype(np.uint16)
    out = normalize_ir(x, 1.0, 99.0)
    assert out.dtype == np.uint8 and out.shape == (100, 100)
    assert out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out.ravel().astype(int)) >= 0)  # monotone


def test_detect_real_color_and_ir(shared_data):
    d = shared_data / "kinect_charuco"
    spec = load_board(d / "board.json")
    color = cv2.imread(str(d / "registration" / "color-0.jpg"))[..., ::-1]
    det = detect_charuco(color, spec)
    assert len(det) == 104 and det.image_size_wh == (4096, 3072)
    assert np.all(np.diff(det.ids) > 0)
    ir8 = cv2.imread(str(d / "registration" / "ir-0.png"), cv2.IMREAD_UNCHANGED)
    ir16 = ir8.astype(np.uint16) * 37 + 500  # the same image as raw 16-bit IR
    det_ir = detect_charuco(ir16, spec)
    assert len(det_ir) >= 80
    # the board pose of the IR view reprojects to well under a pixel with its intrinsics
    T, rms = estimate_board_pose(det_ir, spec, load_opencv_calibration(d / "registration" / "calib_ir.yml"), camera="ir")
    assert rms < 0.5 and 0.3 < T[2, 3] < 3.0


def test_no_board_is_a_calibration_error_naming_the_camera(shared_data):
    spec = load_board(shared_data / "kinect_charuco" / "board.json")
    det = detect_charuco(np.full((240, 320, 3), 128, np.uint8), spec, DetectConfig())
    assert len(det) == 0
    intr = load_opencv_calibration(shared_data / "kinect_charuco" / "registration" / "calib_ir.yml")
    with pytest.raises(CalibrationError, match="camera 'cam7': only 0 board corners seen") as e:
        estimate_board_pose(det, spec, intr, camera="cam7")
    assert "\n" not in str(e.value)
