import numpy as np
import pytest

from orscene.errors import ShapeError
from orscene.pose import PoseCandidate, TrackingConfig, poses_at, track

from pose_helpers import standing_skeleton


def cand(joints, conf=None):
    conf = np.full(17, 0.9, np.float32) if conf is None else conf
    return PoseCandidate(np.asarray(joints, np.float32), conf, ("cam0", "cam1"), 2.0)


def crossing_scene(n_frames=30):
    """Two people walking towards each other along x, passing 0.5 m apart."""
    truth = np.zeros((n_frames, 2, 17, 3))
    for t in range(n_frames):
        x = -1.5 + 3.0 * t / (n_frames - 1)
        truth[t, 0] = standing_skeleton([x, 0.25], 0.0, phase_rad=t * 0.4)
        truth[t, 1] = standing_skeleton([-x, -0.25], np.pi, phase_rad=t * 0.4)
    return truth


def test_identities_stable_through_crossing_and_gap(rng):
    truth = crossing_scene()
    cfg = TrackingConfig(min_track_frames=5, max_gap_s=0.4)  # 6 frame-sets at 15 fps
    per_frame = []
    for t in range(len(truth)):
        cs = [cand(truth[t, p] + rng.normal(0, 0.01, (17, 3))) for p in (1, 0)]  # order varies
        if 12 <= t < 15:
            cs = cs[:1]  # person 0 unseen for 3 frame-sets
        if t == 20:
            cs.append(cand(truth[t, 0] + [3.0, 3.0, 0.0]))  # a one-frame ghost
        per_frame.append(cs[::-1] if t % 2 else cs)
    tracks = track(per_frame, list(range(len(truth))), cfg)
    assert len(tracks) == 2  # the ghost is dropped
    for tr in tracks:
        assert tr.frame_indices.tolist() == list(range(len(truth)))
        p = int(np.argmin([np.linalg.norm(tr.joints_world_m[0] - truth[0, q], axis=-1).mean() for q in (0, 1)]))
        err = np.linalg.norm(tr.joints_world_m - truth[:, p], axis=-1).mean(-1)
        assert err.max() < 0.15  # same person all along: no identity switch (people are 0.5 m apart)
        assert np.delete(err, range(11, 16)).max() < 0.03  # away from the gap: accurate
    t0 = [tr for tr in tracks if np.linalg.norm(tr.joints_world_m[0] - truth[0, 0], axis=-1).mean() < 0.1][0]
    assert np.all(t0.confidence[12:15] == 0) and np.all(t0.confidence[11] > 0)  # the gap is interpolated
    # smoothing reduces the noise
    raw_err = 0.01 * np.sqrt(3) * 0.92
    assert np.linalg.norm(t0.joints_world_m[16:28] - truth[16:28, 0], axis=-1).mean() < raw_err


def test_track_is_deterministic_and_ids_in_order_of_appearance(rng):
    truth = crossing_scene(12)
    per_frame = [[cand(truth[t, 0])] + ([cand(truth[t, 1])] if t >= 3 else []) for t in range(12)]
    a = track(per_frame, range(100, 112), TrackingConfig(min_track_frames=3))
    b = track(per_frame, range(100, 112), TrackingConfig(min_track_frames=3))
    assert [t.track_id for t in a] == [0, 1]
    assert a[0].frame_indices[0] == 100 and a[1].frame_indices[0] == 103
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.joints_world_m, y.joints_world_m)


def test_poses_at_marks_young_tracks_unsettled():
    truth = crossing_scene(10)
    per_frame = [[cand(truth[t, 0])] for t in range(10)]
    cfg = TrackingConfig(min_track_frames=3, settle_frames=3)
    tracks = track(per_frame, range(10), cfg)
    assert [p.settled for p in poses_at(tracks, 1, cfg)] == [False]
    assert [p.settled for p in poses_at(tracks, 3, cfg)] == [True]
    assert poses_at(tracks, 42, cfg) == []
    np.testing.assert_allclose(poses_at(tracks, 5, cfg)[0].joints_world_m, truth[5, 0], atol=0.02)


