"""Body models (anny, SMPL / SMPL-X), fitting to 3D skeletons, face meshes."""

from orscene.body.face import face_mesh
from orscene.body.fit import FitConfig, FitState, TrackState, fit_bodies, fit_track
from orscene.body.models import (
    AnnyBodyModel,
    BodyModel,
    BodyModelConfig,
    BodyOutput,
    SmplBodyModel,
    derive_face_region,
    load_body_model,
    load_smpl_model,
)

__all__ = [
    "AnnyBodyModel",
    "BodyModel",
    "BodyModelConfig",
    "BodyOutput",
    "FitConfig",
    "FitState",
    "SmplBodyModel",
    "TrackState",
    "derive_face_region",
    "face_mesh",
    "fit_bodies",
    "fit_track",
    "load_body_model",
    "load_smpl_model",
]
