"""Geometry: camera projection with lens distortion, depth registration, point clouds."""

from orscene.geometry.depth_registration import (
    DepthRegistration,
    DepthRegistrationConfig,
    prepare_depth_registration,
    register_depth_to_color,
)
from orscene.geometry.camera import (
    depth_to_points_cam,
    depth_to_points_world,
    distort_normalized,
    look_at_world_from_cam,
    project_cam,
    project_world,
    transform_points,
    undistort_normalized,
    unproject_px,
)
from orscene.geometry.fusion import FusionConfig, crop_points, fuse_point_cloud

__all__ = [
    "FusionConfig",
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
    "transform_points",
    "undistort_normalized",
    "unproject_px",
]
