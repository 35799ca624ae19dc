"""Association, ghost rejection and tracking of heads."""

import numpy as np
import pytest

from orscene.heads import (
    DepthPeopleConfig, FusedHead, HeadsConfig, TrackHeadsConfig, associate_heads, find_heads, heads_from_poses, is_ghost,
    learn_depth_background, track_heads,
)  # fmt: skip
from orscene.types import COCO17, HeadObservation, HeadSource, PoseCandidate


def _head(x, y, z=1.6, direction=None) -> FusedHead:
    return FusedHead(np.array([x, y, z], float), direction, np.pi if direction is None else 0.3, HeadSource.DEPTH, ("cam0",))


def test_a_ghost_in_free_space_is_rejected_and_real_heads_are_not(heads_session):
    s = heads_session
    cfg = TrackHeadsConfig()
    fs = s.framesets[0]
    t = fs.index
    everyone = s.gt.head_centers()[t][s.gt.present[t]]
    for c in s.staff_heads(t):
        assert not is_ghost(c, fs, s.cameras, cfg)
    # heads in free air: halfway along a depth camera's ray to a far surface, away from everyone
    from orscene.geometry.camera import transform_points, unproject_px

    rng = np.random.default_rng(1)
    ghosts = tried = 0
    for name in sorted(s.cameras):
        d = fs.views[name].depth_m
        H, W = d.shape
        for _ in range(200):
            u, v = int(rng.integers(W // 8, 7 * W // 8)), int(rng.integers(H // 8, 7 * H // 8))
            if not 2.5 < d[v, u] < 6.0:
                continue
            p = transform_points(s.cameras[name].world_from_cam, unproject_px(s.cameras[name].color, np.array([u, v]), np.array(0.5 * d[v, u])))
            if np.linalg.norm(everyone - p, axis=1).min() < 0.6 or p[2] < 0.5:
                continue
            tried += 1
            ghosts += is_ghost(p, fs, s.cameras, cfg)
            break
    assert tried >= 3 and ghosts == tried


def test_a_person_blazepose_misses_is_still_tracked(heads_session):
    """The hard scenario's capped, masked staff seen from above: BlazePose's 3D poses miss
    some of them; the depth source still tracks every one of them."""
    from orscene.pose import FusionConfig, detect_keypoints, fuse_poses, load_keypoint_detector

    s = heads_session
    det = load_keypoint_detector()
    poses = {fs.index: fuse_poses({n: detect_keypoints(det, v) for n, v in fs.views.items()}, s.cameras, fs, FusionConfig()) for fs in s.framesets}
    missed = []  # (frame, true head) of staff with no 3D pose head within 0.3 m
    for fs in s.framesets:
        kp_heads = heads_from_poses(poses[fs.index], TrackHeadsConfig())
        for c in s.staff_heads(fs.index):
            if all(np.linalg.norm(h.center_world_m - c) > 0.3 for h in kp_heads):
                missed.append((fs.index, c))
    assert missed, "BlazePose found everyone: the test session no longer exercises the depth source"
    cfg = HeadsConfig(use_lifted_faces=False)
    bg = learn_depth_background(s.framesets, s.cameras, cfg.depth)
    tracks = find_heads(s.framesets, s.cameras, cfg, poses=poses, background=bg)
    hit = 0
    for t, c in missed:
        rows = [tr.center_world_m[tr.index_of(t)] for tr in tracks if tr.index_of(t) is not None]
        hit += any(np.linalg.norm(r - c) <= 0.08 for r in rows)
    assert hit >= 0.9 * len(missed)


def test_association_fuses_sources_and_keeps_people_apart():
    a = [
        HeadObservation(np.array([0.0, 0.0, 1.6]), HeadSource.DEPTH, ("cam0", "cam1"), 1.0),
        HeadObservation(np.array([0.03, 0.0, 1.6]), HeadSource.LIFTED_FACE, ("cam2",), 0.9, np.array([1.0, 0, 0])),
        HeadObservation(np.array([0.6, 0.0, 1.6]), HeadSource.DEPTH, ("cam0",), 1.0),
    ]
    heads = sorted(associate_heads(a, TrackHeadsConfig()), key=lambda h: h.center_world_m[0])
    assert len(heads) == 2
    assert heads[0].sources == HeadSource.DEPTH | HeadSource.LIFTED_FACE
    assert 0.0 < heads[0].center_world_m[0] < 0.03
    np.testing.assert_allclose(heads[0].face_direction_world, [1, 0, 0])
    assert heads[1].face_direction_world is None


def test_tracks_gate_in_metres_and_seconds_and_never_bridge_long_gaps():
    cfg = TrackHeadsConfig(max_gap_s=0.5)
    dt = 66_666_667  # 15 fps
    per = []
    for k in range(10):  # two people walking towards each other, 1 m apart, at 0.75 m/s
        per.append((k, k * dt, [_head(-0.5 + 0.05 * k, 0.0), _head(0.5 - 0.05 * k, 1.0)]))
    per += [(20 + k, (20 + k) * dt, [_head(0.0, 0.0)]) for k in range(3)]  # back after 0.67 s
    tracks = track_heads(per, cfg)
    assert len(tracks) == 3
    a, b, c = sorted(tracks, key=lambda tr: (tr.frame_indices[0], tr.center_world_m[0, 1]))
    assert list(a.frame_indices) == list(range(10)) and np.allclose(a.center_world_m[:, 1], 0.0)
    assert np.allclose(b.center_world_m[:, 1], 1.0)
    assert list(c.frame_indices) == [20, 21, 22]  # a new track: nothing across the gap
    # no face evidence: the direction of motion, uncertain -> faces every camera
    assert np.all(a.faces_every_camera)
    np.testing.assert_allclose(a.face_direction_world[3], [1, 0, 0], atol=1e-6)
    assert np.all(~np.isfinite(c.face_direction_world[:, 0]))  # standing still: unknown


def test_keypoint_heads_from_a_skeleton():
    j = np.zeros((17, 3), np.float32)
    j[COCO17.index("left_ear")] = (0.08, 0.0, 1.60)
    j[COCO17.index("right_ear")] = (-0.08, 0.0, 1.60)
    j[COCO17.index("nose")] = (0.0, 0.1, 1.57)
    conf = np.zeros(17, np.float32)
    conf[[0, 3, 4]] = 0.9
    (h,) = heads_from_poses([PoseCandidate(j, conf, ("cam0", "cam1"), 2.0)], TrackHeadsConfig())
    assert h.source is HeadSource.KEYPOINTS and h.cameras == ("cam0", "cam1")
    assert abs(h.center_world_m[0]) < 1e-6 and abs(h.center_world_m[2] - 1.62) < 1e-6
    assert h.face_direction_world[1] > 0.95
    assert heads_from_poses([PoseCandidate(j, np.zeros(17, np.float32), (), 0.0)], TrackHeadsConfig()) == []
