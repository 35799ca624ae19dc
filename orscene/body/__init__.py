"""Body models (anny, SMPL / SMPL-X), fitting to 3D skeletons, face region and face meshes.

Modules by concern: ``models`` (the interface and :func:`load_body_model`), ``anny_model``
and ``smpl`` (the two kinds), ``face_region`` (which vertices are the face, their UVs, the
head frame), ``rotation`` (rotation maths), ``fit`` (fitting), ``face`` (face meshes),
``anny_cache`` (anny's data cache).
"""

from orscene._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "config": ("BodyModelConfig", "FitConfig"),
        "face": ("face_mesh",),
        "fit": ("FitState", "TrackState", "fit_bodies", "fit_track"),
        "models": ("BodyModel", "BodyOutput", "load_body_model"),
        "anny_model": ("AnnyBodyModel", "create_anny"),
        "smpl": ("SmplBodyModel", "load_smpl_model"),
        "face_region": ("anny_face_vertex_ids", "derive_face_region"),
    },
)
