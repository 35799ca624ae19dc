"""The pose stage's options: ``PoseConfig`` (2D detector, 3D fusion, tracking) and the
fusion and tracking options it holds.

They live here, apart from the code that uses them (torch, scipy), so that reading
a configuration imports neither."""

from dataclasses import dataclass, field

from orscene.pose.detect import KeypointDetectorConfig

__all__ = ["PoseConfig", "FusionConfig", "TrackingConfig"]


@dataclass(frozen=True)
class FusionConfig:
    """Options of the voxel fusion (sizes in metres, pixels where stated)."""

    room_min_m: tuple[float, float, float] | None = None
    """Lower corner of the room volume (world, metres); None = derived from the cameras."""
    room_max_m: tuple[float, float, float] | None = None
    """Upper corner of the room volume; None = derived from the cameras."""
    max_range_m: float = 8.0
    """When deriving the room from the view frusta: farthest distance from a camera."""
    root_voxel_m: float = 0.15
    """Voxel size of the coarse root grid."""
    root_z_range_m: tuple[float, float] = (0.2, 1.7)
    """Heights (world z) where a torso centre can be: lying on a table to standing."""
    root_sigma_m: float = 0.12
    """Width of a torso-centre vote, metres at the voxel's depth (narrow enough that people
    shoulder to shoulder do not merge into one peak)."""
    min_views: int = 2
    """Views that must support a person."""
    min_confident_joints: int = 6
    """A person needs this many joints on which two views agree (else it was assembled
    from different people's detections: a ghost)."""
    min_keypoint_conf: float = 0.2
    """Keypoints below this confidence are ignored."""
    min_root_evidence: float = 0.3
    """Per-view evidence counted as support for a root voxel."""
    nms_kernel: int = 3
    """Side (voxels) of the 3D max-pool window of the root non-maximum suppression."""
    max_people: int = 20
    """At most this many root proposals are examined per frame-set."""
    merge_distance_m: float = 0.3
    """Proposals with roots closer than this are one person (their views are merged)."""
    assoc_gate_m: float = 0.4
    """Association gate: torso-centre reprojection distance, metres at the proposal's depth."""
    depth_gate_m: float = 0.5
    """Association: a 2D skeleton whose measured torso depth is this far behind the proposal
    belongs to someone else."""
    depth_free_space_m: float = 0.35
    """A proposal this far in front of the measured surface (in free space) is a ghost."""
    cube_size_m: float = 2.5
    """Side of the per-person cube around the root (covers every joint)."""
    cube_voxel_m: float = 0.25
    """Voxel size of the per-person cube."""
    fine_passes: int = 5
    """Finer cubes per joint after the per-person cube (each spans 2 voxels of the previous)."""
    fine_voxels: int = 5
    """Voxels per side of a fine cube."""
    keypoint_sigma_px: float = 4.0
    """Expected 2D keypoint error, pixels (width of a keypoint's evidence)."""
    outlier_floor: float = 0.02
    """``eps`` of the robust score: evidence a view still gives to a voxel far from its keypoint."""
    inlier_px: float = 15.0
    """A view agrees with a 3D joint when the reprojection is within this (or 3 sigma)."""
    device: str = "auto"
    """Torch device ("auto" = CUDA when available, else CPU; "cpu", "cuda", "cuda:N")."""


@dataclass(frozen=True)
class TrackingConfig:
    """Options of the tracker (distances in metres; gaps in seconds, from the frame-sets'
    timestamps; counts in observations or frame-sets)."""

    gate_m: float = 0.5
    """Largest mean joint distance between two observations of one person up to
    ``gate_growth_after_s`` apart."""
    gate_growth_m_per_s: float = 0.5
    """Extra distance allowed per second beyond ``gate_growth_after_s`` since the track was
    last seen."""
    gate_growth_after_s: float = 0.2
    """Time between observations that ``gate_m`` alone allows for (keyframes 0.2 s apart at
    the recordings' 15 fps and every 3rd frame-set)."""
    max_gap_s: float = 0.75
    """A track not seen for longer than this ends: it never links, or interpolates, across
    a longer gap in time (at 15 fps, 11 frame-sets)."""
    min_track_frames: int = 5
    """Tracks observed in fewer frame-sets are dropped."""
    smoothing_sigma_frames: float = 1.0
    """Width of the Gaussian smoothing of joint trajectories (0 = none)."""
    settle_frames: int = 3
    """``PersonPose.settled`` is False for this many frame-sets after a track starts."""


@dataclass(frozen=True)
class PoseConfig:
    """2D keypoint detector, multi-view 3D fusion and tracking options."""

    detector: KeypointDetectorConfig = field(default_factory=KeypointDetectorConfig)
    """Which 2D keypoint detector runs on every view."""
    fusion: FusionConfig = field(default_factory=FusionConfig)
    """Voxel fusion of the views' 2D keypoints into 3D skeletons."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """Identities over time, gap filling, smoothing."""
