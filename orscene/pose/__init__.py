"""orscene.pose: 2D keypoints in every view, VoxelPose-style 3D fusion, tracking.

Typical use (the pipeline)::

    detector = load_keypoint_detector(cfg.detector)          # once
    kps = {name: detect_keypoints(detector, view) for name, view in frames.views.items()}
    candidates = fuse_poses(kps, cameras, frames, cfg.fusion) # per frame-set
    tracks = track(candidates_per_frame, frame_indices, cfg.tracking)  # per chunk
    poses = poses_at(tracks, frame_index, cfg.tracking)
"""

from orscene._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "blazepose": ("BLAZEPOSE_TO_COCO17", "BlazePoseConfig"),
        "config": ("PoseConfig", "FusionConfig", "TrackingConfig"),
        "detect": ("DetectorKind", "KeypointDetector", "KeypointDetectorConfig", "detect_keypoints", "load_keypoint_detector", "track_keypoints"),
        "fusion": ("PoseCandidate", "fuse_poses", "room_bounds_from_cameras"),
        "gt_keypoints": ("GTNoiseConfig", "perturb_keypoints", "project_skeletons", "simulate_keypoints"),
        "tracking": ("poses_at", "pose_distance_m", "track"),
    },
)
