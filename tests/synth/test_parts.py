"""Rig, depth error model, face region and scene pieces of the generator."""

import numpy as np
import pytest

from orscene.errors import ConfigError
from orscene.geometry.camera import project_cam
from orscene.synth.depth_model import DepthNoiseConfig, depth_sigma_m, kinect_depth_mm, nfov_valid_mask
from orscene.synth.meshes import Material
from orscene.synth.raster import pinhole_warp
from orscene.synth.rig import make_or_rig


def test_rig_layout_rgb_only_and_errors(rng):
    cams = make_or_rig(5, 2, 1280, 720, rng)
    assert list(cams) == ["cam0", "cam1", "cam2", "cam3", "cam4"]
    assert [c.has_depth for c in cams.values()] == [True, True, True, False, False]
    c0 = cams["cam0"]
    assert 600 < c0.color.K_px[0, 0] < 625 and abs(c0.color.K_px[0, 2] - 640) < 10
    assert c0.depth.size_wh == (640, 576) and 495 < c0.depth.K_px[0, 0] < 515
    # every camera looks at the table (origin, ~1 m high): it projects near the image centre
    for cam in cams.values():
        p = (cam.cam_from_world @ np.array([0, 0, 1.0, 1]))[:3]
        uv, z = project_cam(cam.color, p)
        assert z > 1.0 and 200 < uv[0] < 1080 and 100 < uv[1] < 620
    with pytest.raises(ConfigError):
        make_or_rig(2, 3, 320, 180, rng)
    with pytest.raises(ConfigError):
        make_or_rig(0, 0, 320, 180, rng)


def test_pinhole_warp_is_exact(rng):
    cam = make_or_rig(1, 0, 1280, 720, rng)["cam0"]
    for intr in (cam.color, cam.depth):
        w = pinhole_warp(intr)
        # a 3D point seen through the lens lands where the map says the pinhole pixel is
        pts = np.array([[0.3, -0.2, 1.0], [-0.5, 0.35, 1.0], [0.01, 0.02, 2.0]])
        uv, _ = project_cam(intr, pts)
        r, c = np.rint(uv[:, 1]).astype(int), np.rint(uv[:, 0]).astype(int)
        pin = np.stack([w.fx * pts[:, 0] / pts[:, 2] + w.cx, w.fy * pts[:, 1] / pts[:, 2] + w.cy], 1)
        got = np.stack([w.map_x[r, c], w.map_y[r, c]], 1)
        # maps sampled at the rounded pixel: within the local magnification of half a pixel
        assert np.all(np.abs(got - pin) < 1.5)
        # every distorted pixel samples inside the pinhole render
        assert w.map_x.min() >= 0 and w.map_x.max() <= w.width - 1 and w.map_y.min() >= 0 and w.map_y.max() <= w.height - 1


