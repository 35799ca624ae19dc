"""The face region of a fitted body as a textured mesh, ready to render into every view."""

import numpy as np

from orscene.body.models import BodyModel
from orscene.errors import ShapeError
from orscene.types import BodyFit, FaceMesh

__all__ = ["face_mesh"]


def face_mesh(model: BodyModel, fit: BodyFit) -> FaceMesh:
    """Cut the face region (``model.face_vertex_ids``) out of ``fit``'s posed mesh.

    The triangles are those of the full mesh whose three corners lie in the face region
    (re-indexed); the UVs are the model's frontal planar parameterization of the rest-pose
    face (u: right cheek 0 -> left cheek 1, v: chin 0 -> forehead 1).
    """
    if fit.vertices_world_m.shape[0] <= int(model.face_vertex_ids.max()):
        raise ShapeError(f"BodyFit[{fit.track_id}].vertices_world_m", f"a {model.name} mesh", fit.vertices_world_m.shape)
    return FaceMesh(
        track_id=fit.track_id,
        vertices_world_m=np.ascontiguousarray(fit.vertices_world_m[model.face_vertex_ids], dtype=np.float32),
        faces=model.face_triangles.astype(np.int32),
        uv=model.face_uv.astype(np.float32),
        head_status=fit.head_status,
        world_from_head=fit.world_from_head.copy(),
    )
