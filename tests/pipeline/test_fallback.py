import numpy as np

from orscene.geometry.camera import look_at_world_from_cam
from orscene.pipeline.fallback import FallbackConfig, head_region_from_3d, head_regions_from_2d
from orscene.pipeline.frameset import covered_fraction, obscure_image, plan_view_regions
from orscene.types import Box, Camera, Intrinsics, Keypoints2D, PersonPose


def _camera():
    K = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
    return Camera("c", Intrinsics(K, None, 640, 480), look_at_world_from_cam([0, -3, 1.6], [0, 0, 1.6]))


def _pose(track, head_world):
    joints = np.zeros((17, 3), np.float32)
    joints[:5] = np.asarray(head_world, np.float32)
    joints[1, 0] += 0.03
    joints[2, 0] -= 0.03
    conf = np.zeros(17, np.float32)
    conf[:5] = 0.9
    return PersonPose(track, joints, conf)


def test_head_region_projects_head_sphere():
    cam = _camera()
    reg = head_region_from_3d(_pose(1, [0, 0, 1.6]), cam, FallbackConfig(head_radius_m=0.15))
    assert reg is not None
    np.testing.assert_allclose(reg.center_px, (320, 240), atol=1e-6)
    assert abs(reg.radius_px - 600 * 0.15 / 3.0) < 1e-6  # f r / z
    x0, y0, x1, y1 = reg.head_box_xyxy_px
    assert x0 < 320 < x1 and y0 < 240 < y1
    fx0, fy0, fx1, fy1 = reg.face_box_xyxy_px
    assert x0 <= fx0 < fx1 <= x1 and y0 <= fy0 < fy1 <= y1
    assert isinstance(reg.head_box_xyxy_px, Box) and isinstance(reg.face_box_xyxy_px, Box)
    # 30 px head radius (f r / z) around (320, 240): the box is the sphere's square, inside the image
    np.testing.assert_allclose(reg.head_box_xyxy_px, (290, 210, 350, 270), atol=1e-4)


def test_head_region_is_clipped_to_the_image():
    cam = _camera()
    # a head near the left image edge: the box stops at the image's edge x = -0.5
    reg = head_region_from_3d(_pose(1, [-1.62, 0, 1.6]), cam, FallbackConfig(head_radius_m=0.15))
    assert reg is not None and reg.head_box_xyxy_px.x0 == -0.5 and reg.head_box_xyxy_px.x1 > 0
    assert reg.head_box_xyxy_px.pixel_range(640, 480)[0] == 0


def test_head_behind_camera_gives_none():
    assert head_region_from_3d(_pose(1, [0, -5, 1.6]), _camera(), FallbackConfig()) is None


def test_untracked_2d_skeleton_is_covered_and_tracked_one_is_not_duplicated():
    cam = _camera()
    kp = np.zeros((2, 17, 2), np.float32)
    conf = np.zeros((2, 17), np.float32)
    kp[0, :5] = [[320, 240], [330, 235], [310, 235], [340, 240], [300, 240]]  # the tracked person
    kp[1, :5] = [[100, 100], [108, 96], [92, 96], [116, 100], [84, 100]]  # someone 3D missed
    conf[:, :5] = 0.9
    kps = Keypoints2D("c", kp, conf)
    poses = [_pose(7, [0, 0, 1.6])]
    plan = plan_view_regions("c", cam, 640, 480, poses, {7: True}, kps, FallbackConfig())
    assert plan.persons == (-1,)  # only the untracked skeleton; the vouched track is left to 3D
    (reg,) = plan.regions
    assert reg.head_box_xyxy_px[0] < 100 < reg.head_box_xyxy_px[2]
    plan2 = plan_view_regions("c", cam, 640, 480, poses, {7: False}, kps, FallbackConfig())
    assert sorted(plan2.persons) == [-1, 7]  # not vouched: its projected head is covered in 2D


def test_head_regions_from_2d_ignores_unconfident():
    kp = np.zeros((1, 17, 2), np.float32)
    conf = np.zeros((1, 17), np.float32)
    assert head_regions_from_2d(Keypoints2D("c", kp, conf), 64, 48, FallbackConfig()) == []


def test_covered_fraction_and_obscure():
    m = np.zeros((10, 10), bool)
    m[:, :5] = True
    assert covered_fraction(m, (-0.5, -0.5, 9.5, 9.5)) == 0.5
    assert covered_fraction(m, (-0.5, -0.5, 4.5, 9.5)) == 1.0
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    ob = obscure_image(img)
    assert ob.shape == img.shape and ob.max() <= 153
    assert len(np.unique(ob.reshape(-1, 3), axis=0)) <= (160 // 8) * (120 // 8)
