"""A generated session loads with the project's readers and its ground truth is consistent."""

import dataclasses

import cv2
import numpy as np
import pytest

from orscene.errors import AnnotationError, ConfigError, SessionError
from orscene.geometry.camera import project_world, transform_points
from orscene.recording.faces import load_faces
from orscene.recording.session import load_calibration, load_manifest
from orscene.synth.depth_model import DepthNoiseConfig, depth_sigma_m
from orscene.synth.generate import Scenario, generate_session, session_world
from orscene.synth.groundtruth import load_groundtruth
from orscene.types import COCO17


def test_session_loads_with_project_readers(tiny_session):
    cfg, path = tiny_session
    m = load_manifest(path)
    assert m.camera_names == ("cam0", "cam1") and m.fps == 5.0
    calib = load_calibration(path / m.calibration)
    assert set(calib.cameras) == {"cam0", "cam1"}
    for name, cam in calib.cameras.items():
        assert cam.color.size_wh == (320, 180)
        assert cam.depth is not None and cam.depth.size_wh == (160, 144)  # 640x576 scaled with the width
        assert 0.028 < np.linalg.norm(cam.cam_from_depth[:3, 3]) < 0.036  # ~32 mm baseline
        assert 2.2 < cam.center_world_m[2] < 3.0  # high "surgical" cameras
        img = cv2.imread(str(path / name / "color" / "000001.jpg"))
        assert img.shape == (180, 320, 3)
        depth = cv2.imread(str(path / name / "depth" / "000001.png"), cv2.IMREAD_UNCHANGED)
        assert depth.dtype == np.uint16 and depth.shape == (144, 160)
        ts = np.loadtxt(path / name / "timestamps.csv", delimiter=",", skiprows=1, dtype=np.int64)
        assert ts.shape == (2, 2) and abs(ts[1, 1] - 200_000_000) < 2_000_000
    faces = load_faces(path / m.annotations["faces"])
    assert faces.frames == (0, 1) and faces.cameras == ("cam0", "cam1")
    assert len(faces.faces) > 0
    gt = load_groundtruth(path)
    assert gt.joints_world_m.shape == (2, 7, 17, 3) and gt.roles[-1] == "patient"
    assert gt.keypoints_px.shape == (2, 2, 7, 17, 2)
    # every person in the room has finite joints at a plausible height, absent ones NaN
    assert np.isfinite(gt.joints_world_m[gt.present]).all() and np.isnan(gt.joints_world_m[~gt.present]).all()
    staff = gt.staff_mask()
    nose_z = gt.joints_world_m[:, staff, COCO17.index("nose"), 2]
    assert np.all((nose_z[np.isfinite(nose_z)] > 1.2) & (nose_z[np.isfinite(nose_z)] < 2.0))
    # head frames are rigid and their origin is the face centre
    R = gt.world_from_head[gt.present][:, :3, :3]
    assert np.allclose(R @ np.transpose(R, (0, 2, 1)), np.eye(3), atol=1e-4)
    assert np.allclose(gt.world_from_head[gt.present][:, :3, 3], gt.face_center_world_m[gt.present])


def test_projected_head_lies_inside_its_face_box(tiny_session):
    cfg, path = tiny_session
    calib = load_calibration(path / "calibration.json")
    gt = load_groundtruth(path)
    faces = load_faces(path / "annotations" / "faces.json")
    checked = 0
    for f in faces.faces:
        if f.ignore or f.visible_fraction < 0.9:
            continue
        p = gt.person_index(f.person)
        uv, _ = project_world(calib.cameras[f.camera], gt.face_center_world_m[f.frame, p])
        x0, y0, x1, y1 = f.box_xyxy_px
        assert x0 <= uv[0] <= x1 and y0 <= uv[1] <= y1, (f, uv)
        # the nose keypoint is inside the box too, and marked visible
        c = gt.camera_index(f.camera)
        nose = gt.keypoints_px[f.frame, c, p, 0]
        assert x0 - 1 <= nose[0] <= x1 + 1 and y0 - 1 <= nose[1] <= y1 + 1
        assert gt.keypoint_visibility[f.frame, c, p, 0] == 2
        checked += 1
    assert checked >= 2


