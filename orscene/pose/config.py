"""``PoseConfig``: the options of the whole pose stage (2D detector, 3D fusion, tracking)."""

from dataclasses import dataclass, field

from orscene.pose.detect import KeypointDetectorConfig
from orscene.pose.fusion import FusionConfig
from orscene.pose.tracking import TrackingConfig

__all__ = ["PoseConfig"]


@dataclass(frozen=True)
class PoseConfig:
    """2D keypoint detector, multi-view 3D fusion and tracking options."""

    detector: KeypointDetectorConfig = field(default_factory=KeypointDetectorConfig)
    """Which 2D keypoint detector runs on every view."""
    fusion: FusionConfig = field(default_factory=FusionConfig)
    """Voxel fusion of the views' 2D keypoints into 3D skeletons."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """Identities over time, gap filling, smoothing."""
