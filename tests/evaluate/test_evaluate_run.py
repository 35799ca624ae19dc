"""``cli.py evaluate`` end to end on a tiny hand-made session and predictions folder."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from orscene.evaluate.metrics import EvaluationResult, MetricsConfig, summarize
from orscene.evaluate.run import format_table
from orscene.recording.faces import FaceAnnotations, save_faces
from orscene.recording.session import CameraSource, Calibration, SessionManifest, SourceKind, save_calibration, save_manifest
from orscene.types import Camera, FaceBox, FaceSource, Intrinsics

REPO = Path(__file__).resolve().parents[2]

# faces of voc_faces/2008_001009.jpg (360x480), from training.xml: top/left/width/height
FACES = [(79, 145, 76, 76), (214, 125, 90, 91)]


def _box(t, l, w, h):
    return (l - 0.5, t - 0.5, l + w - 0.5, t + h - 0.5)


@pytest.fixture
def tiny(tmp_path, shared_data):
    rgb = cv2.cvtColor(cv2.imread(str(shared_data / "voc_faces" / "2008_001009.jpg")), cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    views = {"cam0": rgb, "cam1": rgb[:, ::-1].copy()}  # cam1 sees the mirror image
    boxes = {"cam0": [_box(*f) for f in FACES]}
    boxes["cam1"] = [(w - 1 - b[2], b[1], w - 1 - b[0], b[3]) for b in boxes["cam0"]]
    root = tmp_path / "rec"
    sess = root / "TINY"
    for cam, img in views.items():
        for frame in (0, 1):
            p = sess / cam / "color" / f"{frame:06d}.jpg"
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    K = np.array([[300.0, 0, (w - 1) / 2], [0, 300.0, (h - 1) / 2], [0, 0, 1]])
    cams = {c: Camera(c, Intrinsics(K, np.zeros(8), w, h)) for c in views}
    save_calibration(sess / "calibration.json", Calibration(cams))
    save_manifest(
        sess,
        SessionManifest("TINY", tuple(CameraSource(c, SourceKind.FOLDER, c) for c in views), annotations={"faces": "annotations/faces.json"}),
    )
    gt = [FaceBox(fr, c, p, b) for fr in (0, 1) for c in views for p, b in enumerate(boxes[c])]
    save_faces(sess / "annotations" / "faces.json", FaceAnnotations("TINY", tuple(views), (0, 1), tuple(gt)))

    # predictions: everything found and masked except person 1 in cam1 at frame 1
    pred = tmp_path / "pred"
    preds = []
    for fr in (0, 1):
        for c, img in views.items():
            mask = np.zeros((h, w), np.uint8)
            for p, b in enumerate(boxes[c]):
                if (fr, c, p) == (1, "cam1", 1):
                    continue
                preds.append(FaceBox(fr, c, p, b, score=0.9, source=FaceSource.RENDER_3D))
                x0, y0, x1, y1 = (int(round(v + 0.5)) for v in b)
                mask[y0:y1, x0:x1] = 255
            (pred / "masks" / c).mkdir(parents=True, exist_ok=True)
            (pred / "images" / c).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(pred / "masks" / c / f"{fr:06d}.png"), mask)
            anon = img.copy()
            anon[mask > 0] = 0
            cv2.imwrite(str(pred / "images" / c / f"{fr:06d}.jpg"), cv2.cvtColor(anon, cv2.COLOR_RGB2BGR))
    preds.append(FaceBox(0, "cam0", -1, (0.0, 0.0, 20.0, 20.0), score=0.3, source=FaceSource.DETECTOR_2D))  # a false positive
    save_faces(pred / "faces.json", FaceAnnotations("TINY", tuple(views), (0, 1), tuple(preds)))
    return root, pred, tmp_path


def _cli(*args, cwd):
    return subprocess.run([sys.executable, str(REPO / "cli.py"), "evaluate", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_cli_evaluate_end_to_end(tiny):
    root, pred, tmp = tiny
    out = tmp / "result.json"
    r = _cli("--session", "TINY", "--recordings", str(root), "--predictions", str(pred), "--json", str(out), cwd=tmp)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    for key in ("recall", "precision", "f1", "holistic_recall", "leak_rate", "per_camera", "baselines"):
        assert key in res
    assert res["recall"] == pytest.approx(7 / 8)
    assert res["holistic_recall"] == pytest.approx(3 / 4)  # person 1 at frame 1 missed in cam1
    assert res["precision"] == pytest.approx(7 / 8)
    assert res["leak_rate"] == pytest.approx(1 / 8) and res["framesets_with_leak"] == 1
    assert res["per_camera"]["cam0"]["recall"] == 1.0 and res["per_camera"]["cam1"]["recall"] == pytest.approx(0.75)
    assert res["ssim"] < 0.9
    assert set(res["baselines"]) == {"centerface", "blazeface"}
    for b in res["baselines"].values():
        assert b["recall"] >= 0.75 and b["n_faces"] == 8  # two clear frontal faces per image
        assert b["framesets_per_s"] > 0 and b["seconds_per_image"] > 0
    assert "orscene" in r.stdout and "centerface" in r.stdout and "blazeface" in r.stdout
    assert "faces found by: render3d 7" in r.stdout and res["matched_by_source"] == {"render3d": 7}


def test_cli_evaluate_baselines_only_and_errors(tiny):
    root, pred, tmp = tiny
    r = _cli("--session", "TINY", "--recordings", str(root), "--baselines", "blazeface", "--max-frames", "1", cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert "only the baselines" in r.stdout and "blazeface" in r.stdout
    r = _cli("--session", "TINY", "--recordings", str(root), "--annotations", str(tmp / "missing.json"), cwd=tmp)
    assert r.returncode != 0 and "missing.json" in r.stderr
    r = _cli("--session", "TINY", "--recordings", str(root), "--lpips-model", str(tmp / "lpips.pt"), cwd=tmp)
    assert r.returncode != 0 and "lpips.pt" in r.stderr and "download" in r.stderr


def test_format_table():
    res = summarize([], MetricsConfig())
    assert isinstance(res, EvaluationResult) and res.recall is None
    text = format_table({"orscene": res, "centerface": None}, title="T")
    lines = text.splitlines()
    assert lines[0] == "T" and lines[1].split()[:3] == ["method", "recall", "holistic"]
    assert "(not evaluated)" in lines[-1] and lines[3].split()[1] == "-"


def test_baselines_scored_on_the_predicted_frames(tiny):
    from orscene.anonymize2d import FaceDetectorKind
    from orscene.evaluate.run import EvaluateConfig, evaluate_session
    from orscene.recording.faces import load_faces

    root, pred, tmp = tiny
    p = load_faces(pred / "faces.json")
    save_faces(pred / "faces.json", FaceAnnotations(p.session, p.cameras, (0,), tuple(f for f in p.faces if f.frame == 0)))
    out = evaluate_session(
        EvaluateConfig(session="TINY", recordings=str(root), predictions=str(pred), baselines=(FaceDetectorKind.BLAZEFACE,), quality=False)
    )
    assert out["n_faces"] == 4 and out["recall"] == 1.0 and out["fp"] == 1
    assert out["baselines"]["blazeface"]["n_faces"] == 4
    assert out["ssim"] is None
    assert any("not in the predictions" in n for n in out["notes"])
