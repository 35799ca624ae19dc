"""Covering tracked heads in the views (``orscene.heads.cover``) and the pipeline's wiring
of the head stage (``orscene.pipeline.heads3d``), on the small hard synthetic session."""

import numpy as np

from orscene.pipeline.frameset import with_head_regions
import pytest

from orscene.heads import FusedHead, HeadsConfig, learn_depth_background
from orscene.heads.cover import CoverConfig, HeadAt, estimate_face_box, face_faces_camera, head_in_view, heads_at
from orscene.pipeline import heads3d
from orscene.pipeline.fallback import HeadRegion
from orscene.pipeline.frameset import RegionPlan
from orscene.types import FaceSource, HeadSource, HeadTrack


def _coverage(box, cover) -> float:
    """Share of ``box``'s area inside ``cover`` (both xyxy)."""
    ix = max(0.0, min(box[2], cover[2]) - max(box[0], cover[0]))
    iy = max(0.0, min(box[3], cover[3]) - max(box[1], cover[1]))
    return ix * iy / max(1e-9, (box[2] - box[0]) * (box[3] - box[1]))


def _mask_coverage(box, regs, shape) -> float:
    """Share of ``box``'s pixels anonymized when the pipeline covers the regions ``regs``
    (``Head3DRegion``) with its default 2D anonymization (its margin included)."""
    from orscene import anonymize2d
    from orscene.evaluate.metrics import box_coverage
    from orscene.pipeline.config import PipelineConfig

    img = np.zeros((*shape, 3), np.uint8)
    _, mask = anonymize2d.anonymize_regions(img, [r.region.head_box_xyxy_px for r in regs], PipelineConfig().anonymize2d)
    return box_coverage(box, mask)


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _gt_faces(s, frame: int, person: int) -> dict:
    """camera -> ground-truth face box (not ignored) of ``person`` at ``frame``."""
    return {f.camera: f.box_xyxy_px for f in s.faces.faces if f.frame == frame and f.person == person and not f.ignore}


def _track(frames, stamps_s, centres, direction=None) -> HeadTrack:
    T = len(frames)
    d = np.full((T, 3), np.nan) if direction is None else np.tile(direction, (T, 1))
    return HeadTrack(
        0, np.asarray(frames), (np.asarray(stamps_s) * 1e9).astype(np.int64), np.asarray(centres, float), d,
        np.full(T, np.pi if direction is None else 0.3), np.full(T, direction is None), np.full(T, 0.11), (HeadSource.DEPTH,) * T,
    )  # fmt: skip


def test_heads_at_interpolates_between_observations_and_holds_briefly():
    tr = _track([0, 3, 20], [0.0, 0.2, 1.4], [[0, 0, 1.6], [0.3, 0, 1.6], [1.0, 0, 1.6]])
    cfg = CoverConfig(hold_s=0.25, max_interpolate_s=0.6)
    (h,) = heads_at([tr], 3, int(0.2e9), cfg)
    assert h.observed and np.allclose(h.center_world_m, [0.3, 0, 1.6])
    (h,) = heads_at([tr], 1, int(0.1e9), cfg)  # halfway between frames 0 and 3
    assert not h.observed and np.allclose(h.center_world_m, [0.15, 0, 1.6])
    (h,) = heads_at([tr], 5, int(0.4e9), cfg)  # 0.2 s after frame 3, 1.2 s before 20: held
    assert np.allclose(h.center_world_m, [0.3, 0, 1.6])
    assert heads_at([tr], 10, int(0.8e9), cfg) == []  # 0.6 s from either side: gone
    (h,) = heads_at([tr], 19, int(1.33e9), cfg)  # just before the track's last observation: held back
    assert np.allclose(h.center_world_m, [1.0, 0, 1.6])
    assert heads_at([tr], 30, int(2.0e9), cfg) == []


