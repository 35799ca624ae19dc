import numpy as np
import pytest
import torch

from orscene.body import FitConfig, fit_bodies, fit_track
from orscene.errors import ShapeError
from orscene.types import HeadStatus, PersonPose, PersonTrack


def _rotation_deg(A, B):
    return np.degrees(np.arccos(np.clip((np.trace(A[:3, :3].T @ B[:3, :3]) - 1) / 2, -1, 1)))


def make_sequence(model, T, seed, noise_m, rng):
    """A smoothly moving anny person: its exact COCO joints (+ noise), meshes, head frames."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(1, model.n_pose, 3, generator=g) * 0.25
    base[0, 0] = torch.tensor([0.0, 0.0, 2.2])  # turned about z
    vel = torch.randn(1, model.n_pose, 3, generator=g) * 0.02
    pose = base + vel * torch.arange(T)[:, None, None]
    shape = torch.randn(1, model.n_shape, generator=g) * 0.8
    transl = torch.tensor([1.0, 2.0, 1.0]) + torch.arange(T)[:, None] * torch.tensor([0.02, 0.01, 0.0])
    with torch.no_grad():
        out = model(pose, shape.expand(T, -1), transl, full=True)
        template = model.template_vertices(shape)[0].numpy()
    J = out.joints.numpy()
    V = out.vertices.numpy()
    heads = np.stack([model.world_from_head(template, V[t]) for t in range(T)])
    noisy = (J + rng.normal(0, noise_m, J.shape)).astype(np.float32)
    return noisy, J, V, heads, shape


def test_fit_track_recovers_pose_and_head(anny_body, rng):
    T = 4
    x, J, V, heads, _ = make_sequence(anny_body, T, 0, 0.005, rng)
    track = PersonTrack(7, np.arange(10, 10 + T), x, np.ones((T, 17), np.float32))
    fits = fit_track(anny_body, track, FitConfig(iters_cold=30, iters_track=30, shape_frames=4))
    assert len(fits) == T
    for t, f in enumerate(fits):
        assert f.track_id == 7 and f.head_status is HeadStatus.KEYPOINTS_ONLY
        assert f.vertices_world_m.shape == V[t].shape and f.vertices_world_m.dtype == np.float32
        assert f.fit_residual_m < 0.02
        assert np.linalg.norm(f.joints_world_m - J[t], axis=1).mean() < 0.02
        assert np.linalg.norm(f.world_from_head[:3, 3] - heads[t][:3, 3]) < 0.025
        assert _rotation_deg(f.world_from_head, heads[t]) < 15
        np.testing.assert_allclose(f.world_from_head[:3, 3], f.vertices_world_m[f.face_vertex_ids].mean(0), atol=2e-3)
    # one shape per track: identical limb lengths in every frame
    lengths = np.array([[np.linalg.norm(f.joints_world_m[a] - f.joints_world_m[b]) for a, b in ((5, 7), (11, 13), (13, 15))] for f in fits])
    assert np.ptp(lengths, axis=0).max() < 2e-3


def test_fit_bodies_warm_start_tracks_a_sequence(anny_body, rng):
    T = 5
    cfg = FitConfig(iters_cold=30, iters_warm=8, shape_frames=3)
    xa, Ja, _, heads_a, _ = make_sequence(anny_body, T, 1, 0.005, rng)
    xb, Jb, _, _, _ = make_sequence(anny_body, T, 2, 0.005, rng)
    xb = xb + np.array([2.0, 0.0, 0.0], np.float32)
    state = None
    shapes = []
    for t in range(T):
        poses = [PersonPose(1, xa[t], np.ones(17, np.float32)), PersonPose(2, xb[t], np.ones(17, np.float32))]
        fits, state = fit_bodies(anny_body, poses, cfg, state)
        assert [f.track_id for f in fits] == [1, 2]
        assert set(state.tracks) == {1, 2} and state.tracks[1].frames_seen == t + 1
        shapes.append(state.tracks[1].shape.clone())
        assert np.linalg.norm(fits[0].joints_world_m - Ja[t], axis=1).mean() < 0.025
        assert np.linalg.norm(fits[1].joints_world_m - (Jb[t] + [2.0, 0.0, 0.0]), axis=1).mean() < 0.025
        assert np.linalg.norm(fits[0].world_from_head[:3, 3] - heads_a[t][:3, 3]) < 0.03
    # shape refitted once at shape_frames, then frozen
    assert torch.equal(shapes[2], shapes[3]) and torch.equal(shapes[3], shapes[4])
    # too few joints -> no fit; absent tracks are kept (warm) for keep_missing_frames frame-sets
    conf = np.zeros(17, np.float32)
    conf[:3] = 1
    cfg2 = FitConfig(iters_warm=8, shape_frames=3, keep_missing_frames=2)
    fits, state = fit_bodies(anny_body, [PersonPose(1, xa[0], conf)], cfg2, state)
    assert fits == [] and set(state.tracks) == {1, 2} and state.tracks[2].missing == 1
    fits, state = fit_bodies(anny_body, [], cfg2, state)
    assert fits == [] and state.tracks == {}


def test_fit_ignores_missing_joints(anny_body, rng):
    x, J, _, _, _ = make_sequence(anny_body, 1, 3, 0.0, rng)
    conf = np.ones(17, np.float32)
    conf[[9, 10, 15]] = 0  # wrists and one ankle missing ...
    x = x.copy()
    x[0, [9, 10, 15]] = [[50.0, 50.0, 50.0]] * 3  # ... and garbage there
    fits, _ = fit_bodies(anny_body, [PersonPose(0, x[0], conf)], FitConfig(iters_cold=30))
    ok = conf > 0
    assert np.linalg.norm(fits[0].joints_world_m[ok] - J[0][ok], axis=1).max() < 0.03


def test_fit_rejects_non_coco_joints(anny_body):
    names = tuple(f"j{i}" for i in range(17))
    pose = PersonPose(0, np.zeros((17, 3), np.float32), np.ones(17, np.float32), joint_names=names)
    with pytest.raises(ShapeError):
        fit_bodies(anny_body, [pose], FitConfig())


def test_fit_device_must_match_the_model(anny_body):
    from orscene.errors import ConfigError

    pose = PersonPose(0, np.zeros((17, 3), np.float32), np.ones(17, np.float32))
    with pytest.raises(ConfigError, match="device"):
        fit_bodies(anny_body, [pose], FitConfig(device="meta"))
