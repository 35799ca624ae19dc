"""The pipeline's configuration: one frozen dataclass per stage, composed here.

``python cli.py process --print-config`` prints the effective configuration as YAML; a
YAML file of the same shape (any subset of keys) passed with ``--config`` overrides the
defaults, and command-line flags override both.
"""

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from orscene.anonymize2d import Anonymize2DConfig, FaceDetectorConfig
from orscene.body import BodyModelConfig, FitConfig
from orscene.errors import ConfigError
from orscene.geometry.fusion import PointFusionConfig
from orscene.pipeline.fallback import FallbackConfig
from orscene.pipeline.heads3d import Heads3DConfig
from orscene.pose import PoseConfig
from orscene.registration import AlignConfig
from orscene.render import RenderConfig

if TYPE_CHECKING:
    from orscene.pipeline.keyframes import Schedule

__all__ = ["PipelineConfig", "OutputFormat", "OnError"]


class OutputFormat(enum.Enum):
    IMAGES = "images"
    MP4 = "mp4"
    BOTH = "both"


class OnError(enum.Enum):
    OBSCURE = "obscure"
    """Write every view of a failed frame-set fully obscured."""
    WITHHOLD = "withhold"
    """Write no image for the views of a failed frame-set (a black frame in the MP4)."""


@dataclass(frozen=True)
class PipelineConfig:
    """Everything ``cli.py process`` does, stage by stage."""

    pose: PoseConfig = field(default_factory=PoseConfig)
    """2D keypoints, 3D fusion and tracking."""
    body_model: BodyModelConfig = field(default_factory=BodyModelConfig)
    """Which body model (anny, or SMPL/SMPL-X with user-supplied files)."""
    body: FitConfig = field(default_factory=FitConfig)
    """Body model fitting to the 3D skeletons (its device also places the model)."""
    fusion: PointFusionConfig = field(default_factory=PointFusionConfig)
    """Point cloud fusion from the depth cameras."""
    align: AlignConfig = field(default_factory=AlignConfig)
    """Head alignment to the point cloud (FilterReg, then ICP)."""
    occluder_pixel_stride: int = 4
    """Depth pixel stride of the whole-scene point cloud that occludes faces in the views of
    calibrated cameras without depth (built only when there is such a camera)."""
    render: RenderConfig = field(default_factory=lambda: RenderConfig(margin_frac=0.25))
    """Face templates, rendering, visibility and blending. The replaced region grows by a
    quarter of the face's size beyond the rendered face: the fitted face can sit a few
    centimetres off, and no original skin may show at its border."""
    fallback: FallbackConfig = field(default_factory=FallbackConfig)
    """Head regions anonymized in 2D where the 3D path cannot vouch."""
    detectors: tuple[FaceDetectorConfig, ...] = field(
        default_factory=lambda: (FaceDetectorConfig(name="centerface"), FaceDetectorConfig(name="blazeface"))
    )
    """2D face detectors run on every view (fail closed)."""
    anonymize2d: Anonymize2DConfig = field(default_factory=lambda: Anonymize2DConfig(margin=0.25))
    """How the 2D path anonymizes a region (template, blur, pixelate, black); boxes grow by
    ``margin`` of their size on each side (generous: a detector box is often tighter than
    the face, and privacy comes first)."""
    detector_cover_threshold: float = 0.9
    """A detected face counts as covered when this share of its box is already anonymized."""
    depth_near_heads: bool = True
    """Register each depth image only where the 3D path reads it: around each tracked head,
    the face's render window and, on keyframes, the point cloud for head alignment
    (``orscene.pipeline.process.depth_near_heads``). There depth equals the whole
    registration, so the outputs are the same; it costs a fraction of registering the whole
    image. False = always the whole image (sessions with RGB-only views always do: their
    occluders are the whole scene's cloud)."""
    keyframe_every: int = 3
    """2D keypoints, 3D fusion, body fit and head alignment run on keyframes: at most every
    n-th frame-set and at most ``keyframe_max_s`` apart (and the session's last); tracks are
    interpolated in between, and each fitted, aligned body is carried to the frame-sets up
    to the next keyframe by its tracked head motion. Rendering, visibility and the 2D path
    still run on every frame-set. 1 = every frame-set."""
    keyframe_max_s: float = 0.25
    """Seconds: the longest time between two keyframes that are not neighbours, so that no
    frame-set borrows tracked poses, a carried body or 2D skeletons from a keyframe further
    than this. Where the next frame-set comes later than this, both frame-sets around the
    gap are keyframes (``orscene.pipeline.keyframes``). 0.25 s holds three frame-sets at
    15 fps (the recordings' rate) with room for timing jitter."""
    pose_search_every: int = 2
    """On every n-th keyframe the 2D keypoint detector searches the whole image (and its
    tiles) for people; on the keyframes in between it follows the people of the previous
    keyframe from their landmark regions, as mediapipe does, and runs the person detector
    once on the whole image (no tiles) for newcomers (people only the tiles would find are
    found on the next search keyframe; the face detectors cover them until then). A view
    where nobody is followed is searched on every keyframe. Unit: keyframes; 1 = search on
    every keyframe."""
    pose_follow_max_s: float = 0.3
    """Seconds: a keyframe follows people only when the search keyframe that started the
    chain is at most this much earlier; else it searches (the first keyframe after a gap
    always does)."""
    detector_every: int = 5
    """The face detectors see the whole image at most every n-th frame-set and at most
    ``detector_max_s`` apart (and on the session's last); on the frame-sets in between
    CenterFace looks again only around the faces found on the two nearest whole-image
    passes, and a face found on a pass but not found again is still covered (interpolated
    in time between the two passes when both found it). A face visible only between two
    whole-image passes, far from any other face, is left to the other paths. 1 = the
    detectors on every whole image."""
    detector_max_s: float = 0.4
    """Seconds: the longest time between two whole-image passes that are not neighbours, so
    that no face is held, and no window placed, from a pass further than this. Where the
    next frame-set comes later, both frame-sets around the gap are whole-image passes.
    0.4 s holds five frame-sets at 15 fps with room for jitter."""
    blazeface_between_passes: bool = False
    """BlazeFace also sees every whole image between two passes (it cannot look in windows:
    it sees a whole image at 192x192). False: only the passes, its faces held in between
    and looked for again by CenterFace's windows."""

    heads3d: Heads3DConfig = field(default_factory=Heads3DConfig)
    """3D head tracks from every source (lifted faces, depth people, keypoints;
    ``orscene.heads``), evidence on keyframes, tracked over the session; a head no tracked
    skeleton explains is covered in 2D in every view where it may be visible
    (``orscene.pipeline.heads3d``)."""
    detector_hold: int | None = None
    """Between two whole-image passes, a face that only one of them found and that the
    windows do not find again stays covered for this many frame-sets next to that pass;
    None = all the way to the other pass (a face both passes found always stays covered).
    Either way a hold never spans more than ``detector_max_s``."""

    def schedule(self, timestamps_ns) -> "Schedule":
        """This configuration's schedule for a session with these frame-set timestamps."""
        from orscene.pipeline.keyframes import make_schedule

        return make_schedule(
            timestamps_ns, self.keyframe_every, self.keyframe_max_s, self.pose_search_every, self.pose_follow_max_s,
            self.detector_every, self.detector_max_s,
        )  # fmt: skip

    def __post_init__(self) -> None:
        if self.keyframe_every < 1 or self.detector_every < 1 or self.pose_search_every < 1:
            raise ConfigError(
                f"keyframe_every, pose_search_every and detector_every must be >= 1, got {self.keyframe_every}, {self.pose_search_every} and {self.detector_every}"
            )
        if self.detector_hold is not None and self.detector_hold < 0:
            raise ConfigError(f"detector_hold must be >= 0 or None, got {self.detector_hold}")
        for name in ("keyframe_max_s", "pose_follow_max_s", "detector_max_s"):
            v = getattr(self, name)
            if not (v >= 0 and np.isfinite(v)):
                raise ConfigError(f"{name} must be a finite number of seconds >= 0, got {v}")
