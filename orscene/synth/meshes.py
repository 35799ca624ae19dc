"""Triangle meshes of the static and rigid parts of the synthetic OR (boxes, cylinders).

A ``Mesh`` carries everything the renderer needs per vertex: position, normal, colour and
an id record ``(person_id + 1, 0, object_id, material)`` (person 0 = nobody).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Material", "Mesh", "box_mesh", "cylinder_mesh", "concat_meshes", "frame_from_z"]


class Material:
    """Material codes understood by the shader and the depth error model."""

    PLAIN = 0
    FLOOR = 1
    PERSON = 2
    DARK = 3
    """Black plastic, screens: absorb the depth sensor's IR, no depth."""
    SPECULAR = 4
    """Polished metal and lamp glass: mirror-like, depth mostly missing."""
    WALL = 5


@dataclass(frozen=True)
class Mesh:
    positions: np.ndarray
    """(N, 3) float32 world metres."""
    normals: np.ndarray
    """(N, 3) float32."""
    colors: np.ndarray
    """(N, 3) float32 albedo in [0, 1]."""
    attrs: np.ndarray
    """(N, 4) float32: person id + 1, face flag, object id, material."""
    triangles: np.ndarray
    """(F, 3) int32."""


def frame_from_z(z: np.ndarray) -> np.ndarray:
    """A rotation whose third column is the unit vector ``z``."""
    z = np.asarray(z, float) / np.linalg.norm(z)
    a = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(a, z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def _mk(pos, nrm, tri, color, object_id, material) -> Mesh:
    n = len(pos)
    attrs = np.zeros((n, 4), np.float32)
    attrs[:, 2] = object_id
    attrs[:, 3] = material
    col = np.broadcast_to(np.asarray(color, np.float32), (n, 3)).copy()
    return Mesh(np.asarray(pos, np.float32), np.asarray(nrm, np.float32), col, attrs, np.asarray(tri, np.int32))


def box_mesh(center, size, color, object_id: int, material: int = Material.PLAIN, rotation: np.ndarray | None = None) -> Mesh:
    """An axis-aligned (or rotated) box of ``size`` (sx, sy, sz) metres centred at ``center``."""
    c = np.asarray(center, float)
    h = 0.5 * np.asarray(size, float)
    R = np.eye(3) if rotation is None else np.asarray(rotation, float)
    pos, nrm, tri = [], [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3)
            n[axis] = sign
            u = np.zeros(3)
            u[(axis + 1) % 3] = 1
            v = np.cross(n, u)
            base = len(pos)
            for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = n * h + a * u * h + b * v * h
                pos.append(c + R @ p)
                nrm.append(R @ n)
            tri += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    return _mk(pos, nrm, tri, color, object_id, material)


def cylinder_mesh(p0, p1, radius: float, color, object_id: int, material: int = Material.PLAIN, segments: int = 20) -> Mesh:
    """A closed cylinder from ``p0`` to ``p1`` (world metres)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    R = frame_from_z(p1 - p0)
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(ang), np.sin(ang), np.zeros_like(ang)], 1) @ R.T
    pos, nrm, tri = [], [], []
    for i in range(segments):  # side
        j = (i + 1) % segments
        base = len(pos)
        for p, n in ((p0 + radius * ring[i], ring[i]), (p0 + radius * ring[j], ring[j]), (p1 + radius * ring[j], ring[j]), (p1 + radius * ring[i], ring[i])):
            pos.append(p)
            nrm.append(n)
        tri += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    for p, n in ((p0, -R[:, 2]), (p1, R[:, 2])):  # caps
        base = len(pos)
        pos.append(p)
        nrm.append(n)
        for i in range(segments):
            pos.append(p + radius * ring[i])
            nrm.append(n)
        for i in range(segments):
            tri.append((base, base + 1 + i, base + 1 + (i + 1) % segments))
    return _mk(pos, nrm, tri, color, object_id, material)


def concat_meshes(meshes) -> Mesh:
    meshes = list(meshes)
    offs = np.cumsum([0] + [len(m.positions) for m in meshes[:-1]])
    return Mesh(
        np.concatenate([m.positions for m in meshes]),
        np.concatenate([m.normals for m in meshes]),
        np.concatenate([m.colors for m in meshes]),
        np.concatenate([m.attrs for m in meshes]),
        np.concatenate([m.triangles + o for m, o in zip(meshes, offs)]).astype(np.int32),
    )