def test_face_box_model_matches_the_ground_truth_face_boxes(heads_session):
    """With the true head centre and face direction, the estimated face box overlaps the
    ground truth's (visible face pixels, forehead to chin) as the evaluation counts a match
    (IoU >= 0.4) for most unoccluded faces; where the face points away, no box."""
    s = heads_session
    gt = s.gt
    centres = gt.head_centers()
    cfg = CoverConfig()
    ious, away_boxes, away = [], 0, 0
    for f in s.faces.faces:
        p = gt.person_index(f.person)
        c = gt.camera_index(f.camera)
        if f.ignore or not gt.face_visible_fraction[f.frame, c, p] >= 0.8:
            continue
        d = gt.world_from_head[f.frame, p, :3, 2]
        h = HeadAt(f.person, centres[f.frame, p], d, 0.3, False, 0.11, True)
        box = estimate_face_box(h, s.cameras[f.camera], cfg)
        ious.append(0.0 if box is None else _iou(box, f.box_xyxy_px))
    assert len(ious) >= 10
    assert np.median(ious) >= 0.5 and np.mean(np.array(ious) >= 0.4) >= 0.7
    for t in range(gt.n_frames):
        for p in np.nonzero(gt.present[t])[0]:
            d = gt.world_from_head[t, p, :3, 2]
            h = HeadAt(0, centres[t, p], d, 0.3, False, 0.11, True)
            for cam in s.cameras.values():
                to_cam = cam.center_world_m - centres[t, p]
                if d @ to_cam / np.linalg.norm(to_cam) < np.cos(np.radians(140)):  # clearly turned away
                    away += 1
                    away_boxes += estimate_face_box(h, cam, cfg) is not None
                    assert not face_faces_camera(h, cam, cfg)
    assert away >= 3 and away_boxes == 0


def test_a_person_blazepose_misses_is_covered_in_every_view_that_shows_the_head(heads_session):
    """No skeleton at all (as if BlazePose missed everyone): the depth source alone tracks the
    staff, and each tracked person's face is covered in every view that shows it."""
    s = heads_session
    cfg = heads3d.Heads3DConfig(heads=HeadsConfig(use_lifted_faces=False, use_keypoints=False))
    bg = learn_depth_background(s.framesets, s.cameras, cfg.heads.depth)
    per = {fs.index: heads3d.frameset_heads(fs, s.cameras, None, (), bg, cfg) for fs in s.framesets}
    stamps = np.array([fs.timestamp_ns for fs in s.framesets])
    sh = heads3d.track_session_heads(per, stamps, [fs.index for fs in s.framesets], [], cfg)
    assert sh.tracks and all(t.track_id >= 0 for t in sh.tracks)
    covered = tracked = 0
    for fs in s.framesets:
        now = heads3d.heads_for_frameset(sh, fs.index, fs.timestamp_ns, [], cfg)
        for pid in s.gt.person_ids[s.gt.present[fs.index] & s.gt.staff_mask()]:
            true = s.gt.head_centers()[fs.index, s.gt.person_index(int(pid))]
            mine = [h for h in now if np.linalg.norm(h.center_world_m - true) <= 0.08]
            if not mine:
                continue
            tracked += 1
            for cam, box in _gt_faces(s, fs.index, int(pid)).items():
                regs = [r for r in heads3d.view_head_regions(mine, fs.views[cam], s.cameras[cam], cfg)]
                assert regs, f"frame {fs.index} person {pid}: not covered in {cam}"
                assert _mask_coverage(box, regs, fs.views[cam].rgb.shape[:2]) >= 0.9
                assert any(r.report for r in regs)  # no face direction known: reported
                covered += 1
    assert tracked >= 0.8 * sum(int((s.gt.present[fs.index] & s.gt.staff_mask()).sum()) for fs in s.framesets)
    assert covered >= 5


