"""Keyframe scheduling and what the frame-sets in between borrow from keyframes."""

import numpy as np
import pytest

from orscene.anonymize2d import Detection
from orscene.pipeline.keyframes import (
    between_detections,
    carry_fit,
    is_keyframe,
    is_search_keyframe,
    keyframe_after,
    keyframe_before,
    merge_keypoints,
    search_keyframe_before,
)
from orscene.types import BodyFit, HeadStatus, Keypoints2D, PersonPose


def test_keyframes_depend_only_on_index_and_length():
    n = 11
    keys = [i for i in range(n) if is_keyframe(i, 3, n)]
    assert keys == [0, 3, 6, 9, 10]  # every third and the last
    assert [keyframe_before(i, 3) for i in (0, 1, 2, 3, 10)] == [0, 0, 0, 3, 9]
    assert [keyframe_after(i, 3, n) for i in (0, 1, 4, 9, 10)] == [0, 3, 6, 9, 10]
    assert all(is_keyframe(i, 1, n) for i in range(n))


def test_people_are_searched_for_on_every_other_keyframe_and_followed_in_between():
    keys = [0, 3, 6, 9, 12, 15]
    assert [is_search_keyframe(k, 3, 2) for k in keys] == [True, False, True, False, True, False]
    # a followed keyframe's chain starts at the search keyframe before it, never earlier
    assert [search_keyframe_before(k, 3, 2) for k in keys] == [0, 0, 6, 6, 12, 12]
    assert [search_keyframe_before(k, 3, 1) for k in keys] == keys


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
