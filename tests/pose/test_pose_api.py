import dataclasses

import pytest

import orscene.pose as pose


def test_public_names():
    assert sorted(pose.__all__) == sorted([
        "BLAZEPOSE_TO_COCO17", "BlazePoseConfig", "DetectorKind", "FusionConfig", "GTNoiseConfig",
        "KeypointDetector", "KeypointDetectorConfig", "PoseCandidate", "PoseConfig", "TrackingConfig",
        "detect_keypoints", "fuse_poses", "load_keypoint_detector", "perturb_keypoints", "pose_distance_m",
        "poses_at", "project_skeletons", "room_bounds_from_cameras", "simulate_keypoints", "track",
    ])  # fmt: skip
    for name in pose.__all__:
        assert getattr(pose, name) is not None


def test_configs_are_frozen_and_nested():
    cfg = pose.PoseConfig()
    assert isinstance(cfg.detector, pose.KeypointDetectorConfig)
    assert isinstance(cfg.fusion, pose.FusionConfig) and isinstance(cfg.tracking, pose.TrackingConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.fusion.device = "cuda"  # type: ignore[misc]
    assert pose.BLAZEPOSE_TO_COCO17[:3] == (0, 2, 5)  # nose, left eye, right eye
