"""Geometry: camera projection with lens distortion, depth registration, point clouds."""

from orscene.geometry.depth_registration import (
    DepthRegistration,
    DepthRegistrationConfig,
    prepare_depth_registration,
    register_depth_to_color,
)
from orscene.geometry.camera import (
    LensField,
    depth_to_points_cam,
    depth_to_points_world,
    distort_normalized,
    look_at_world_from_cam,
    project_cam,
    project_world,
    sphere_box_px,
    transform_points,
    undistort_normalized,
    unproject_px,
)
from orscene.geometry.rig import CameraRig

__all__ = [
    "CameraRig",
    "LensField",
    "PointFusionConfig",
    "crop_points",
    "fuse_point_cloud",
    "DepthRegistration",
    "DepthRegistrationConfig",
    "prepare_depth_registration",
    "register_depth_to_color",
    "depth_to_points_cam",
    "depth_to_points_world",
    "distort_normalized",
    "look_at_world_from_cam",
    "project_cam",
    "project_world",
    "sphere_box_px",
    "transform_points",
    "undistort_normalized",
    "unproject_px",
]


def __getattr__(name: str):
    # point-cloud fusion pulls in open3d (seconds to import): load it on first use only
    if name in ("PointFusionConfig", "crop_points", "fuse_point_cloud"):
        from orscene.geometry import fusion

        return getattr(fusion, name)
    raise AttributeError(f"module 'orscene.geometry' has no attribute {name!r}")
