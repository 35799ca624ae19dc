import numpy as np
import pytest

from orscene.errors import ShapeError
from orscene.pose import FusionConfig, GTNoiseConfig, fuse_poses, project_skeletons, room_bounds_from_cameras, simulate_keypoints
from orscene.types import FrameSet, Keypoints2D, View

from pose_helpers import match, render_depth, ring_cameras, standing_skeleton

NO_NOISE = GTNoiseConfig(noise_px=0.0, dropout=0.0)


@pytest.fixture(scope="module")
def cams():
    return ring_cameras(4, size_wh=(320, 240), f_px=260.0, distortion=[0.05, -0.02, 0.001, -0.001, 0.0, 0.0, 0.0, 0.0])


@pytest.fixture
def cfg(device):
    return FusionConfig(device=device)


def three_people():
    return np.stack([standing_skeleton([0.0, 0.0], 0.3), standing_skeleton([1.2, 0.6], 2.0, 1.65, 1.0), standing_skeleton([-1.0, -1.0], -1.0, 1.85, 2.5)])


def test_known_skeletons_exact_without_noise(cams, cfg, rng):
    sk = three_people()
    cands = fuse_poses(simulate_keypoints(cams, sk, NO_NOISE, rng), cams, None, cfg)
    assert len(cands) == 3
    m = match(cands, sk)
    assert sorted(i for i, _ in m) == [0, 1, 2]
    assert max(e for _, e in m) < 0.005
    for c in cands:
        assert c.cameras == ("cam0", "cam1", "cam2", "cam3")
        assert np.all(c.confidence > 0.5)


def test_known_skeletons_with_noise_and_dropout(cams, cfg, rng):
    sk = three_people()
    kps = simulate_keypoints(cams, sk, GTNoiseConfig(noise_px=2.0, dropout=0.1), rng)
    cands = fuse_poses(kps, cams, None, cfg)
    assert len(cands) == 3
    m = match(cands, sk)
    assert sorted(i for i, _ in m) == [0, 1, 2]
    for i, e in m:  # confident joints within a few cm
        c = cands[i]
        err = np.linalg.norm(c.joints_world_m - sk[m.index((i, e))], axis=-1)
        assert np.median(err[c.confidence > 0]) < 0.05


def test_wrong_detection_in_one_view(cams, cfg, rng):
    sk = three_people()[:2]
    kps = simulate_keypoints(cams, sk, NO_NOISE, rng)
    k = kps["cam1"]
    # a false skeleton in an empty part of the image and a wrist of a real one far off
    fake = k.keypoints_px[:1] - k.keypoints_px[:1].mean(1, keepdims=True) + np.array([40.0, 120.0], np.float32)
    bad = k.keypoints_px.copy()
    bad[0, 9] += np.array([60.0, -50.0], np.float32)
    kps["cam1"] = Keypoints2D("cam1", np.concatenate([bad, fake]), np.concatenate([k.confidence, np.full((1, 17), 0.9, np.float32)]))
    cands = fuse_poses(kps, cams, None, cfg)
    assert len(cands) == 2
    m = match(cands, sk)
    assert max(e for _, e in m) < 0.01
    wrist_err = np.linalg.norm(cands[m[0][0]].joints_world_m[9] - sk[0, 9])
    assert wrist_err < 0.01


def test_missing_view_and_person_in_two_views(cams, cfg, rng):
    sk = three_people()
    kps = simulate_keypoints(cams, sk, NO_NOISE, rng)
    del kps["cam2"]  # the view is missing
    # person 2 is seen by cam0 and cam1 only: remove it from cam3
    k = kps["cam3"]
    keep = [i for i in range(k.n_persons) if not np.allclose(k.keypoints_px[i], project_skeletons(cams["cam3"], sk[2:3])[0][0], atol=1e-3)]
    kps["cam3"] = Keypoints2D("cam3", k.keypoints_px[keep], k.confidence[keep])
    cands = fuse_poses(kps, cams, None, cfg)
    assert len(cands) == 3
    m = match(cands, sk)
    assert max(e for _, e in m) < 0.03
    two = cands[m[2][0]]
    assert two.cameras == ("cam0", "cam1")
    seen = two.confidence > 0  # joints both views see are exact; the rest are guesses on a ray
    assert seen.sum() >= 12
    assert np.linalg.norm(two.joints_world_m[seen] - sk[2][seen], axis=-1).max() < 0.01


