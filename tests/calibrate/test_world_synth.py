"""World registration on boards rendered exactly into known cameras."""

import numpy as np
import pytest

from orscene.calibrate import (
    WORLD_FROM_BOARD_FRAME,
    compare_transforms,
    detect_charuco,
    floor_alignment,
    load_board,
    register_cameras,
)
from orscene.errors import CalibrationError
from orscene.geometry.camera import depth_to_points_cam, look_at_world_from_cam, project_world, transform_points
from orscene.synth.board import render_board_views
from orscene.types import Camera


def test_render_shapes_and_exact_depth(rig, rendered, world_from_board):
    for name, (rgb, depth) in rendered.items():
        cam = rig[name]
        assert rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8
        assert depth.shape == (480, 640) and depth.dtype == np.float32
        # a point in the middle of a white margin: bright, and depth = its camera z
        p_world = world_from_board[:3, :3] @ np.array([-0.01, 0.3, 0.0]) + world_from_board[:3, 3]
        uv, z = project_world(cam, p_world)
        u, v = np.round(uv).astype(int)
        assert depth[v, u] == pytest.approx(z, abs=0.01)
        assert rgb[v, u].mean() > 180
        # every valid depth pixel unprojects onto the floor plane or the board plane (z = 0 or 5 mm)
        pts, _ = depth_to_points_cam(cam.color, depth)
        zw = transform_points(cam.world_from_cam, pts.astype(np.float64))[:, 2]
        assert np.percentile(np.abs(zw - np.clip(zw, 0.0, 0.005)), 99) < 0.01


def test_register_three_cameras_within_5mm_02deg(rig, rendered, big_board_json, world_from_board):
    spec = load_board(big_board_json)
    obs = {(n, 0): detect_charuco(rgb, spec) for n, (rgb, _) in rendered.items()}
    assert all(len(d) == spec.n_corners for d in obs.values())
    res = register_cameras(obs, {n: c.color for n, c in rig.items()}, spec)
    for n, cam in rig.items():
        truth = WORLD_FROM_BOARD_FRAME @ np.linalg.inv(world_from_board) @ cam.world_from_cam
        d_t, d_r = compare_transforms(np.linalg.inv(res.cam_from_world[n]), truth)
        assert d_t < 0.005 and d_r < 0.2, (n, d_t, d_r)
        assert res.rms_px[n] < 0.5
    # a camera as the world frame: relative poses are the same
    res2 = register_cameras(obs, {n: c.color for n, c in rig.items()}, spec, reference="cam1")
    assert np.allclose(res2.cam_from_world["cam1"], np.eye(4))
    truth = np.linalg.inv(rig["cam1"].world_from_cam) @ rig["cam2"].world_from_cam
    d_t, d_r = compare_transforms(np.linalg.inv(res2.cam_from_world["cam2"]), truth)
    assert d_t < 0.005 and d_r < 0.2


def test_camera_that_never_sees_the_board(rig, rendered, big_board_json, world_from_board):
    spec = load_board(big_board_json)
    away = Camera("cam_away", rig["cam0"].color, look_at_world_from_cam((0.0, 0.0, 2.5), (3.0, 3.0, 2.6)))
    views = render_board_views({"cam_away": away}, big_board_json, world_from_board, np.random.default_rng(1))
    obs = {(n, 0): detect_charuco(rgb, spec) for n, (rgb, _) in rendered.items()}
    obs[("cam_away", 0)] = detect_charuco(views["cam_away"][0], spec)
    intr = {n: c.color for n, c in rig.items()} | {"cam_away": away.color}
    with pytest.raises(CalibrationError, match=r"^camera 'cam_away': never sees the calibration board") as e:
        register_cameras(obs, intr, spec)
    assert "\n" not in str(e.value)
    # a camera that sees the board but in a placement no other camera shares
    obs2 = {k: v for k, v in obs.items() if k[0] != "cam_away"}
    obs2[("cam2", 5)] = obs2.pop(("cam2", 0))
    with pytest.raises(CalibrationError, match="camera 'cam2': shares no board placement"):
        register_cameras(obs2, {n: c.color for n, c in rig.items()}, spec)


def test_floor_alignment_from_rendered_depth(rig, rendered):
    # pretend the world frame is cam0's: the floor must come back as z = 0, z up
    cam0_from_world = np.linalg.inv(rig["cam0"].world_from_cam)
    pts, centres, ups = [], [], []
    for n, (_, depth) in rendered.items():
        p, _ = depth_to_points_cam(rig[n].color, depth)
        T = cam0_from_world @ rig[n].world_from_cam
        pts.append(transform_points(T, p[::7].astype(np.float64)))
        centres.append(T[:3, 3])
        ups.append(-T[:3, 1])
    new_from_cam0, n_in = floor_alignment(np.concatenate(pts), np.stack(centres), np.mean(ups, axis=0))
    assert n_in > 5000
    est = new_from_cam0 @ cam0_from_world @ rig["cam1"].world_from_cam  # cam1 in the new world
    assert est[2, 3] == pytest.approx(rig["cam1"].world_from_cam[2, 3], abs=0.01)  # height above the floor
    assert np.degrees(np.arccos(np.clip(est[2, 2], -1, 1))) == pytest.approx(
        np.degrees(np.arccos(rig["cam1"].world_from_cam[2, 2])), abs=0.3
    )