def test_depth_agrees_with_rendered_geometry_within_noise(tiny_session, body):
    cfg, path = tiny_session
    world = session_world(cfg, body)
    cam = world.cameras["cam0"]
    from orscene.synth.generate import render_frame

    fr = render_frame(world, 1 / cfg.fps)
    clean = fr.depth["cam0"].z_m
    world.renderer.release()
    mm = cv2.imread(str(path / "cam0" / "depth" / "000001.png"), cv2.IMREAD_UNCHANGED)
    valid = mm > 0
    assert 0.4 < valid.mean() < 0.95  # hexagon corners, edges, dark surfaces, out of range are 0
    # away from depth edges (where flying pixels mix the two sides) the error is the noise
    zz = np.where(clean > 0, clean, 100.0).astype(np.float32)
    span = cv2.dilate(zz, np.ones((3, 3), np.uint8)) - cv2.erode(zz, np.ones((3, 3), np.uint8))
    edge = span > (DepthNoiseConfig().edge_jump_m + 0.02 * zz)
    z_all = mm[valid] / 1000.0
    z = mm[valid & ~edge] / 1000.0
    err = z - clean[valid & ~edge]
    sigma = depth_sigma_m(clean[valid & ~edge])
    assert np.mean(np.abs(err) <= 4 * sigma + 0.0006) > 0.999
    assert abs(np.mean(err / sigma)) < 0.1 and 0.8 < np.std(err / sigma) < 1.2  # unbiased, sigma as modelled
    cfg_n = DepthNoiseConfig()
    assert np.all((z_all >= cfg_n.min_m - 0.05) & (z_all <= cfg_n.max_m + 0.05))
    # independent check: measured points near the floor lie on the plane z = 0
    from orscene.geometry.camera import depth_to_points_cam

    pts, _ = depth_to_points_cam(cam.depth, (mm / 1000.0).astype(np.float32))
    pw = transform_points(cam.world_from_cam @ cam.cam_from_depth, pts.astype(np.float64))
    floor = pw[np.abs(pw[:, 2]) < 0.08]
    assert len(floor) > 500 and np.median(np.abs(floor[:, 2])) < 0.01


def test_same_seed_same_bytes_other_seed_differs(tmp_path, body, tiny_config):
    cfg = tiny_config(tmp_path / "a", seconds=0.2, width=160, height=90)
    a = generate_session(cfg, body=body)
    b = generate_session(dataclasses.replace(cfg, recordings=tmp_path / "b"), body=body)
    c = generate_session(dataclasses.replace(cfg, recordings=tmp_path / "c", seed=1), body=body)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) >= 10
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / "cam0/color/000000.jpg").read_bytes() != (c / "cam0/color/000000.jpg").read_bytes()


def test_existing_session_needs_force_and_bad_options_raise(tiny_session, body):
    cfg, path = tiny_session
    with pytest.raises(SessionError, match="--force"):
        generate_session(cfg, body=body)
    with pytest.raises(ConfigError):
        generate_session(dataclasses.replace(cfg, session="x", rgb_only=3), body=body)
    with pytest.raises(ConfigError):
        generate_session(dataclasses.replace(cfg, session="y", fps=0), body=body)
    with pytest.raises(SessionError):
        generate_session(dataclasses.replace(cfg, session="../evil"), body=body)
    with pytest.raises(AnnotationError):
        load_groundtruth(path / "nope.npz")


def test_rgb_only_cameras_have_no_depth(tmp_path, body, tiny_config):
    cfg = tiny_config(tmp_path, cameras=3, rgb_only=1, seconds=0.2, width=160, height=90, scenario=Scenario.EASY)
    path = generate_session(cfg, body=body)
    calib = load_calibration(path / "calibration.json")
    assert [calib.cameras[n].has_depth for n in ("cam0", "cam1", "cam2")] == [True, True, False]
    assert (path / "cam1" / "depth" / "000000.png").exists() and not (path / "cam2" / "depth").exists()
    assert (path / "cam2" / "color" / "000000.jpg").exists()
    gt = load_groundtruth(path)
    assert gt.camera_names == ("cam0", "cam1", "cam2") and gt.keypoints_px.shape[1] == 3
