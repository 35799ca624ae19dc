import dataclasses

import pytest

import orscene.pose as pose


def test_configs_are_frozen_and_nested():
    cfg = pose.PoseConfig()
    assert isinstance(cfg.detector, pose.KeypointDetectorConfig)
    assert isinstance(cfg.fusion, pose.FusionConfig) and isinstance(cfg.tracking, pose.TrackingConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.fusion.device = "cuda"  # type: ignore[misc]
    assert pose.BLAZEPOSE_TO_COCO17[:3] == (0, 2, 5)  # nose, left eye, right eye