def test_colored_icp_reduces_a_pose_error(rig, rendered):
    import cv2

    from orscene.calibrate.icp import IcpConfig, refine_poses_colored_icp

    clouds = {}
    for n in ("cam0", "cam1"):
        rgb, depth = rendered[n]
        p, idx = depth_to_points_cam(rig[n].color, depth)
        clouds[n] = (p[::2], rgb.reshape(-1, 3)[idx[::2]] / 255.0)
    poses = {n: rig[n].world_from_cam.copy() for n in clouds}
    P = np.eye(4)
    P[:3, :3] = cv2.Rodrigues(np.array([0.004, -0.006, 0.005]))[0]
    P[:3, 3] = (0.012, -0.008, 0.006)
    poses["cam1"] = P @ poses["cam1"]
    d_t0, d_r0 = compare_transforms(poses["cam1"], rig["cam1"].world_from_cam)
    out = refine_poses_colored_icp(clouds, poses, fixed="cam0", cfg=IcpConfig(voxel_m=0.02))
    assert np.array_equal(out["cam0"], poses["cam0"])
    d_t, d_r = compare_transforms(out["cam1"], rig["cam1"].world_from_cam)
    assert d_t < 0.7 * d_t0 and d_r < 0.7 * d_r0, (d_t0, d_r0, d_t, d_r)  # 22 mm, 0.5 deg -> ~7 mm, 0.26 deg


def test_intrinsics_known_answer_from_rendered_boards(big_board_json):
    """Six tilted board poses in front of one 320x240 camera: K recovered within 1 %."""
    import cv2

    from calib_rig import kinect_like_intrinsics
    from orscene.calibrate import IntrinsicsConfig, calibrate_intrinsics

    spec = load_board(big_board_json)
    intr = kinect_like_intrinsics().scaled(0.5)
    cam = Camera("c", intr, look_at_world_from_cam((0.0, 0.0, 1.5), (0.0, 0.01, 0.0), up_world=(0.0, 1.0, 0.0)))
    tilts = [(0.5, 0, -0.6, -0.5), (-0.5, 0.2, -0.2, -0.3), (0.1, 0.6, -0.4, -0.1), (0.2, -0.5, -0.5, -0.6), (-0.4, -0.4, 0, -0.2), (0, 0, -0.8, -0.6)]
    dets = []
    for k, (ax, ay, x, y) in enumerate(tilts):
        T = np.eye(4)
        T[:3, :3] = cv2.Rodrigues(np.array([ax, ay, 0.2 * k]))[0] @ np.diag([1.0, -1.0, -1.0])
        T[:3, 3] = np.array([0.3 * x + 0.15, 0.3 * y + 0.1, 0.4]) - T[:3, :3] @ np.array([0.42, 0.3, 0.0])
        rgb, _ = render_board_views({"c": cam}, big_board_json, T, np.random.default_rng(k))["c"]
        dets.append(detect_charuco(rgb, spec))
    res = calibrate_intrinsics(dets, spec, IntrinsicsConfig(min_corners_per_view=8), camera="c")
    K, K0 = res.intrinsics.K_px, intr.K_px
    assert K[0, 0] == pytest.approx(K0[0, 0], rel=0.01) and K[1, 1] == pytest.approx(K0[1, 1], rel=0.01)
    assert abs(K[0, 2] - K0[0, 2]) < 2.0 and abs(K[1, 2] - K0[1, 2]) < 2.0
    assert res.rms_px < 0.2
    # the distortion is recovered where the board was seen: undistorting with either model
    # gives the same points up to the small shift of the principal point (measured 0.07 px;
    # ignoring the distortion would be 2.7 px off)
    pts = np.concatenate([d.corners_px for d in dets])[:, None, :]
    a = cv2.undistortPoints(pts, K0, intr.distortion, P=K0)
    b = cv2.undistortPoints(pts, K, res.intrinsics.distortion, P=K)
    err = np.max(np.linalg.norm((a - a.mean(0)) - (b - b.mean(0)), axis=-1))
    c = cv2.undistortPoints(pts, K, np.zeros(8), P=K)
    assert err < 0.3 < np.max(np.linalg.norm((a - a.mean(0)) - (c - c.mean(0)), axis=-1))
