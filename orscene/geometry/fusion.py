"""Fuse the depth maps of all RGB-D cameras into one world-frame point cloud.

Each camera's depth (registered to its colour image, ``View.depth_m``) is unprojected as
:func:`orscene.geometry.camera.depth_to_points_world` does (``p_world = world_from_cam @ z (x_u, y_u, 1)``
with ``(x_u, y_u)`` the undistorted pixel ray, kept per camera by a session's ``CameraRig``), on a pixel grid, the clouds are concatenated and voxel-downsampled
with open3d (one point per occupied voxel: the mean of its points). Cameras without depth
contribute nothing. For speed, only every ``pixel_stride``-th pixel in each direction is
unprojected, and with ``keep_near`` only points near given centres (e.g. heads) are kept
before the voxel grid.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from orscene.errors import CalibrationError, ShapeError
from orscene.geometry.camera import transform_points
from orscene.geometry.rig import rig_of
from orscene.types import Camera, FrameSet, PointCloud

__all__ = ["PointFusionConfig", "fuse_point_cloud", "crop_points"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PointFusionConfig:
    """Point-cloud fusion."""

    voxel_m: float = 0.008
    """Voxel size of the downsampling grid (metres); 0 keeps every point."""
    pixel_stride: int = 2
    """Unproject every n-th pixel in x and y (1 = all pixels)."""
    min_depth_m: float = 0.2
    """Depths below this are ignored (sensor noise near the lens)."""
    max_depth_m: float = 8.0
    """Depths beyond this are ignored."""
    keep_radius_m: float = 0.35
    """With ``keep_near``: keep points within this distance of any centre."""
    with_colors: bool = False
    """Attach the colour of each point's pixel (averaged per voxel)."""


def fuse_point_cloud(frames: FrameSet, cameras: Mapping[str, Camera], cfg: PointFusionConfig,
                     keep_near: np.ndarray | None = None) -> PointCloud:  # fmt: skip
    """Fused, voxel-downsampled world points of every view that has depth.

    ``keep_near`` (K, 3): world centres (e.g. the fitted heads); when given, points farther
    than ``cfg.keep_radius_m`` from all of them are dropped before downsampling.
    ``cameras``: a :class:`~orscene.geometry.rig.CameraRig` keeps the pixels' rays from
    call to call (plain cameras: computed for the call).
    """
    rig = rig_of(cameras)
    if cfg.pixel_stride < 1:
        raise ShapeError("PointFusionConfig.pixel_stride", ">= 1", cfg.pixel_stride)
    centres = None if keep_near is None else np.asarray(keep_near, dtype=np.float32).reshape(-1, 3)
    pts_all, col_all = [], []
    for name, view in frames.views.items():
        if view.depth_m is None:
            continue
        cam = rig.get(name)
        if cam is None:
            raise CalibrationError("view without a calibrated camera", camera=name)
        if view.depth_m.shape != (cam.color.height_px, cam.color.width_px):
            raise ShapeError(f"View[{name}].depth_m", f"the colour size {cam.color.size_wh[::-1]}", view.depth_m.shape)
        # p_cam = z (x_u, y_u, 1) on every pixel_stride-th pixel (the rays are kept by the rig, per camera)
        s = cfg.pixel_stride
        z = view.depth_m[::s, ::s]
        z_max = cfg.max_depth_m
        if centres is not None and centres.size:
            # nothing near a centre lies deeper than its distance + radius (z <= range): cut first
            z_max = min(z_max, float(np.linalg.norm(centres - cam.center_world_m, axis=1).max()) + cfg.keep_radius_m)
        ok = (z >= cfg.min_depth_m) & (z <= z_max)
        rows, cols = np.nonzero(ok)
        pts_cam = np.empty((rows.size, 3), dtype=np.float32)
        pts_cam[:, 2] = z[rows, cols]
        pts_cam[:, :2] = rig.lens(name).pixel_rays_at(rows * s, cols * s) * pts_cam[:, 2:]
        ok = ok.reshape(-1)
        pts = transform_points(cam.world_from_cam, pts_cam).astype(np.float32)
        idx = None
        if cfg.with_colors:
            idx = np.nonzero(ok)[0]
        if centres is not None and centres.size and pts.shape[0]:
            keep = np.zeros(pts.shape[0], dtype=bool)
            r2 = cfg.keep_radius_m**2
            for c in centres:
                keep |= ((pts - c) ** 2).sum(1) <= r2
            pts = pts[keep]
            idx = None if idx is None else idx[keep]
        elif centres is not None:
            pts = pts[:0]
            idx = None if idx is None else idx[:0]
        pts_all.append(pts)
        if cfg.with_colors:
            col_all.append(view.rgb[::s, ::s].reshape(-1, 3)[idx])
    if not pts_all:
        return PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8) if cfg.with_colors else None)
    pts = np.concatenate(pts_all)
    cols = np.concatenate(col_all) if cfg.with_colors else None
    if cfg.voxel_m > 0 and pts.shape[0]:
        import open3d as o3d  # ~1.5 s to load: only where a cloud is voxelized

        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts.astype(np.float64)))
        if cols is not None:
            pcd.colors = o3d.utility.Vector3dVector(cols.astype(np.float64) / 255.0)
        pcd = pcd.voxel_down_sample(cfg.voxel_m)
        pts = np.asarray(pcd.points, dtype=np.float32)
        if cols is not None:
            cols = np.clip(np.asarray(pcd.colors) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return PointCloud(pts, cols)


def crop_points(cloud: PointCloud, center_world_m: np.ndarray, radius_m: float) -> PointCloud:
    """The points of ``cloud`` within ``radius_m`` of ``center_world_m`` (a ball)."""
    c = np.asarray(center_world_m, dtype=np.float32).reshape(3)
    keep = ((cloud.points_world_m - c) ** 2).sum(1) <= float(radius_m) ** 2
    return PointCloud(
        cloud.points_world_m[keep],
        None if cloud.colors is None else cloud.colors[keep],
        None if cloud.normals is None else cloud.normals[keep],
    )
