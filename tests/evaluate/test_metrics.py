import numpy as np
import pytest

from orscene.evaluate.metrics import (
    MetricsConfig,
    box_coverage,
    evaluate_predictions,
    match_view,
)
from orscene.recording.faces import FaceAnnotations
from orscene.types import FaceBox, FaceSource


def gt(frame, cam, person, box, ignore=False):
    return FaceBox(frame=frame, camera=cam, person=person, box_xyxy_px=box, ignore=ignore)


def pred(frame, cam, box, score=0.9):
    return FaceBox(frame=frame, camera=cam, person=-1, box_xyxy_px=box, score=score, source=FaceSource.DETECTOR_2D)


def test_match_greedy_one_to_one_and_ignore():
    g = [gt(0, "a", 1, (0, 0, 10, 10))]
    ig = [gt(0, "a", -1, (50, 50, 60, 60), ignore=True)]
    p = [pred(0, "a", (0, 0, 10, 10), 0.9), pred(0, "a", (1, 0, 11, 10), 0.95), pred(0, "a", (51, 51, 59, 59), 0.5)]
    assign, ious, scores, fp = match_view(g, ig, p, 0.4)
    assert assign == [1] and scores == [0.95]  # highest score takes it
    assert fp == 1  # the duplicate; the box inside the ignore region counts neither way


def _ann(faces, frames=(0, 1), cameras=("a", "b")):
    return FaceAnnotations("S", cameras, frames, tuple(faces))


def test_holistic_recall_one_view_missed():
    ann = _ann([gt(0, "a", 1, (0, 0, 10, 10)), gt(0, "b", 1, (20, 20, 30, 30)), gt(0, "a", 2, (40, 0, 50, 10))], frames=(0,))
    preds = _ann([pred(0, "a", (0, 0, 10, 10)), pred(0, "a", (40, 0, 50, 10))], frames=(0,))
    r = evaluate_predictions(ann, preds)
    assert r.recall == pytest.approx(2 / 3)
    assert r.holistic_recall == pytest.approx(0.5)  # person 1 missed in view b
    assert r.per_camera["a"]["recall"] == 1.0 and r.per_camera["b"]["recall"] == 0.0
    assert r.precision == 1.0
    assert r.misses == ((0, "b", 1),)
    assert r.matched_by_source == {"detector2d": 2}
    assert r.leak_rate is None  # no masks given


def test_precision_false_positive_and_unannotated_frames():
    ann = _ann([gt(0, "a", 1, (0, 0, 10, 10))], frames=(0, 1))
    preds = _ann(
        [
            pred(0, "a", (0, 0, 10, 10)),
            pred(1, "b", (5, 5, 9, 9)),  # annotated frame 1, no face there: FP
            pred(7, "a", (5, 5, 9, 9)),  # frame 7 not annotated: ignored
        ],
        frames=(0, 1, 7),
    )
    r = evaluate_predictions(ann, preds)
    assert (r.tp, r.fp) == (1, 1)
    assert r.precision == 0.5 and r.recall == 1.0 and r.f1 == pytest.approx(2 / 3)
    assert r.n_framesets == 2


def test_frames_missing_from_predictions_are_not_scored():
    ann = _ann([gt(0, "a", 1, (0, 0, 10, 10)), gt(1, "a", 1, (0, 0, 10, 10))], frames=(0, 1))
    preds = _ann([pred(0, "a", (0, 0, 10, 10))], frames=(0,))
    r = evaluate_predictions(ann, preds)
    assert r.n_faces == 1 and r.recall == 1.0


def test_coverage_and_leaks():
    assert box_coverage((-0.5, -0.5, 9.5, 9.5), None) == 0.0
    m = np.zeros((20, 20), dtype=bool)
    m[0:10, 0:5] = True
    assert box_coverage((-0.5, -0.5, 9.5, 9.5), m) == pytest.approx(0.5)
    ann = _ann([gt(0, "a", 1, (-0.5, -0.5, 9.5, 9.5)), gt(0, "a", 2, (9.5, 9.5, 19.5, 19.5)), gt(1, "a", 3, (9.5, 9.5, 19.5, 19.5))], cameras=("a",))
    full = np.zeros((20, 20), dtype=bool)
    full[9:20, 9:20] = True

    def masks(frame, cam):
        return (m | full) if frame == 0 else full

    preds = _ann([], frames=(0, 1), cameras=("a",))
    r = evaluate_predictions(ann, preds, masks=masks)
    assert r.leak_rate == pytest.approx(1 / 3)
    assert r.framesets_with_leak == 1
    assert r.leaks[0][:3] == (0, "a", 1)
    assert r.recall == 0.0  # boxes are scored separately from masks


def test_image_quality_ssim_psnr(rng):
    orig = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    anon = orig.copy()
    anon[0:16, 0:16] = 0
    ann = _ann([gt(0, "a", 1, (-0.5, -0.5, 15.5, 15.5)), gt(0, "a", 2, (15.5, 15.5, 31.5, 31.5))], frames=(0,), cameras=("a",))
    r = evaluate_predictions(ann, _ann([], frames=(0,), cameras=("a",)), originals=lambda f, c: orig, anonymized=lambda f, c: anon)
    # face 1 destroyed (SSIM ~0), face 2 untouched (SSIM 1, PSNR capped at 100)
    assert r.ssim == pytest.approx(0.5, abs=0.05)
    assert r.psnr > 50


def test_to_dict_keys_and_json():
    import json

    ann = _ann([gt(0, "a", 1, (0, 0, 10, 10))], frames=(0,))
    r = evaluate_predictions(ann, _ann([pred(0, "a", (0, 0, 10, 10))], frames=(0,)), cfg=MetricsConfig(iou_threshold=0.5))
    d = json.loads(json.dumps(r.to_dict()))
    for k in ("recall", "precision", "f1", "holistic_recall", "leak_rate", "per_camera", "multiview_recall_at"):
        assert k in d
    assert d["multiview_recall_at"]["0.9"] == 1.0


def test_hungarian_vs_greedy():
    from orscene.evaluate.metrics import MatchMode

    g = [gt(0, "a", 1, (0, 0, 10, 10)), gt(0, "a", 2, (4, 0, 14, 10))]
    # A overlaps face 1 (IoU 0.82) and face 2 (0.54); B overlaps only face 1 (0.54)
    a = pred(0, "a", (1, 0, 11, 10), 0.9)
    b = pred(0, "a", (-3, 0, 7, 10), 0.8)
    assign, _, _, fp = match_view(g, [], [a, b], 0.4)
    assert assign == [0, -1] and fp == 1
    assign, ious, scores, fp = match_view(g, [], [a, b], 0.4, MatchMode.HUNGARIAN)
    assert assign == [1, 0] and fp == 0 and scores == [0.8, 0.9]
    ann = _ann(g, frames=(0,), cameras=("a",))
    preds = _ann([a, b], frames=(0,), cameras=("a",))
    assert evaluate_predictions(ann, preds).recall == 0.5
    assert evaluate_predictions(ann, preds, cfg=MetricsConfig(matching=MatchMode.HUNGARIAN)).recall == 1.0