def test_a_ghost_in_free_space_is_not_covered(heads_session):
    """A 3D skeleton candidate whose head floats in free space (a false fusion) gives no
    head; the same candidate moved onto a real person's head does."""
    from orscene.geometry.camera import transform_points, unproject_px
    from orscene.types import PoseCandidate

    s = heads_session
    fs = s.framesets[0]
    cfg = heads3d.Heads3DConfig()
    everyone = s.gt.head_centers()[fs.index][s.gt.present[fs.index]]
    ghost = None
    for name in sorted(s.cameras):
        d = fs.views[name].depth_m
        H, W = d.shape
        for v in range(H // 8, 7 * H // 8, 7):
            for u in range(W // 8, 7 * W // 8, 7):
                win = d[max(0, v - 20) : v + 21, max(0, u - 20) : u + 21]
                valid = win[win > 0]
                # far, open space all around the ray
                if not (3.0 < d[v, u] < 6.0 and valid.size >= 0.8 * win.size and valid.min() > 2.8):
                    continue
                p = transform_points(s.cameras[name].world_from_cam, unproject_px(s.cameras[name].color, np.array([u, v]), np.array(0.5 * d[v, u])))
                if np.linalg.norm(everyone - p, axis=1).min() > 0.8 and 1.2 < p[2] < 2.2:
                    ghost = p
                    break
            if ghost is not None:
                break
        if ghost is not None:
            break
    assert ghost is not None

    def candidate(head):
        j = np.tile(np.asarray(head, np.float32), (17, 1))
        j[:5] += np.array([[0.08, 0, 0], [0.06, 0.03, 0.02], [0.06, -0.03, 0.02], [0, 0.07, 0], [0, -0.07, 0]], np.float32)
        j[5:] -= np.array([0, 0, 0.5], np.float32)
        return PoseCandidate(j, np.full(17, 0.9, np.float32), tuple(sorted(s.cameras)), 3.0)

    got = heads3d.frameset_heads(fs, s.cameras, None, [candidate(ghost)], None, cfg)
    assert all(np.linalg.norm(h.center_world_m - ghost) > 0.3 for h in got)
    real = s.staff_heads(fs.index)[0]
    got = heads3d.frameset_heads(fs, s.cameras, None, [candidate(real)], None, cfg)
    assert any(np.linalg.norm(h.center_world_m - real) < 0.15 for h in got)
    # nothing tracked there, nothing covered there
    stamps = np.array([f.timestamp_ns for f in s.framesets])
    sh = heads3d.track_session_heads({fs.index: heads3d.frameset_heads(fs, s.cameras, None, [candidate(ghost)], None, cfg)}, stamps, [fs.index], [], cfg)
    now = heads3d.heads_for_frameset(sh, fs.index, fs.timestamp_ns, [], cfg)
    for cam in s.cameras:
        assert heads3d.view_head_regions(now, fs.views[cam], s.cameras[cam], cfg) == []


def test_a_face_seen_in_one_view_only_is_covered_in_every_other_view_that_shows_it(heads_session):
    """A detector box in one view (lifted with that view's depth) covers the face in every
    other view where the ground truth shows it."""
    s = heads_session
    cfg = heads3d.Heads3DConfig(heads=HeadsConfig(use_depth=False, use_keypoints=False))
    checked = 0
    for fs in s.framesets:
        by_person: dict[int, dict] = {}
        for f in s.faces.faces:
            if f.frame == fs.index and not f.ignore and f.person in s.gt.person_ids[s.gt.staff_mask()]:
                by_person.setdefault(f.person, {})[f.camera] = f.box_xyxy_px
        for pid, boxes in by_person.items():
            if len(boxes) < 2:
                continue
            # the largest face as the one detection
            cam0 = max(boxes, key=lambda c: (boxes[c][2] - boxes[c][0]) * (boxes[c][3] - boxes[c][1]))
            if (boxes[cam0][3] - boxes[cam0][1]) < 12:
                continue
            per = {fs.index: heads3d.frameset_heads(fs, s.cameras, {cam0: [(boxes[cam0], 0.9)]}, (), None, cfg)}
            if not per[fs.index]:
                continue  # the depth in the box did not vouch for a face (occluded border)
            sh = heads3d.track_session_heads(per, np.array([f.timestamp_ns for f in s.framesets]), [fs.index], [], cfg)
            now = heads3d.heads_for_frameset(sh, fs.index, fs.timestamp_ns, [], cfg)
            for cam, box in boxes.items():
                if cam == cam0:
                    continue
                regs = heads3d.view_head_regions(now, fs.views[cam], s.cameras[cam], cfg)
                assert regs and _mask_coverage(box, regs, fs.views[cam].rgb.shape[:2]) >= 0.9, (fs.index, pid, cam)
                checked += 1
    assert checked >= 3


def test_head_regions_join_the_plan_after_the_skeletons_and_silence_what_they_explain():
    skel = HeadRegion((0, 0, 10, 10), (2, 2, 8, 8), (5, 5), 5)
    two_d = HeadRegion((100, 100, 120, 120), (104, 104, 116, 116), (110, 110), 10)
    plan = RegionPlan((skel, two_d), (FaceSource.HEAD_2D, FaceSource.HEAD_2D), (3, -1))
    facing = heads3d.Head3DRegion(7, HeadRegion((98, 98, 122, 122), (103, 103, 117, 117), (111, 110), 12), True)
    away = heads3d.Head3DRegion(8, HeadRegion((300, 0, 330, 30), (310, 10, 320, 20), (315, 15), 15), False)
    new, silent = with_head_regions(plan, [facing, away])
    assert new.persons == (3, 7, 8, -1)
    assert new.sources == (FaceSource.HEAD_2D, FaceSource.HEAD_3D, FaceSource.HEAD_3D, FaceSource.HEAD_2D)
    assert silent == {2, 3}  # the head facing away, and the 2D skeleton the head track explains
    assert with_head_regions(plan, []) == (plan, set())


def test_a_head_hidden_behind_something_nearer_is_not_covered(heads_session):
    """A head placed behind a depth view's surface (the depth shows something nearer over
    the whole disc) is hidden in that view; in front of the surface it is not."""
    from orscene.geometry.camera import transform_points, unproject_px

    s = heads_session
    fs = s.framesets[0]
    name = sorted(s.cameras)[0]
    cam = s.cameras[name]
    d = fs.views[name].depth_m
    H, W = d.shape
    v, u = H // 2, W // 2
    z = float(np.median(d[v - 5 : v + 5, u - 5 : u + 5][d[v - 5 : v + 5, u - 5 : u + 5] > 0]))
    cfg = CoverConfig()
    behind = transform_points(cam.world_from_cam, unproject_px(cam.color, np.array([u, v]), np.array(z + 1.0)))
    front = transform_points(cam.world_from_cam, unproject_px(cam.color, np.array([u, v]), np.array(max(0.6, z - 0.8))))
    hb = head_in_view(HeadAt(0, behind, None, np.pi, True, 0.11, True), cam, fs.views[name], cfg)
    hf = head_in_view(HeadAt(0, front, None, np.pi, True, 0.11, True), cam, fs.views[name], cfg)
    assert hb is not None and hb.hidden
    assert hf is not None and not hf.hidden
    assert not head_in_view(HeadAt(0, behind, None, np.pi, True, 0.11, True), cam, None, cfg).hidden  # no depth: never hidden


def test_a_face_direction_is_carried_to_nearby_frame_sets_with_growing_uncertainty():
    from orscene.heads import FusedHead, TrackHeadsConfig, track_heads

    cfg = TrackHeadsConfig(direction_carry_s=1.0, direction_carry_rad_s=0.3, faces_every_camera_std_rad=0.7)
    east = np.array([1.0, 0.0, 0.0])
    rows = []
    for k in range(12):  # 5 fps, standing still; a lifted face (std 0.5) on frame-set 0 only
        d = east if k == 0 else None
        rows.append((k, int(k * 0.2e9), [FusedHead(np.array([0.0, 0.0, 1.6]), d, 0.5 if d is not None else np.pi, HeadSource.DEPTH, ("cam0",))]))
    (tr,) = track_heads(rows, cfg)
    assert np.allclose(tr.face_direction_world[:3], east) and not tr.faces_every_camera[:3].any()
    assert np.allclose(tr.face_direction_std_rad[:3], [0.5, 0.56, 0.62])
    assert tr.faces_every_camera[4:].all()  # 0.8 s on: 0.74 rad, uncertain again
