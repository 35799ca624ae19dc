"""Fixtures for the calibration tests: a large synthetic board, a small Kinect-like rig."""

import json
from pathlib import Path

import numpy as np
import pytest

from orscene.geometry.camera import look_at_world_from_cam
from orscene.types import Camera

from calib_rig import kinect_like_intrinsics  # noqa: F401  (also used by the fixtures below)


@pytest.fixture(scope="session")
def big_board_json(tmp_path_factory) -> Path:
    """A 7x5 board of 12 cm squares (a room-scale print), ArUco 4x4."""
    p = tmp_path_factory.mktemp("board") / "board.json"
    p.write_text(json.dumps({"squares_x": 7, "squares_y": 5, "square_length": 120, "marker_length": 90, "aruco_dict_name": "DICT_4X4_50"}))
    return p


@pytest.fixture(scope="session")
def rig() -> dict[str, Camera]:
    """Three ceiling-high cameras around a board lying on the floor near the origin."""
    intr = kinect_like_intrinsics()
    eyes = {"cam0": (1.4, 0.9, 1.7), "cam1": (-1.3, 1.0, 1.8), "cam2": (0.2, -1.5, 1.9)}
    return {n: Camera(n, intr, look_at_world_from_cam(e, (0.1, 0.05, 0.0))) for n, e in eyes.items()}


@pytest.fixture(scope="session")
def world_from_board() -> np.ndarray:
    """Board face-up on the floor (board z points down into the floor), 5 mm thick."""
    T = np.eye(4)
    T[:3, :3] = np.diag([1.0, -1.0, -1.0]) @ np.array(
        [[np.cos(0.3), -np.sin(0.3), 0], [np.sin(0.3), np.cos(0.3), 0], [0, 0, 1]]
    )
    T[:3, 3] = (-0.3, 0.25, 0.005)
    return T


@pytest.fixture(scope="session")
def rendered(rig, big_board_json, world_from_board):
    from orscene.synth.board import render_board_views

    return render_board_views(rig, big_board_json, world_from_board, np.random.default_rng(7))
