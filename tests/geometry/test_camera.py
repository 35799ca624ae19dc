import cv2
import numpy as np
import pytest

from orscene.geometry.camera import (
    depth_to_points_cam,
    look_at_world_from_cam,
    project_cam,
    project_world,
    transform_points,
    undistort_normalized,
    distort_normalized,
    unproject_px,
)
from orscene.types import Camera, Intrinsics

# Azure Kinect-like colour camera at 1280x720 with rational distortion
KINECT_DIST = np.array([0.45, -2.6, 0.0007, -0.0003, 1.5, 0.33, -2.4, 1.4])


@pytest.fixture
def intr() -> Intrinsics:
    K = np.array([[605.0, 0, 638.3], [0, 604.8, 365.1], [0, 0, 1]])
    return Intrinsics(K, KINECT_DIST, 1280, 720)


def test_project_matches_opencv(intr, rng):
    pts = rng.uniform([-1.5, -0.8, 1.0], [1.5, 0.8, 4.0], size=(500, 3))
    uv, z = project_cam(intr, pts)
    ref, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), intr.K_px, intr.distortion)
    np.testing.assert_allclose(uv, ref.reshape(-1, 2), atol=1e-6)
    np.testing.assert_allclose(z, pts[:, 2])


def test_unproject_roundtrip(intr, rng):
    uv = rng.uniform([0, 0], [1279, 719], size=(300, 2))
    z = rng.uniform(0.5, 4.0, size=300)
    pts = unproject_px(intr, uv, z)
    uv2, z2 = project_cam(intr, pts)
    np.testing.assert_allclose(uv2, uv, atol=1e-3)
    np.testing.assert_allclose(z2, z)


def test_distortion_inverse(rng):
    xy = rng.uniform(-0.5, 0.5, size=(200, 2))
    back = undistort_normalized(distort_normalized(xy, KINECT_DIST), KINECT_DIST)
    np.testing.assert_allclose(back, xy, atol=1e-6)


def test_depth_to_points_matches_unproject(intr, rng):
    depth = np.zeros((720, 1280), np.float32)
    depth[100:110, 200:220] = 2.0
    pts, idx = depth_to_points_cam(intr, depth)
    assert pts.shape == (200, 3) and idx.shape == (200,)
    v, u = np.divmod(idx, 1280)
    ref = unproject_px(intr, np.stack([u, v], -1).astype(float), np.full(200, 2.0))
    np.testing.assert_allclose(pts, ref, atol=1e-4)


def test_look_at_points_camera_at_target():
    T = look_at_world_from_cam([3.0, 0.0, 2.5], [0.0, 0.0, 1.0])
    cam = Camera("c", Intrinsics(np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]), None, 640, 480), T)
    uv, z = project_world(cam, np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 2.0]]))
    np.testing.assert_allclose(uv[0], [320, 240], atol=1e-9)
    assert uv[1, 1] < 240  # a point higher up in the world is higher in the image (smaller row)
    np.testing.assert_allclose(transform_points(np.linalg.inv(T), T[:3, 3][None]), [[0, 0, 0]], atol=1e-12)


def test_sphere_box_holds_the_sphere_image(rng):
    """Points on random spheres in front of a distorting camera all project inside
    ``sphere_box_px``; a sphere behind the camera has no box, one at the lens gets the
    whole image, and a box is clipped to the image."""
    from orscene.geometry.camera import project_world, sphere_box_px

    K = np.array([[600.0, 0, 640], [0, 600.0, 360], [0, 0, 1]])
    intr = Intrinsics(K, np.array([0.3, -2.4, 0.0005, -0.0003, 1.5, 0.2, -2.2, 1.4]), 1280, 720)
    cam = Camera("c", intr, np.eye(4))
    for _ in range(50):
        c = np.array([rng.uniform(-1.5, 1.5), rng.uniform(-1, 1), rng.uniform(1.0, 4.0)])
        r = rng.uniform(0.05, 0.5)
        box = sphere_box_px(cam, c, r)
        d = rng.normal(size=(400, 3))
        uv, z = project_world(cam, c + r * d / np.linalg.norm(d, axis=1, keepdims=True))
        seen = (uv[:, 0] >= -0.5) & (uv[:, 0] < 1279.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] < 719.5)
        if box is None:
            assert not seen.any()
            continue
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 720
        u, v = uv[seen, 0], uv[seen, 1]
        assert ((u >= x0 - 0.5) & (u <= x1 - 0.5) & (v >= y0 - 0.5) & (v <= y1 - 0.5)).all()
    assert sphere_box_px(cam, [0, 0, -2.0], 0.3) is None
    assert sphere_box_px(cam, [0, 0, 0.1], 0.3) == (0, 0, 1280, 720)
    x0, y0, x1, y1 = sphere_box_px(cam, [0, 0, 2.0], 0.2)
    assert abs((x0 + x1) / 2 - 640) < 2 and abs((y0 + y1) / 2 - 360) < 2 and 100 < x1 - x0 < 160


def test_ray_extent_from_the_border_equals_all_pixels(intr, shared_data):
    """The image's ray extent (which clips ``sphere_box_px``), found from the border pixels,
    equals the extent over every pixel: for a strong rational lens and for the real
    Azure Kinect colour and depth calibrations."""
    from orscene.geometry.camera import LensField
    from orscene.recording.mkv import camera_from_k4a_calibration

    k4a = camera_from_k4a_calibration((shared_data / "azure_kinect" / "calibration.json").read_text(), (1280, 720), (640, 576), "k4a")
    for ii in (intr, k4a.color, k4a.depth):
        rays = LensField(ii).pixel_rays()
        x, y = rays[..., 0][np.isfinite(rays[..., 0])], rays[..., 1][np.isfinite(rays[..., 1])]
        assert LensField(ii).extent == (float(x.min()), float(x.max()), float(y.min()), float(y.max()))


def test_rays_computed_tile_by_tile_equal_the_whole_table(rng):
    """Rays looked up for a few pixels (their tiles computed on demand) are bit-identical
    to the whole table computed in one call, and to OpenCV's undistortion of those pixels."""
    from orscene.geometry.camera import LensField

    intr = Intrinsics(np.array([[611.0, 0, 641.2], [0, 610.4, 362.7], [0, 0, 1]]), KINECT_DIST * 0.9, 1280, 720)
    rows, cols = rng.integers(0, 720, 500), rng.integers(0, 1280, 500)
    lens = LensField(intr)
    some = lens.pixel_rays_at(rows, cols)
    assert 0 < lens.tiles_done < (-(-720 // 64)) * (-(-1280 // 64))  # only some tiles computed so far
    ref = cv2.undistortPointsIter(
        np.stack([cols, rows], 1).astype(np.float64)[:, None], intr.K_px, intr.distortion, None, None,
        (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-9),
    ).reshape(-1, 2).astype(np.float32)  # fmt: skip
    np.testing.assert_array_equal(some, ref)
    whole = lens.pixel_rays().copy()
    np.testing.assert_array_equal(LensField(intr).pixel_rays(), whole)
    np.testing.assert_array_equal(whole[rows, cols], some)