def test_two_people_close_together(cams, cfg, rng):
    sk = np.stack([standing_skeleton([0.0, 0.0], 0.0), standing_skeleton([0.0, 0.55], np.pi)])  # face to face, 55 cm apart
    cands = fuse_poses(simulate_keypoints(cams, sk, GTNoiseConfig(noise_px=1.0, dropout=0.0), rng), cams, None, cfg)
    assert len(cands) == 2
    m = match(cands, sk)
    assert {i for i, _ in m} == {0, 1}
    assert max(e for _, e in m) < 0.03


def test_depth_rejects_ghosts_with_two_cameras(cfg, rng):
    # two cameras at right angles and two people: crossing rays make ghost proposals
    cams2 = ring_cameras(4, size_wh=(320, 240), f_px=260.0)
    cams2 = {n: cams2[n] for n in ("cam0", "cam1")}
    sk = np.stack([standing_skeleton([0.6, -0.6], 0.0), standing_skeleton([-0.6, 0.6], 1.0)])
    kps = simulate_keypoints(cams2, sk, NO_NOISE, rng)
    views = {n: View(n, np.zeros((240, 320, 3), np.uint8), 0, render_depth(c, sk)) for n, c in cams2.items()}
    frames = FrameSet(0, 0, views)
    cands = fuse_poses(kps, cams2, frames, cfg)
    assert len(cands) == 2
    m = match(cands, sk)
    assert {i for i, _ in m} == {0, 1}
    assert max(e for _, e in m) < 0.01



def test_depth_registered_on_demand_gives_the_same_people(cfg, rng):
    """Views whose depth is registered only in the boxes fuse_poses asks for (0 elsewhere)
    give exactly the candidates of whole depth maps; the boxes are a small part of the image."""
    cams2 = ring_cameras(4, size_wh=(320, 240), f_px=260.0)
    cams2 = {n: cams2[n] for n in ("cam0", "cam1")}
    sk = np.stack([standing_skeleton([0.6, -0.6], 0.0), standing_skeleton([-0.6, 0.6], 1.0)])
    kps = simulate_keypoints(cams2, sk, NO_NOISE, rng)
    depth = {n: render_depth(c, sk) for n, c in cams2.items()}
    asked = []

    def in_boxes(name):
        def register(boxes):
            out = np.zeros_like(depth[name])
            for x0, y0, x1, y1 in boxes:
                asked.append(max(0, x1 - x0) * max(0, y1 - y0))
                out[max(0, y0) : y1, max(0, x0) : x1] = depth[name][max(0, y0) : y1, max(0, x0) : x1]
            return out

        return register

    rgb = np.zeros((240, 320, 3), np.uint8)
    whole = fuse_poses(kps, cams2, FrameSet(0, 0, {n: View(n, rgb, 0, depth[n]) for n in cams2}), cfg)
    lazy = fuse_poses(kps, cams2, FrameSet(0, 0, {n: View(n, rgb, 0, None, in_boxes(n)) for n in cams2}), cfg)
    assert len(whole) == 2 and len(lazy) == 2
    for a, b in zip(whole, lazy):
        np.testing.assert_array_equal(a.joints_world_m, b.joints_world_m)
        assert a.cameras == b.cameras and a.score == b.score
    assert asked and sum(asked) < 0.1 * 2 * 320 * 240

def test_no_people_and_bad_input(cams, cfg):
    empty = {n: Keypoints2D(n, np.zeros((0, 17, 2), np.float32), np.zeros((0, 17), np.float32)) for n in cams}
    assert fuse_poses(empty, cams, None, cfg) == []
    with pytest.raises(ShapeError):
        fuse_poses({"nope": empty["cam0"]}, cams, None, cfg)


def test_room_bounds_cover_the_cameras_view(cams):
    lo, hi = room_bounds_from_cameras(cams, FusionConfig())
    assert np.all(lo[:2] < -2.0) and np.all(hi[:2] > 2.0)
    assert lo[2] == pytest.approx(0.2) and hi[2] == pytest.approx(1.7)
    lo2, hi2 = room_bounds_from_cameras(cams, FusionConfig(room_min_m=(-1, -1, 0), room_max_m=(1, 1, 2)))
    assert lo2.tolist() == [-1, -1, 0] and hi2.tolist() == [1, 1, 2]