def test_depth_model_range_hexagon_noise():
    rng = np.random.default_rng(0)
    H, W = 144, 160
    mask = nfov_valid_mask(W, H)
    assert not mask[0, 0] and not mask[-1, -1] and mask[H // 2, W // 2] and mask[H // 2, 10]
    z = np.full((H, W), 2.0, np.float32)
    z[:, :20] = 0.3  # too near
    z[:, -20:] = 4.5  # too far
    albedo = np.full((H, W), 0.6, np.float32)
    albedo[60:70, 60:70] = 0.02  # black surface
    mat = np.zeros((H, W), np.uint8)
    mm = kinect_depth_mm(z, albedo, mat, rng)
    assert mm.dtype == np.uint16
    assert np.all(mm[:, :19] == 0) and np.all(mm[:, -19:] == 0)
    assert np.mean(mm[61:69, 61:69] == 0) > 0.5
    mid = mm[40:100, 80:120].astype(float) / 1000
    mid = mid[mid > 0]
    assert abs(mid.mean() - 2.0) < 0.002 and abs(mid.std() - depth_sigma_m(2.0)) < 0.002
    # discontinuities are dropped
    z2 = np.full((H, W), 1.0, np.float32)
    z2[:, 80:] = 2.0
    mm2 = kinect_depth_mm(z2, np.full((H, W), 0.6, np.float32), np.full((H, W), Material.PLAIN, np.uint8), rng)
    assert np.mean(mm2[40:100, 79:81] == 0) > 0.6
    # ... and of the edge pixels kept, about half fly: strictly between the two surfaces
    kept = mm2[40:100, 79:81].astype(float) / 1000
    kept = kept[kept > 0]
    flying = (kept > 1.0 + 6 * depth_sigma_m(1.0)) & (kept < 2.0 - 6 * depth_sigma_m(2.0))
    assert kept.size > 10 and 0.25 < flying.mean() < 0.75
    # Azure Kinect NFOV unbinned: a few mm at most, growing with distance (~1 mm at 1 m,
    # ~1.4 mm at 2 m on the real recording in ../shared/data/azure_kinect), 0.5-3.86 m
    assert 0.0006 < depth_sigma_m(1.0) < 0.0012 < depth_sigma_m(2.0) < depth_sigma_m(3.0) < 0.003
    assert DepthNoiseConfig().max_m < 4.0


def test_nfov_hexagon_matches_the_device():
    """The hexagon of a real NFOV unbinned frame (640x576): at the top row columns ~152-498
    are valid, at mid-height the full width, at the bottom ~145-514."""
    m = nfov_valid_mask(640, 576)
    top = np.nonzero(m[0])[0]
    mid = np.nonzero(m[288])[0]
    bottom = np.nonzero(m[575])[0]
    assert abs(top.min() - 152) <= 4 and abs(top.max() - 498) <= 4
    assert mid.min() <= 1 and mid.max() >= 638
    assert abs(bottom.min() - 145) <= 4 and abs(bottom.max() - 514) <= 4
    assert 0.74 < m.mean() < 0.8  # the real frame: 77 % of the grid inside the hexagon


def test_face_region_is_the_front_of_the_head(body):
    from orscene.body.face_region import anny_face_vertex_ids

    ids = body.face_vertex_ids
    assert np.array_equal(ids, anny_face_vertex_ids(body.model))
    import torch

    with torch.no_grad():
        v = body.model()["vertices"][0].numpy()
    f = v[ids]
    assert 500 < len(ids) < 4000
    # symmetric, in front of the head, between chin and hairline (~17 cm tall, ~13 cm wide)
    assert abs(f[:, 0].mean()) < 0.003
    assert 0.14 < np.ptp(f[:, 2]) < 0.2 and 0.1 < np.ptp(f[:, 0]) < 0.15
    head = v[v[:, 2] > 0.5]  # above the shoulders of the default body (rest pose, pelvis at 0)
    assert f[:, 1].max() < head[:, 1].min() + 0.1  # the front 10 cm of a ~21 cm deep head
    assert f[:, 2].min() > head[:, 2].min()


def test_kinect_colour_modes_and_camera_finish():
    """1280x720 (default), 1920x1080 and 2048x1536: the Kinect's ~90 deg horizontal field of
    view in every mode, ~59 deg vertical in the 16:9 modes and ~74 deg in the 4:3 one;
    vignetting darkens the corners, sensor noise grows with the signal."""
    from orscene.synth.generate import SynthConfig, _finish_rgb, _vignette_gain
    from orscene.synth.rig import kinect_color_intrinsics

    assert (SynthConfig(session="x").width, SynthConfig(session="x").height) == (1280, 720)
    for (w, h), vfov in (((1280, 720), 59.0), ((1920, 1080), 59.0), ((2048, 1536), 74.3)):
        K = kinect_color_intrinsics(w, h, np.random.default_rng(0)).K_px
        assert abs(np.degrees(2 * np.arctan(w / 2 / K[0, 0])) - 90.0) < 4.0
        assert abs(np.degrees(2 * np.arctan(h / 2 / K[1, 1])) - vfov) < 4.0
    g = _vignette_gain(720, 1280)
    assert abs(g[360, 640, 0] - 1.0) < 1e-3 and abs(g[0, 0, 0] - 0.72) < 0.01 and g[0, 640, 0] > g[0, 0, 0]
    rng = np.random.default_rng(0)
    dark = _finish_rgb(np.full((200, 200, 3), 20, np.uint8), rng).astype(float)
    bright = _finish_rgb(np.full((200, 200, 3), 200, np.uint8), rng).astype(float)
    assert abs(dark.mean() - 20) < 1 and abs(bright.mean() - 200) < 1
    assert 1.2 < dark.std() < 2.5 < bright.std() < 4.0
    vig = _finish_rgb(np.full((720, 1280, 3), 200, np.uint8), rng, vignette=True).astype(float)
    assert abs(vig[340:380, 620:660].mean() - 200) < 2 and abs(vig[:20, :20].mean() - 144) < 4
