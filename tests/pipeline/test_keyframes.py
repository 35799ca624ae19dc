"""Keyframe scheduling and what the frame-sets in between borrow from keyframes."""

import numpy as np
import pytest

from orscene.anonymize2d import Detection
from orscene.pipeline.config import PipelineConfig
from orscene.pipeline.keyframes import (
    between_detections,
    between_detections_with_evidence,
    carry_fit,
    make_schedule,
    merge_keypoints,
    strided_keyframes,
)
from orscene.types import BodyFit, HeadStatus, Keypoints2D, PersonPose


def _steady(n, fps=15.0):
    return np.round(np.arange(n) * 1e9 / fps).astype(np.int64)


def test_at_a_steady_rate_keyframes_are_every_nth_and_the_last():
    n = 11
    s = make_schedule(_steady(n), keyframe_every=3)
    keys = [i for i in range(n) if s.is_keyframe(i)]
    assert keys == [0, 3, 6, 9, 10]  # every third and the last
    assert [s.keyframe_before(i) for i in (0, 1, 2, 3, 10)] == [0, 0, 0, 3, 10]
    assert [s.keyframe_after(i) for i in (0, 1, 4, 9, 10)] == [0, 3, 6, 9, 10]
    assert make_schedule(_steady(n), keyframe_every=1).keyframe.all()
    # the detectors' passes: every fifth and the last
    assert np.flatnonzero(s.detector_pass).tolist() == [0, 5, 10]
    # timing jitter of a few milliseconds does not move them
    jitter = _steady(n) + np.array([0, 3, -2, 4, 1, -3, 2, 0, 4, -1, 2]) * 1_000_000
    assert np.array_equal(make_schedule(jitter, keyframe_every=3).keyframe, s.keyframe)


def test_keyframes_are_bounded_in_seconds():
    """At 5 fps, every third frame-set would be 0.4 s apart: over keyframe_max_s (0.25 s),
    so every frame-set is a keyframe; passes (detector_max_s 0.4 s) every other one."""
    s = make_schedule(_steady(7, fps=5.0))
    assert s.keyframe.all()
    assert np.flatnonzero(s.detector_pass).tolist() == [0, 2, 4, 6]
    # 2 s apart: every frame-set is a keyframe, a search keyframe and a pass
    s = make_schedule(np.arange(6) * 2_000_000_000)
    assert s.keyframe.all() and s.search.all() and s.detector_pass.all()


def test_a_gap_makes_both_frame_sets_around_it_full_passes():
    ts = _steady(12)
    ts[7:] += 60_000_000_000  # a minute between frame-sets 6 and 7
    s = make_schedule(ts)
    assert np.flatnonzero(s.keyframe).tolist() == [0, 3, 6, 7, 10, 11]
    assert np.flatnonzero(s.search).tolist() == [0, 6, 7, 11]  # the keyframe after the gap searches
    assert np.flatnonzero(s.detector_pass).tolist() == [0, 5, 6, 7, 11]
    # nothing between two keyframes or passes straddles the gap
    for i in range(12):
        a, b = s.keyframe_before(i), s.keyframe_after(i)
        assert s.seconds_between(a, b) <= 0.25 or b - a <= 1
        a, b = s.pass_before(i), s.pass_after(i)
        assert s.seconds_between(a, b) <= 0.4 or b - a <= 1
    # the greedy rule: a frame-set within reach of the next is no keyframe
    assert strided_keyframes([0, 1, 2, 10**12, 10**12 + 1], 3, 0.25).tolist() == [True, False, True, True, True]


def test_schedule_depends_only_on_the_timestamps():
    """The same timestamps give the same schedule, whichever prefix of them a chunk sees
    first: the pipeline computes it once from the whole session's timestamps."""
    ts = _steady(40)
    ts[20:] += 5_000_000_000
    a = PipelineConfig().schedule(ts)
    b = PipelineConfig().schedule(ts.copy())
    assert np.array_equal(a.keyframe, b.keyframe) and np.array_equal(a.search, b.search) and np.array_equal(a.detector_pass, b.detector_pass)
    with pytest.raises(ValueError):
        make_schedule(ts[::-1])


def test_people_are_searched_for_on_every_other_keyframe_and_followed_in_between():
    s = make_schedule(_steady(16), keyframe_every=3, pose_search_every=2)
    keys = [0, 3, 6, 9, 12, 15]
    assert [s.is_search_keyframe(k) for k in keys] == [True, False, True, False, True, False]
    # a followed keyframe's chain starts at the search keyframe before it, never earlier
    assert [s.search_keyframe_before(k) for k in keys] == [0, 0, 6, 6, 12, 12]
    s1 = make_schedule(_steady(16), keyframe_every=3, pose_search_every=1)
    assert [s1.search_keyframe_before(k) for k in keys] == keys
    # following is bounded in time: keyframes 0.2 s apart with pose_follow_max_s 0.1 all search
    assert make_schedule(_steady(16), pose_follow_max_s=0.1).search[[0, 3, 6, 9, 12, 15]].all()


