"""A face-shaped test mesh in the FaceMesh UV convention (for tests and benchmarks).

The real face meshes come from the fitted body model; this one is a curved patch (an
ellipsoid cap with a nose bump) placed by a head frame, so rendering can be exercised and
measured without a body fit.
"""

import numpy as np

from orscene.geometry.camera import transform_points
from orscene.types import FaceMesh, HeadStatus

__all__ = ["synthetic_face_mesh"]


def synthetic_face_mesh(
    track_id: int,
    world_from_head: np.ndarray,
    width_m: float = 0.15,
    height_m: float = 0.20,
    n: int = 24,
    head_status: HeadStatus = HeadStatus.ALIGNED,
) -> FaceMesh:
    """An ``(n+1) x (n+1)`` grid face in the head frame (+x person's left, +y up, +z out).

    Vertex ``(u, v)`` sits at ``x = (u - 0.5) width``, ``y = (v - 0.5) height`` on an ellipsoid
    bulging towards +z (cheeks recede ~5 cm), with a 2 cm nose at the template's nose tip.
    Triangles are counter-clockwise seen from the front (+z).
    """
    g = np.linspace(0.0, 1.0, n + 1)
    uu, vv = np.meshgrid(g, g)  # rows: v, columns: u
    x = (uu - 0.5) * width_m
    y = (vv - 0.5) * height_m
    r2 = (x / (0.6 * width_m)) ** 2 + (y / (0.6 * height_m)) ** 2
    z = 0.055 * (1.0 - r2) - 0.055 * 0.5
    z += 0.02 * np.exp(-(((uu - 0.5) / 0.08) ** 2) - ((vv - 0.45) / 0.12) ** 2)
    pts_head = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    idx = np.arange((n + 1) * (n + 1)).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]  # (u,v) (u+1,v) (u+1,v+1) (u,v+1)
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    tris = tris.astype(np.int32)
    T = np.asarray(world_from_head, dtype=np.float64)
    verts = transform_points(T, pts_head).astype(np.float32)
    uv = np.stack([uu, vv], axis=-1).reshape(-1, 2).astype(np.float32)
    return FaceMesh(track_id, verts, tris, uv, head_status, T)
