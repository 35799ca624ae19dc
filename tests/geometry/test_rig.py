"""The session's camera object (``CameraRig``) and its lens tables (``LensField``): the
values the per-process caches used to compute, one lens-validity rule for its three users."""

import cv2
import numpy as np
import pytest
import torch

from orscene.geometry import CameraRig, LensField, prepare_depth_registration
from orscene.geometry.camera import look_at_world_from_cam, undistort_normalized
from orscene.types import Camera, Intrinsics

# Azure Kinect-like colour camera at 1280x720 with rational distortion (as test_camera.py)
KINECT_DIST = np.array([0.45, -2.6, 0.0007, -0.0003, 1.5, 0.33, -2.4, 1.4])


@pytest.fixture
def cam() -> Camera:
    color = Intrinsics(np.array([[605.0, 0, 638.3], [0, 604.8, 365.1], [0, 0, 1]]), KINECT_DIST, 1280, 720)
    depth = Intrinsics(np.array([[504.0, 0, 321.5], [0, 504.2, 330.1], [0, 0, 1]]), KINECT_DIST * 0.8, 640, 576)
    cam_from_depth = np.eye(4)
    cam_from_depth[:3, 3] = [-0.032, -0.002, 0.004]
    return Camera("k", color, look_at_world_from_cam([2.0, 1.0, 2.5], [0.0, 0.0, 1.0]), depth, cam_from_depth)


def _old_valid_r2(intr: Intrinsics) -> float:
    """What ``render.renderer._valid_r2`` computed before (17 samples per border side)."""
    K, W, H = intr.K_px, intr.width_px, intr.height_px
    t = np.linspace(0.0, 1.0, 17)
    border = np.concatenate([
        np.column_stack([t * (W - 1), np.zeros_like(t)]), np.column_stack([t * (W - 1), np.full_like(t, H - 1)]),
        np.column_stack([np.zeros_like(t), t * (H - 1)]), np.column_stack([np.full_like(t, W - 1), t * (H - 1)]),
    ])  # fmt: skip
    xy = undistort_normalized(np.column_stack([(border[:, 0] - K[0, 2]) / K[0, 0], (border[:, 1] - K[1, 2]) / K[1, 1]]), intr.distortion)
    return float(1.2 * (xy**2).sum(1).max())


def test_tables_equal_what_the_old_functions_computed(cam):
    """Every pixel's ray is OpenCV's undistortion of that pixel (the old ``_pixel_rays``), the
    ray extent is that of every pixel (the old ``_normalized_extent``), ``valid_r2`` is the
    old renderer's value, and the rig's depth registration is ``prepare_depth_registration``'s."""
    rig = CameraRig({"k": cam})
    for intr, lens in ((cam.color, rig.lens("k")), (cam.depth, rig.lens("k", "depth"))):
        W, H = intr.width_px, intr.height_px
        uv = np.stack(np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64)), -1).reshape(-1, 1, 2)
        ref = cv2.undistortPointsIter(uv, intr.K_px, intr.distortion, None, None, (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-9))
        ref = ref.reshape(H, W, 2).astype(np.float32)
        np.testing.assert_array_equal(lens.pixel_rays(), ref)
        x, y = ref[..., 0][np.isfinite(ref[..., 0])], ref[..., 1][np.isfinite(ref[..., 1])]
        assert lens.extent == (float(x.min()), float(x.max()), float(y.min()), float(y.max()))
        assert lens.valid_r2 == _old_valid_r2(intr)
    reg, ref_reg = rig.registration("k"), prepare_depth_registration(cam)
    assert rig.registration("k") is reg  # built once
    for name in ("dirs_cam", "t_m", "depth_from_cam", "block_rays", "dir_z_range"):
        np.testing.assert_array_equal(getattr(reg, name), getattr(ref_reg, name))


def test_a_rig_builds_each_table_once_and_shares_it_with_its_subsets(cam):
    other = Camera("o", cam.color, np.eye(4))
    rig = CameraRig({"k": cam, "o": other})
    sub = rig.subset(["o"])
    assert list(sub) == ["o"] and sub["o"] is other and len(sub) == 1
    assert sub.lens("o") is rig.lens("o") and rig.lens("o") is not rig.lens("k")
    calls = []
    assert rig.derived(("t", 1), lambda: calls.append(1) or "x") == "x"
    assert sub.derived(("t", 1), lambda: calls.append(1) or "y") == "x" and calls == [1]
    assert rig.holds({"k": cam, "o": Camera("o", cam.color, np.eye(4))})  # equal calibration
    moved = np.eye(4)
    moved[0, 3] = 0.1
    assert not rig.holds({"k": cam, "o": Camera("o", cam.color, moved)})
    assert not rig.holds({"k": cam})
    with pytest.raises(KeyError, match="no depth"):
        rig.lens("o", "depth")


def test_lens_validity_agrees_for_the_renderer_the_pose_fusion_and_the_geometry(cam):
    """At known pixels of a distorted camera (centre, a corner, a border midpoint) and at rays
    beyond the lens model's field, the renderer's vertex projection, the pose fusion's torch
    projection and ``LensField.valid`` say the same (before, the fusion kept rays up to
    ``r^2 = 4`` whatever the lens)."""
    from orscene.pose.fusion import _prepare, _project
    from orscene.render.renderer import _project_cam_points

    lens = CameraRig({"k": cam}).lens("k")
    W, H = cam.color.width_px, cam.color.height_px
    pixels = np.array([[638.3, 365.1], [0.0, 0.0], [W - 1.0, H - 1.0], [0.0, H / 2], [W / 2, 0.0]])
    rays = lens.pixel_rays_at(np.rint(pixels[:, 1]).astype(int).clip(0, H - 1), np.rint(pixels[:, 0]).astype(int).clip(0, W - 1)).astype(np.float64)
    r_max = np.sqrt(lens.valid_r2)
    beyond = np.array([[1.05 * r_max, 0.0], [0.0, -1.3 * r_max], [1.5 * r_max / np.sqrt(2)] * 2])
    xy = np.concatenate([rays, beyond])
    expected = np.array([True] * 5 + [False] * 3)
    np.testing.assert_array_equal(lens.valid(xy), expected)
    pts_cam = np.concatenate([xy, np.ones((len(xy), 1))], 1) * 2.0  # 2 m in front of the camera
    _, ok_render = _project_cam_points(cam.color, pts_cam.astype(np.float32), 0.05, lens)
    np.testing.assert_array_equal(ok_render, expected)
    pts_world = pts_cam @ cam.world_from_cam[:3, :3].T + cam.world_from_cam[:3, 3]
    uv, _ = _project(_prepare(cam, lens, torch.device("cpu")), torch.as_tensor(pts_world, dtype=torch.float32))
    np.testing.assert_array_equal(torch.isfinite(uv).all(-1).numpy(), expected)


def test_lens_field_refuses_tables_of_other_intrinsics(cam):
    from orscene.geometry.camera import depth_to_points_cam

    with pytest.raises(ValueError, match="other intrinsics"):
        depth_to_points_cam(cam.color, np.ones((720, 1280), np.float32), LensField(cam.depth))
