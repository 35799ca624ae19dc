"""The head stage's containers validate what a caller can get wrong."""

import numpy as np
import pytest

from orscene.errors import ShapeError
from orscene.types import HeadObservation, HeadSource, HeadTrack


def _track(T=3, **kw):
    base = dict(
        track_id=0, frame_indices=np.arange(T), timestamps_ns=np.arange(T) * 66_666_667, center_world_m=np.zeros((T, 3)),
        face_direction_world=np.full((T, 3), np.nan), face_direction_std_rad=np.full(T, np.pi), faces_every_camera=np.ones(T, bool),
        radius_m=np.full(T, 0.11), sources=(HeadSource.DEPTH,) * T,
    )  # fmt: skip
    base.update(kw)
    return HeadTrack(**base)


def test_head_track_shapes_and_lookup():
    tr = _track(frame_indices=np.array([3, 4, 7]))
    assert len(tr) == 3 and tr.index_of(7) == 2 and tr.index_of(5) is None
    with pytest.raises(ShapeError):
        _track(center_world_m=np.zeros((2, 3)))
    with pytest.raises(ShapeError):
        _track(frame_indices=np.array([0, 2, 1]))
    with pytest.raises(ShapeError):
        _track(sources=(HeadSource.DEPTH,))


def test_head_observation_normalises_direction_and_checks_source():
    o = HeadObservation(np.array([1.0, 2.0, 1.6]), HeadSource.LIFTED_FACE, ("cam0",), 0.9, np.array([0.0, 3.0, 0.0]))
    np.testing.assert_allclose(o.face_direction_world, [0, 1, 0])
    with pytest.raises(ShapeError):
        HeadObservation(np.zeros(3), HeadSource.DEPTH | HeadSource.KEYPOINTS, (), 1.0)
    with pytest.raises(ShapeError):
        HeadObservation(np.array([np.nan, 0, 0]), HeadSource.DEPTH, (), 1.0)
    with pytest.raises(ShapeError):
        HeadObservation(np.zeros(3), HeadSource.LIFTED_FACE, (), 1.0, np.zeros(3))
