"""Body models (anny, SMPL / SMPL-X), fitting to 3D skeletons, face meshes."""

from orscene._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "config": ("BodyModelConfig", "FitConfig"),
        "face": ("face_mesh",),
        "fit": ("FitState", "TrackState", "fit_bodies", "fit_track"),
        "models": ("AnnyBodyModel", "BodyModel", "BodyOutput", "SmplBodyModel", "derive_face_region", "load_body_model", "load_smpl_model"),
    },
)
