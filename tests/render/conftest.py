"""Fixtures of the render tests: one GL context, the committed templates, small cameras."""

import numpy as np
import pytest

from orscene.geometry.camera import look_at_world_from_cam
from orscene.render import RenderConfig, create_renderer, default_catalog_path, load_templates
from orscene.types import BodyFit, Camera, HeadStatus, Intrinsics


def _head_pose(center, facing) -> np.ndarray:
    """world_from_head for a head at ``center`` whose face looks along ``facing`` (z up)."""
    z = np.asarray(facing, float)
    z /= np.linalg.norm(z)
    y = np.array([0.0, 0.0, 1.0])
    y -= z * (y @ z)
    y /= np.linalg.norm(y)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = np.cross(y, z), y, z, center
    return T


def _camera(name="cam0", eye=(0.0, -1.2, 1.6), target=(0.0, 0.0, 1.6), w=160, h=120, f=150.0, dist=None) -> Camera:
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]])
    return Camera(name, Intrinsics(K, np.zeros(8) if dist is None else dist, w, h), look_at_world_from_cam(eye, target))


def _box_body(track_id: int, center, size) -> BodyFit:
    """A closed box mesh (triangles CCW seen from outside) standing in for a body."""
    c, s = np.asarray(center, float), np.asarray(size, float) / 2
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * s + c
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = []
    for a, b, cc, d in quads:
        tris += [(a, b, cc), (a, cc, d)]
    tris = np.array(tris, np.int32)
    # orient every triangle outwards
    v = corners
    for i, (a, b, cc) in enumerate(tris):
        n = np.cross(v[b] - v[a], v[cc] - v[a])
        if n @ ((v[a] + v[b] + v[cc]) / 3 - c) < 0:
            tris[i] = (a, cc, b)
    return BodyFit(
        track_id, corners.astype(np.float32), tris, np.zeros((17, 3), np.float32), np.arange(8), np.arange(8),
        np.eye(4), HeadStatus.ALIGNED,
    )  # fmt: skip


@pytest.fixture(scope="session")
def renderer():
    r = create_renderer(RenderConfig())
    yield r
    r.release()


@pytest.fixture(scope="session")
def templates():
    return load_templates(default_catalog_path(), RenderConfig())


@pytest.fixture
def head_pose():
    return _head_pose


@pytest.fixture
def make_camera():
    return _camera


@pytest.fixture
def box_body():
    return _box_body
