"""Where phase C registers depth: spheres around the heads that hold every pixel the 3D
path reads (the render windows, and on keyframes the alignment's point cloud)."""

import numpy as np

from orscene.geometry.camera import look_at_world_from_cam, project_world, sphere_box_px
from orscene.pipeline.config import PipelineConfig
from orscene.pipeline.process import depth_near_heads
from orscene.types import BodyFit, Camera, HeadStatus, Intrinsics


def _fit(rng, head, n_face=300):
    w = np.eye(4)
    w[:3, 3] = head
    face = head + rng.normal(size=(n_face, 3)) * 0.04  # a face ~0.1 m across around the head
    body = head + rng.normal(size=(200, 3)) * 0.4
    verts = np.concatenate([face, body]).astype(np.float32)
    return BodyFit(1, verts, np.zeros((1, 3), np.int32), np.zeros((17, 3), np.float32), np.arange(n_face), np.arange(5), w, HeadStatus.ALIGNED)


def test_spheres_hold_the_render_window_and_the_keyframe_cloud(rng):
    cfg = PipelineConfig()
    K = np.array([[600.0, 0, 640], [0, 600.0, 360], [0, 0, 1]])
    cam = Camera("c", Intrinsics(K, None, 1280, 720), look_at_world_from_cam([0, -2.5, 2.4], [0, 0, 1.5]))
    ids = np.arange(300)
    for _ in range(20):
        head = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.5, 0.8), rng.uniform(1.4, 1.8)])
        fit = _fit(rng, head)
        face = fit.vertices_world_m[ids].astype(np.float64)
        reach = np.linalg.norm(face - head, axis=1).max()
        (carried,) = depth_near_heads([fit], ids, False, cfg)
        (key,) = depth_near_heads([fit], ids, True, cfg)
        np.testing.assert_allclose(carried[:3], head)
        np.testing.assert_allclose(key[:3], head)
        # keyframe: the cloud kept around the head, and the face after the largest alignment move
        assert key[3] >= cfg.fusion.keep_radius_m and key[3] >= reach + cfg.align.max_translation_m
        # the render window (the face's pixel box grown by the render margin) lies in the box
        uv, _ = project_world(cam, face)
        lo, hi = uv.min(0), uv.max(0)
        size = np.sqrt(np.prod(np.maximum(hi - lo, 1.0)))
        m = max(cfg.render.min_margin_px, np.ceil(cfg.render.margin_frac * size)) + 2
        x0, y0, x1, y1 = sphere_box_px(cam, carried[:3], carried[3])
        assert x0 <= max(0, lo[0] - m) and y0 <= max(0, lo[1] - m)
        assert x1 >= min(1280, hi[0] + m + 1) and y1 >= min(720, hi[1] + m + 1)
    assert depth_near_heads([], ids, True, cfg).shape == (0, 4)
