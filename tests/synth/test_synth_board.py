"""``--board``: a calibration recording of a ChArUco board held above the OR table."""

import json

import cv2
import numpy as np

from orscene.calibrate.board import load_board
from orscene.geometry.camera import depth_to_points_cam, project_world, transform_points
from orscene.recording.session import load_calibration, load_manifest
from orscene.synth.generate import generate_session
from orscene.synth.depth_model import depth_sigma_m


def test_board_session_geometry(tmp_path, tiny_config, shared_data, caplog):
    """The Kinect SDK's desk board (4 mm marker bits) in room cameras: rendered where it is,
    and a warning per camera that it is too small to be detected there."""
    board = shared_data / "kinect_charuco" / "board.json"
    cfg = tiny_config(tmp_path, session="calib", board=board, seconds=0.2, width=640, height=360)
    with caplog.at_level("WARNING", logger="orscene.synth.board"):
        path = generate_session(cfg)
    warned = [r.getMessage() for r in caplog.records if "marker bits" in r.getMessage()]
    assert [w.split()[1] for w in warned] == ["cam0", "cam1"]
    m = load_manifest(path)
    assert m.annotations["board_pose"] == "annotations/board_pose.json"
    pose = json.loads((path / "annotations" / "board_pose.json").read_text())
    world_from_board = np.array(pose["world_from_board"])
    assert np.array_equal(world_from_board, pose["world_from_board_per_frame"][0])
    w, h = load_board(board).size_m
    centre_z = (world_from_board @ np.array([w / 2, h / 2, 0, 1.0]))[2]
    assert abs(centre_z - 1.25) < 0.06  # held above the table
    board_from_world = np.linalg.inv(world_from_board)
    calib = load_calibration(path / "calibration.json")
    for name, cam in calib.cameras.items():
        # the board's centre projects inside the image, on the printed (high-contrast) area
        centre = (world_from_board @ np.array([w / 2, h / 2, 0, 1.0]))[:3]
        uv, _ = project_world(cam, centre)
        img = cv2.imread(str(path / name / "color" / "000000.jpg"), cv2.IMREAD_GRAYSCALE)
        assert 0 < uv[0] < img.shape[1] and 0 < uv[1] < img.shape[0]
        r, c = int(uv[1]), int(uv[0])
        assert img[r - 6:r + 7, c - 6:c + 7].std() > 20  # black and white squares
        # raw depth in the sensor grid: every measured point is on the floor or on the board
        mm = cv2.imread(str(path / name / "depth" / "000000.png"), cv2.IMREAD_UNCHANGED)
        assert mm.shape == (cam.depth.height_px, cam.depth.width_px)
        pts, _ = depth_to_points_cam(cam.depth, (mm / 1000.0).astype(np.float32))
        z = transform_points(cam.world_from_cam @ cam.cam_from_depth, pts.astype(np.float64))[:, 2]
        d = pts[:, 2].astype(np.float64)
        tol = 5 * depth_sigma_m(d) + 0.01
        zb = transform_points(board_from_world @ cam.world_from_cam @ cam.cam_from_depth, pts.astype(np.float64))[:, 2]
        on_plane = (np.abs(z) < tol) | (np.abs(zb) < tol)
        assert len(z) > 1000 and on_plane.mean() > 0.99
        assert (np.abs(zb) < tol).sum() > 20  # the board itself is measured