def _d(x0, y0, x1, y1, s=0.9):
    return Detection((float(x0), float(y0), float(x1), float(y1)), s)


def test_between_detections_interpolates_and_holds_faces_not_found_again():
    before = [_d(100, 100, 140, 150), _d(500, 50, 520, 75)]  # the second is gone on the next pass
    after = [_d(110, 100, 150, 150), _d(800, 300, 830, 340)]  # the second is new
    out = between_detections([], before, after, t=0.5)
    boxes = sorted(tuple(np.round(d[0], 1)) for d in out)
    # the face seen on both passes sits half-way; the others are held where they were seen
    assert boxes == [(105.0, 100.0, 145.0, 150.0), (500.0, 50.0, 520.0, 75.0), (800.0, 300.0, 830.0, 340.0)]


def test_between_detections_can_drop_one_sided_faces():
    """With hold_before/hold_after off, a face only one pass found is dropped unless found
    again; a face both passes found is always kept."""
    before = [_d(100, 100, 140, 150), _d(500, 50, 520, 75)]
    after = [_d(110, 100, 150, 150), _d(800, 300, 830, 340)]
    out = between_detections([], before, after, t=0.25, hold_before=True, hold_after=False)
    assert sorted(tuple(np.round(d[0], 1)) for d in out) == [(102.5, 100.0, 142.5, 150.0), (500.0, 50.0, 520.0, 75.0)]
    out = between_detections([], before, after, t=0.75, hold_before=False, hold_after=True)
    assert sorted(tuple(np.round(d[0], 1)) for d in out) == [(107.5, 100.0, 147.5, 150.0), (800.0, 300.0, 830.0, 340.0)]


def test_between_detections_prefers_a_face_found_again():
    before, after = [_d(100, 100, 140, 150)], [_d(120, 100, 160, 150)]
    found = [_d(108, 101, 148, 151, 0.7)]
    out = between_detections(found, before, after, t=0.5)
    assert len(out) == 1 and out[0][0] == (108.0, 101.0, 148.0, 151.0) and out[0][1] == pytest.approx(0.7)
    # a found face elsewhere does not replace a held one
    out = between_detections([_d(600, 100, 640, 150)], before, after, t=0.5)
    assert len(out) == 2


def test_held_detections_say_which_pass_they_come_from():
    before = [_d(100, 100, 140, 150), _d(500, 50, 520, 75)]
    after = [_d(110, 100, 150, 150), _d(800, 300, 830, 340)]
    found = [_d(300, 300, 340, 350, 0.8)]
    out, tags = between_detections_with_evidence(found, before, after, t=0.5)
    assert out == between_detections(found, before, after, t=0.5)
    assert tags == [(), ("before", "after"), ("before",), ("after",)]


def _pose(tid, offset):
    j = np.zeros((17, 3), np.float32)
    j[:, 2] = 1.0 + np.arange(17, dtype=np.float32) * 0.01
    return PersonPose(tid, j + np.asarray(offset, np.float32), np.ones(17, np.float32))


def test_carry_fit_moves_the_body_with_the_tracked_head():
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(50, 3)).astype(np.float32)
    w = np.eye(4)
    w[:3, 3] = (0.1, 0.2, 1.6)
    fit = BodyFit(3, verts, np.zeros((1, 3), np.int32), np.zeros((17, 3), np.float32), np.arange(10), np.arange(5), w, HeadStatus.ALIGNED)
    moved = carry_fit(fit, _pose(3, (0, 0, 0)), _pose(3, (0.05, -0.02, 0.0)))
    np.testing.assert_allclose(moved.vertices_world_m - verts, np.broadcast_to([0.05, -0.02, 0.0], verts.shape), atol=1e-6)
    np.testing.assert_allclose(moved.world_from_head[:3, 3], (0.15, 0.18, 1.6))
    np.testing.assert_allclose(moved.world_from_head[:3, :3], np.eye(3))
    assert moved.head_status is HeadStatus.ALIGNED and moved.track_id == 3


def test_merge_keypoints_stacks_skeletons_of_one_view():
    a = Keypoints2D("cam0", np.zeros((1, 17, 2), np.float32), np.ones((1, 17), np.float32))
    b = Keypoints2D("cam0", np.ones((2, 17, 2), np.float32), np.ones((2, 17), np.float32))
    assert merge_keypoints([a, None, b]).n_persons == 3
    assert merge_keypoints([None, None]) is None
    assert merge_keypoints([a]) is a
