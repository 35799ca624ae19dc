"""People found in depth: heads at the tops of the depth columns, robust to sensor noise,
holes and flying pixels."""

from dataclasses import replace

import numpy as np
import pytest

from orscene.heads import DepthPeopleConfig, find_depth_heads, learn_depth_background
from orscene.types import FrameSet, HeadSource


def _score(s, heads_by_frame) -> tuple[float, int]:
    """Share of the staff's true heads with a depth head within 6 cm; heads 0.3 m from everyone."""
    hit = n = ghosts = 0
    centres = s.gt.head_centers()
    for fs, heads in zip(s.framesets, heads_by_frame):
        true = s.staff_heads(fs.index)
        everyone = centres[fs.index][s.gt.present[fs.index]]
        for c in true:
            n += 1
            hit += any(np.linalg.norm(h.center_world_m - c) <= 0.06 for h in heads)
        ghosts += sum(np.linalg.norm(everyone - h.center_world_m, axis=1).min() > 0.3 for h in heads)
    return hit / n, ghosts


def test_depth_finds_the_staff_heads(heads_session):
    s = heads_session
    cfg = DepthPeopleConfig()
    bg = learn_depth_background(s.framesets, s.cameras, cfg)
    assert sorted(bg.far_m) == sorted(s.cameras)
    found = [find_depth_heads(fs, s.cameras, bg, cfg) for fs in s.framesets]
    assert all(h.source is HeadSource.DEPTH and len(h.cameras) >= 1 for hs in found for h in hs)
    recall, ghosts = _score(s, found)
    assert recall >= 0.8
    assert ghosts <= len(s.framesets)  # at most one ghost per frame-set on average


def _degrade(depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise growing with the distance, 15 % random holes, flying pixels at depth edges."""
    d = depth * (1 + rng.normal(0, 0.004, depth.shape)).astype(np.float32)
    d[rng.random(depth.shape) < 0.15] = 0
    edge = np.zeros(depth.shape, bool)
    edge[:, 1:] = np.abs(np.diff(depth, axis=1)) > 0.3
    fly = edge & (rng.random(depth.shape) < 0.5)
    d[fly] = 0.5 * (depth[fly] + np.roll(depth, 1, axis=1)[fly])  # halfway between the surfaces
    d[depth <= 0] = 0
    return d.astype(np.float32)


def test_depth_heads_survive_noise_holes_and_flying_pixels(heads_session):
    s = heads_session
    rng = np.random.default_rng(0)
    noisy = [
        FrameSet(fs.index, fs.timestamp_ns, {n: replace(v, depth_m=_degrade(v.depth_m, rng)) for n, v in fs.views.items()})
        for fs in s.framesets
    ]
    cfg = DepthPeopleConfig()
    bg = learn_depth_background(noisy, s.cameras, cfg)
    recall, ghosts = _score(s, [find_depth_heads(fs, s.cameras, bg, cfg) for fs in noisy])
    assert recall >= 0.7
    assert ghosts <= len(s.framesets)


def test_no_depth_no_heads(heads_session):
    s = heads_session
    no_depth = [FrameSet(fs.index, fs.timestamp_ns, {n: replace(v, depth_m=None, depth_in_boxes=None) for n, v in fs.views.items()}) for fs in s.framesets]
    bg = learn_depth_background(no_depth, s.cameras, DepthPeopleConfig())
    assert bg.far_m == {}
    assert find_depth_heads(no_depth[0], s.cameras, bg, DepthPeopleConfig()) == []


def test_the_vectorised_nanpercentile_is_numpys():
    import warnings

    from orscene.heads.depth_people import nanpercentile_first_axis

    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 6.0, (24, 30, 40)).astype(np.float32)
    a[rng.random(a.shape) < 0.4] = np.nan
    a[:, 0, 0] = np.nan  # a column without any value
    a[:, 1, 1] = np.nan
    a[3, 1, 1] = 2.5  # one value
    for q in (0.0, 50.0, 90.0, 100.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanpercentile(a, q, axis=0)
        got = nanpercentile_first_axis(a, q)
        assert np.allclose(got, want, atol=1e-5, equal_nan=True)
    assert np.isnan(got[0, 0]) and got[1, 1] == 2.5