def test_missing_joint_is_filled_from_time_neighbours():
    truth = crossing_scene(10)
    per_frame = []
    for t in range(10):
        j = truth[t, 0].copy()
        c = np.full(17, 0.9, np.float32)
        if t == 5:
            j[0] += [0.0, 0.0, 0.5]  # a single-view guess on a ray: confidence 0
            c[0] = 0.0
        per_frame.append([cand(j, c)])
    tr = track(per_frame, range(10), TrackingConfig(min_track_frames=3, smoothing_sigma_frames=0))[0]
    assert tr.confidence[5, 0] == 0
    assert np.linalg.norm(tr.joints_world_m[5, 0] - truth[5, 0, 0]) < 0.03


def test_bad_frame_indices():
    with pytest.raises(ShapeError):
        track([[], []], [3, 3])
    with pytest.raises(ShapeError):
        track([[]], [1, 2])


def test_strided_detection_is_interpolated_with_confidence(rng):
    """Detection on every third frame-set (keyframes), tracks reported on all: the frame-sets
    in between follow the motion and keep a confidence; a keyframe where the person was
    missed keeps confidence 0."""
    truth = crossing_scene(31)
    keys = list(range(0, 31, 3)) + [30]
    keys = sorted(set(keys))
    per_frame = []
    for t in keys:
        cs = [cand(truth[t, p] + rng.normal(0, 0.005, (17, 3))) for p in (0, 1)]
        if t == 15:
            cs = cs[1:]  # person 0 missed on one keyframe
        per_frame.append(cs)
    cfg = TrackingConfig(min_track_frames=3, smoothing_sigma_frames=0.0)
    tracks = track(per_frame, keys, cfg, output_frames=range(31))
    assert len(tracks) == 2
    for tr in tracks:
        assert tr.frame_indices.tolist() == list(range(31))
        p = int(np.argmin([np.linalg.norm(tr.joints_world_m[0] - truth[0, q], axis=-1).mean() for q in (0, 1)]))
        # the walk is linear in x: in-between frame-sets land within a few cm of the truth
        hips = [11, 12]
        err = np.linalg.norm(tr.joints_world_m[:, hips, :2] - truth[:, p, hips, :2], axis=-1)
        assert err.max() < 0.06
        assert (tr.confidence[[1, 2, 4, 5], 0] > 0.5).all()
        if p == 0:
            assert tr.confidence[15, 0] == 0.0
            assert 0 < tr.confidence[14, 0] < 0.9 and 0 < tr.confidence[16, 0] < 0.9


def test_a_gap_in_time_ends_tracks_and_is_never_interpolated():
    """Timestamps, not indices: the same candidates on consecutive frame-sets link when
    they are 1/15 s apart, but a 60 s gap between frame-sets 4 and 5 ends the track (no
    link, no interpolation across it), even though the person stands still."""
    truth = crossing_scene(10)
    per_frame = [[cand(truth[0, 0])] for _ in range(10)]  # standing still
    cfg = TrackingConfig(min_track_frames=3)
    steady = np.round(np.arange(10) * 1e9 / 15).astype(np.int64)
    assert len(track(per_frame, range(10), cfg, timestamps_ns=steady)) == 1
    gapped = steady + np.where(np.arange(10) >= 5, 60_000_000_000, 0)
    tracks = track(per_frame, range(10), cfg, timestamps_ns=gapped)
    assert [t.frame_indices.tolist() for t in tracks] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    # the gate grows with the time since the last observation: 0.8 m apart links after
    # 1 s without the person (within max_gap_s), not after 1/15 s
    moved = [[cand(truth[0, 0])], [cand(truth[0, 0] + [0.8, 0.0, 0.0])]] * 1
    near = track(moved, [0, 1], TrackingConfig(min_track_frames=1, max_gap_s=2.0), timestamps_ns=[0, 66_666_667])
    far = track(moved, [0, 1], TrackingConfig(min_track_frames=1, max_gap_s=2.0), timestamps_ns=[0, 1_000_000_000])
    assert len(near) == 2 and len(far) == 1
