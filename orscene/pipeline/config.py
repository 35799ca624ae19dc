"""The pipeline's configuration: one frozen dataclass per stage, composed here.

``python cli.py process --print-config`` prints the effective configuration as YAML; a
YAML file of the same shape (any subset of keys) passed with ``--config`` overrides the
defaults, and command-line flags override both.
"""

import enum
from dataclasses import dataclass, field

from orscene.anonymize2d import Anonymize2DConfig, FaceDetectorConfig
from orscene.body import BodyModelConfig, FitConfig
from orscene.geometry.fusion import FusionConfig
from orscene.pipeline.fallback import FallbackConfig
from orscene.pose import PoseConfig
from orscene.registration import AlignConfig
from orscene.render import RenderConfig

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
    fusion: FusionConfig = field(default_factory=FusionConfig)
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
