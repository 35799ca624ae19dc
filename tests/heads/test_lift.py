"""Faces lifted to 3D: with the registered depth in the box (synthetic session), and
triangulated across views without depth (real Panoptic frames)."""

import json

import cv2
import numpy as np
import pytest

from orscene.geometry.camera import project_world
from orscene.heads import LiftConfig, lift_face_with_depth, lift_faces, triangulate_faces
from orscene.types import HeadSource


def _gt_boxes(s, t):
    return [f for f in s.faces.faces if f.frame == t and not f.ignore and f.person >= 0 and f.visible_fraction >= 0.5]


def test_faces_lifted_with_depth_land_on_the_true_heads(heads_session):
    s = heads_session
    centres = s.gt.head_centers()
    errs, n = [], 0
    for fs in s.framesets:
        for f in _gt_boxes(s, fs.index):
            n += 1
            o = lift_face_with_depth(f.box_xyxy_px, 1.0, fs.views[f.camera], s.cameras[f.camera], LiftConfig())
            if o is None:
                continue
            assert o.source is HeadSource.LIFTED_FACE and o.cameras == (f.camera,)
            p = s.gt.person_index(f.person)
            errs.append(np.linalg.norm(o.center_world_m - centres[fs.index, p]))
            # the face points towards the camera that saw it
            to_cam = s.cameras[f.camera].center_world_m - o.center_world_m
            assert o.face_direction_world @ to_cam / np.linalg.norm(to_cam) > 0.2
    assert n >= 8 and len(errs) >= 0.6 * n  # the rest: a lamp or a hand in front of the face, depth holes
    assert np.median(errs) <= 0.05 and np.percentile(errs, 90) <= 0.10


def test_a_face_seen_in_one_view_projects_into_the_others(heads_session):
    """A face box in one view only gives a 3D head; that head projects into the face boxes
    of the same person in every other view that shows the face."""
    s = heads_session
    checked = 0
    for fs in s.framesets:
        boxes = _gt_boxes(s, fs.index)
        for f in boxes:
            o = lift_face_with_depth(f.box_xyxy_px, 1.0, fs.views[f.camera], s.cameras[f.camera], LiftConfig())
            if o is None:
                continue
            for g in boxes:
                if g.person != f.person or g.camera == f.camera:
                    continue
                uv, z = project_world(s.cameras[g.camera], o.face_world_m)
                x0, y0, x1, y1 = g.box_xyxy_px
                m = 0.5 * max(x1 - x0, y1 - y0)  # the head's projection covers the face box's surroundings
                assert z > 0 and x0 - m <= uv[0] <= x1 + m and y0 - m <= uv[1] <= y1 + m, (f, g, uv)
                checked += 1
    assert checked >= 3


def test_a_box_without_depth_support_is_not_lifted(heads_session):
    s = heads_session
    fs = s.framesets[0]
    name = next(iter(fs.views))
    v = fs.views[name]
    from dataclasses import replace

    empty = replace(v, depth_m=np.zeros_like(v.depth_m))
    assert lift_face_with_depth((100, 100, 140, 150), 1.0, empty, s.cameras[name], LiftConfig()) is None
    # a "face" box over the floor far away is not face-sized at that depth
    H, W = v.rgb.shape[:2]
    big = (0.0, H * 0.5, W * 0.9, H - 1.0)
    o = lift_face_with_depth(big, 1.0, v, s.cameras[name], LiftConfig())
    assert o is None


VIEWS = ["00_03", "00_06", "00_12", "00_13", "00_23"]


@pytest.mark.slow
def test_panoptic_faces_triangulated_without_depth(shared_data):
    """Real frames, no depth: CenterFace boxes matched across the 5 calibrated views and
    triangulated; every head projects into hand-annotated face boxes of one person."""
    from orscene.anonymize2d import FaceDetectorConfig, detect_faces, load_face_detector
    from orscene.recording.importers import load_panoptic_cameras

    root = shared_data / "panoptic"
    cams = load_panoptic_cameras(root / "camera_parameters.json", VIEWS)
    gt = json.loads((root / "faces_gt.json").read_text())
    det = load_face_detector(FaceDetectorConfig())
    frame = "00005514"
    faces = []
    for v in VIEWS:
        rgb = cv2.cvtColor(cv2.imread(str(root / v / f"{v}_{frame}.jpg")), cv2.COLOR_BGR2RGB)
        faces += [(v, d.box_xyxy_px, d.score) for d in detect_faces(det, rgb)]
    heads = triangulate_faces(faces, cams, LiftConfig())
    assert len(heads) >= 2
    boxes = [f for f in gt["faces"] if f["frame"] == frame]
    people = set()
    for h in heads:
        assert len(h.cameras) >= 2 and h.source is HeadSource.LIFTED_FACE
        assert 1.2 < h.center_world_m[2] < 2.1  # standing heads above Panoptic's floor
        hits = {}
        for b in boxes:
            uv, z = project_world(cams[b["view"]], h.face_world_m)
            x0, y0, x1, y1 = b["box"]
            m = 0.25 * max(x1 - x0, y1 - y0)
            if z > 0 and x0 - m <= uv[0] <= x1 + m and y0 - m <= uv[1] <= y1 + m:
                hits.setdefault(b.get("person"), 0)
                hits[b.get("person")] += 1
        assert hits and max(hits.values()) >= 2, hits  # lands on one person's face in several views
        people.add(max(hits, key=hits.get))
    assert len(people) >= 2
    # lift_faces with views without depth falls back to the same triangulation
    from orscene.types import FrameSet, View

    fs = FrameSet(0, 0, {v: View(v, np.zeros((8, 8, 3), np.uint8), 0) for v in VIEWS})
    by_view = {}
    for v, b, sc in faces:
        by_view.setdefault(v, []).append((b, sc))
    assert len(lift_faces(fs, cams, by_view, LiftConfig())) == len(heads)
