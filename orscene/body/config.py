"""The body stage's options: which body model (``BodyModelConfig``) and how it is fitted
(``FitConfig``). They live here, apart from the models (torch), so that reading a
configuration does not import torch."""

from dataclasses import dataclass

__all__ = ["BodyModelConfig", "FitConfig"]


@dataclass(frozen=True)
class BodyModelConfig:
    """Which body model to load."""

    kind: str = "anny"
    """``anny`` (bundled), ``smpl`` or ``smplx`` (user-supplied model files)."""
    model_path: str = ""
    """SMPL / SMPL-X model file (.pkl or .npz) or a folder holding one (see ``orscene.body.smpl.SMPL_MODEL_FILES``)."""
    device: str = "auto"
    """Torch device of the model buffers ("auto" = CUDA when available, else CPU; "cpu",
    "cuda", "cuda:N")."""
    keypoint_topk: int = 48
    """(anny) Vertices kept per COCO keypoint regressor while fitting (largest weights,
    renormalized); the final mesh uses the full regressor."""


@dataclass(frozen=True)
class FitConfig:
    """Body fitting (the objective is in ``orscene.body.fit``'s docstring)."""

    device: str = "auto"
    """Torch device for the optimization (the model must live there; "auto" = CUDA when
    available, else CPU)."""
    iters_cold: int = 40
    """L-BFGS iterations for a track seen for the first time (shape and pose)."""
    iters_warm: int = 6
    """L-BFGS iterations per frame for a warm-started track (pose only)."""
    iters_track: int = 40
    """L-BFGS iterations of :func:`fit_track`'s pose stage (all frames at once)."""
    face_weight: float = 4.0
    """Weight of nose, eyes and ears relative to the body joints."""
    pose_prior: float = 2e-4
    """Weight of the neutral-pose prior (per rad^2)."""
    shape_prior: float = 1e-4
    """Weight of the average-shape prior."""
    temporal: float = 2e-3
    """Weight of frame-to-frame smoothness (per rad^2; translation per (0.1 m)^2)."""
    shape_frames: int = 8
    """Frames of a track used to estimate its shape; afterwards the shape is frozen."""
    min_joints: int = 4
    """A pose with fewer confident joints than this is not fitted."""
    min_confidence: float = 0.05
    """Joints below this confidence count as missing."""
    keep_missing_frames: int = 30
    """A track absent from this many consecutive frame-sets is dropped from the warm state
    (until then it resumes warm, without a new cold start)."""
