"""Detectors on real photos (voc_faces, CMU Panoptic); floors a bit below measured values
(measured: CenterFace voc recall 1.0 / precision 0.81, panoptic 0.89 / 0.94; BlazeFace voc
1.0 / 1.0, panoptic 0.33 / 0.86 per image, 0.78 / 0.88 with 640 px tiles)."""

import cv2
import numpy as np
import pytest

from orscene.anonymize2d import FaceDetectorConfig, FaceDetectorKind, load_face_detector
from orscene.anonymize2d.detectors import blazeface_anchors, merge_overlapping
from orscene.errors import ModelFileError, ShapeError
from orscene.evaluate.importers import load_imglab_xml, load_panoptic_faces_json
from orscene.evaluate.metrics import evaluate_predictions
from orscene.evaluate.baselines import detect_views
from orscene.recording.faces import merge_faces


def _rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def detectors():
    return {k: load_face_detector(FaceDetectorConfig(name=k)) for k in FaceDetectorKind}


def _voc(shared_data):
    faces, files = [], {}
    for k, name in enumerate(("training.xml", "testing.xml")):
        ann, f = load_imglab_xml(shared_data / "voc_faces" / name)
        off = 100 * k
        faces += [type(x)(x.frame + off, x.camera, x.person, x.box_xyxy_px) for x in ann.faces]
        files.update({(fr + off, c): p for (fr, c), p in f.items()})
    return merge_faces("voc", ["img"], [fr for fr, _ in files], faces), files


@pytest.mark.parametrize("kind,min_recall,min_precision", [(FaceDetectorKind.CENTERFACE, 0.95, 0.7), (FaceDetectorKind.BLAZEFACE, 0.95, 0.9)])
def test_voc_faces_recall(shared_data, detectors, kind, min_recall, min_precision):
    ann, files = _voc(shared_data)
    assert len(ann.faces) == 43
    preds = detect_views(detectors[kind], list(files), lambda f, c: _rgb(files[(f, c)]))
    r = evaluate_predictions(ann, preds)
    assert r.recall >= min_recall
    assert r.precision >= min_precision


@pytest.mark.parametrize(
    "kind,frames,options,min_recall,min_precision",
    [
        (FaceDetectorKind.CENTERFACE, (1,), {}, 0.8, 0.8),  # one frame-set: CenterFace is slow on 1080p
        (FaceDetectorKind.CENTERFACE, (1,), {"max_side_px": 960}, 0.8, 0.6),
        (FaceDetectorKind.BLAZEFACE, (0, 1), {}, 0.25, 0.7),
        (FaceDetectorKind.BLAZEFACE, (0, 1), {"tile_px": 640}, 0.65, 0.7),
    ],
)
def test_panoptic_recall(shared_data, detectors, kind, frames, options, min_recall, min_precision):
    ann, files = load_panoptic_faces_json(shared_data / "panoptic" / "faces_gt.json")
    ann = merge_faces(ann.session, ann.cameras, frames, [f for f in ann.faces if f.frame in frames])
    det = load_face_detector(FaceDetectorConfig(name=kind, **options)) if options else detectors[kind]
    views = [v for v in files if v[0] in frames]
    preds = detect_views(det, views, lambda f, c: _rgb(files[(f, c)]))
    assert all(p.source.value == "detector2d" and 0 < p.score <= 1 for p in preds.faces)
    r = evaluate_predictions(ann, preds)
    assert r.recall >= min_recall
    assert r.precision >= min_precision


def test_blank_image_no_faces(detectors):
    img = np.full((120, 160, 3), 128, dtype=np.uint8)
    for det in detectors.values():
        assert det.detect(img) == []


def test_bad_input_and_missing_model(detectors, tmp_path):
    with pytest.raises(ShapeError):
        detectors[FaceDetectorKind.CENTERFACE].detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ModelFileError):
        load_face_detector(FaceDetectorConfig(model_path=str(tmp_path / "nope.onnx")))


def test_default_thresholds():
    assert FaceDetectorConfig(name=FaceDetectorKind.CENTERFACE).effective_threshold == 0.2
    assert FaceDetectorConfig(name=FaceDetectorKind.BLAZEFACE).effective_threshold == 0.5


def test_anchors_known_answers():
    a = blazeface_anchors()
    assert a.shape == (2304, 2)
    np.testing.assert_allclose(a[0], [0.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(a[1], [1.5 / 48, 0.5 / 48])  # row-major: x runs fastest


def test_merge_overlapping_groups_chains_and_keeps_touching_apart():
    groups = merge_overlapping([(0, 0, 10, 10), (20, 0, 30, 10), (8, 0, 22, 5), (30, 0, 40, 10)])
    assert [(tuple(b), sorted(m)) for b, m in groups] == [((0, 0, 30, 10), [0, 1, 2]), ((30, 0, 40, 10), [3])]


def test_config_accepts_names_and_detection_unpacks(detectors):
    from orscene.anonymize2d import detect_faces
    from orscene.errors import ConfigError

    assert FaceDetectorConfig(name="blazeface").name is FaceDetectorKind.BLAZEFACE
    with pytest.raises(ConfigError):
        FaceDetectorConfig(name="yolo")
    img = np.full((64, 64, 3), 100, np.uint8)
    for box, score in detect_faces(detectors[FaceDetectorKind.BLAZEFACE], img):
        raise AssertionError(f"unexpected face {box} {score}")


def test_keypoints_on_real_faces(shared_data, detectors):
    from orscene.anonymize2d import detect_faces

    rgb = _rgb(shared_data / "voc_faces" / "2008_001009.jpg")  # two frontal faces
    for kind, k in ((FaceDetectorKind.CENTERFACE, 5), (FaceDetectorKind.BLAZEFACE, 6)):
        dets = detect_faces(detectors[kind], rgb, with_keypoints=True)
        plain = detect_faces(detectors[kind], rgb)
        assert len(dets) == len(plain) == 2
        for (box, score, kps), (box2, score2) in zip(dets, plain):
            assert box == box2 and score == score2
            assert kps.shape == (k, 2)
            x0, y0, x1, y1 = box
            assert ((kps[:5, 0] > x0) & (kps[:5, 0] < x1) & (kps[:5, 1] > y0) & (kps[:5, 1] < y1)).all()
            eyes, nose = kps[:2], kps[2]
            assert eyes[0, 0] < eyes[1, 0]  # image-left eye first
            assert eyes[:, 1].max() < nose[1] < kps[3, 1]  # eyes above the nose above the mouth


def test_detect_faces_near_refinds_faces_in_windows_only(shared_data, detectors):
    """Windows around the faces of a whole-image pass find those faces again (real photos);
    no window means no detection."""
    from orscene.anonymize2d import detect_faces, detect_faces_near
    from orscene.types import pairwise_iou

    det = detectors[FaceDetectorKind.CENTERFACE]
    _, files = _voc(shared_data)
    checked = 0
    for path in sorted(set(files.values()))[:6]:
        rgb = _rgb(path)
        full = [b for b, s in detect_faces(det, rgb) if s > 0.5]
        if not full:
            continue
        near = detect_faces_near(det, rgb, full)
        assert near, path
        iou = pairwise_iou(full, [b for b, _ in near]).max(1)
        assert (iou > 0.5).mean() >= 0.8, (path, iou)
        checked += len(full)
        assert detect_faces_near(det, rgb, []) == []
    assert checked >= 5
