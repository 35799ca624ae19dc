"""orscene.pose: 2D keypoints in every view, VoxelPose-style 3D fusion, tracking.

Typical use (the pipeline)::

    detector = load_keypoint_detector(cfg.detector)          # once
    kps = {name: detect_keypoints(detector, view) for name, view in frames.views.items()}
    candidates = fuse_poses(kps, cameras, frames, cfg.fusion) # per frame-set
    tracks = track(candidates_per_frame, frame_indices, cfg.tracking)  # per chunk
    poses = poses_at(tracks, frame_index, cfg.tracking)
"""

from orscene.pose.blazepose import BLAZEPOSE_TO_COCO17, BlazePoseConfig
from orscene.pose.config import PoseConfig
from orscene.pose.detect import DetectorKind, KeypointDetector, KeypointDetectorConfig, detect_keypoints, load_keypoint_detector, track_keypoints
from orscene.pose.fusion import FusionConfig, PoseCandidate, fuse_poses, room_bounds_from_cameras
from orscene.pose.gt_keypoints import GTNoiseConfig, perturb_keypoints, project_skeletons, simulate_keypoints
from orscene.pose.tracking import TrackingConfig, poses_at, pose_distance_m, track

__all__ = [
    "BLAZEPOSE_TO_COCO17",
    "BlazePoseConfig",
    "DetectorKind",
    "FusionConfig",
    "GTNoiseConfig",
    "KeypointDetector",
    "KeypointDetectorConfig",
    "PoseCandidate",
    "PoseConfig",
    "TrackingConfig",
    "detect_keypoints",
    "track_keypoints",
    "fuse_poses",
    "load_keypoint_detector",
    "perturb_keypoints",
    "pose_distance_m",
    "poses_at",
    "project_skeletons",
    "room_bounds_from_cameras",
    "simulate_keypoints",
    "track",
]
