import numpy as np
import pytest

from orscene.errors import CalibrationError
from orscene.geometry import PointFusionConfig, crop_points, fuse_point_cloud
from orscene.geometry.camera import look_at_world_from_cam, unproject_px
from orscene.types import Camera, FrameSet, Intrinsics, PointCloud, View

W, H = 64, 48


def floor_depth(cam: Camera) -> np.ndarray:
    """Exact depth of the floor plane z = 0 seen by ``cam`` (0 where the ray misses it)."""
    us, vs = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    rays_cam = unproject_px(cam.color, np.stack([us, vs], -1), np.ones((H, W)))  # z_cam = 1
    rays_w = rays_cam @ cam.world_from_cam[:3, :3].T
    t = -cam.world_from_cam[2, 3] / rays_w[..., 2]
    return np.where(t > 0, t, 0).astype(np.float32)


@pytest.fixture
def rig():
    K = np.array([[60.0, 0, 31.5], [0, 60.0, 23.5], [0, 0, 1]])
    dist = np.array([0.05, -0.01, 0.001, -0.001, 0.0, 0.0, 0.0, 0.0])
    intr = Intrinsics(K, dist, W, H)
    top = Camera("top", intr, look_at_world_from_cam([0.0, 0.0, 2.0], [0.0, 0.01, 0.0]), intr, np.eye(4))
    side = Camera("side", intr, look_at_world_from_cam([2.0, 0.0, 1.5], [0.5, 0.0, 0.0]), intr, np.eye(4))
    rgb_only = Camera("rgb", intr, look_at_world_from_cam([0.0, 2.0, 1.5], [0.0, 0.0, 0.0]))
    return {c.name: c for c in (top, side, rgb_only)}


def frames(rig, with_rgb_only=True):
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = 200
    views = {n: View(n, img, 0, floor_depth(rig[n])) for n in ("top", "side")}
    if with_rgb_only:
        views["rgb"] = View("rgb", img, 0, None)
    return FrameSet(0, 0, views)


def test_fused_points_lie_on_the_floor(rig):
    cloud = fuse_point_cloud(frames(rig), rig, PointFusionConfig(voxel_m=0.0, pixel_stride=1))
    n_valid = sum(int((floor_depth(rig[n]) > 0).sum()) for n in ("top", "side"))
    assert len(cloud) == n_valid  # every valid pixel of both depth cameras, none from the RGB-only one
    assert cloud.points_world_m.dtype == np.float32
    np.testing.assert_allclose(cloud.points_world_m[:, 2], 0.0, atol=1e-4)


def test_voxel_grid_stride_and_colors(rig):
    full = fuse_point_cloud(frames(rig), rig, PointFusionConfig(voxel_m=0.0, pixel_stride=1))
    strided = fuse_point_cloud(frames(rig), rig, PointFusionConfig(voxel_m=0.0, pixel_stride=2))
    assert 0.2 * len(full) < len(strided) < 0.3 * len(full)
    vox = fuse_point_cloud(frames(rig), rig, PointFusionConfig(voxel_m=0.1, pixel_stride=1, with_colors=True))
    assert len(vox) < len(full)
    # one point (the mean) per occupied 10 cm voxel of open3d's grid (anchored half a voxel below the minimum)
    keys = np.floor((full.points_world_m - full.points_world_m.min(0) + 0.05) / 0.1).astype(int)
    assert len(vox) == np.unique(keys, axis=0).shape[0]
    assert vox.colors is not None and (vox.colors[:, 0] == 200).all()
    np.testing.assert_allclose(vox.points_world_m[:, 2], 0.0, atol=1e-3)


def test_depth_range_keep_near_and_crop(rig):
    fs = frames(rig)
    near = fuse_point_cloud(fs, rig, PointFusionConfig(voxel_m=0.0, pixel_stride=1, max_depth_m=2.05))
    assert len(near) < len(fuse_point_cloud(fs, rig, PointFusionConfig(voxel_m=0.0, pixel_stride=1)))
    centre = np.array([0.2, 0.0, 0.0])
    kept = fuse_point_cloud(fs, rig, PointFusionConfig(voxel_m=0.0, pixel_stride=1, keep_radius_m=0.3), keep_near=centre[None])
    assert len(kept) > 0 and np.linalg.norm(kept.points_world_m - centre, axis=1).max() <= 0.3 + 1e-6
    cloud = PointCloud(np.array([[0, 0, 0], [0.5, 0, 0], [0, 0, 2]], np.float32), normals=np.eye(3, dtype=np.float32))
    c = crop_points(cloud, [0, 0, 0.1], 0.6)
    np.testing.assert_array_equal(c.points_world_m, cloud.points_world_m[:2])
    np.testing.assert_array_equal(c.normals, np.eye(3, dtype=np.float32)[:2])


def test_no_depth_and_missing_calibration(rig):
    img = np.zeros((H, W, 3), np.uint8)
    only_rgb = FrameSet(0, 0, {"rgb": View("rgb", img, 0, None)})
    assert len(fuse_point_cloud(only_rgb, rig, PointFusionConfig())) == 0
    with pytest.raises(CalibrationError, match="top"):
        fuse_point_cloud(frames(rig), {"side": rig["side"]}, PointFusionConfig())
