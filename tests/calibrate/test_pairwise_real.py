"""Colour-from-IR of one real Azure Kinect from one board view, vs a factory calibration."""

import cv2
import numpy as np
import pytest

from orscene.calibrate import (
    azure_color_from_depth,
    compare_transforms,
    detect_charuco,
    load_board,
    load_opencv_calibration,
    register_pair,
    rotation_angle_deg,
)
from orscene.errors import CalibrationError


def test_factory_color_from_depth(shared_data):
    T = azure_color_from_depth(shared_data / "azure_kinect" / "calibration.json")
    assert np.linalg.norm(T[:3, 3]) == pytest.approx(0.0324, abs=5e-4)  # metres, ~32 mm baseline
    assert T[0, 3] == pytest.approx(-0.03208, abs=1e-4)  # p_color = R p_depth + t: the colour camera is 32 mm along -x of the depth camera
    assert 4.0 < rotation_angle_deg(T) < 6.0  # the colour camera is tilted ~5 deg about x
    assert np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-5)


def test_factory_parse_error(tmp_path):
    p = tmp_path / "c.json"
    p.write_text('{"CalibrationInformation": {}}')
    with pytest.raises(CalibrationError, match="c.json: not an Azure Kinect factory calibration"):
        azure_color_from_depth(p)


def test_color_from_ir_agrees_with_factory(shared_data):
    d = shared_data / "kinect_charuco"
    spec = load_board(d / "board.json")
    det_c = detect_charuco(cv2.imread(str(d / "registration" / "color-0.jpg"))[..., ::-1], spec)
    det_i = detect_charuco(cv2.imread(str(d / "registration" / "ir-0.png"), cv2.IMREAD_UNCHANGED), spec)
    res = register_pair(
        det_c, load_opencv_calibration(d / "registration" / "calib_color.yml"),
        det_i, load_opencv_calibration(d / "registration" / "calib_ir.yml"), spec, ("color", "ir"),
    )  # fmt: skip
    assert res.rms_a_px < 0.6 and res.rms_b_px < 0.4
    factory = azure_color_from_depth(shared_data / "azure_kinect" / "calibration.json")
    d_t, d_r = compare_transforms(res.a_from_b, factory)
    # another device's factory calibration: same design, within a few mm and tenths of a degree
    assert d_t < 0.003 and d_r < 0.5
    assert 0.030 < np.linalg.norm(res.a_from_b[:3, 3]) < 0.035
