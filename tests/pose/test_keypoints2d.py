"""2D keypoints: the bundled multi-person BlazePose on real photos, the ONNX loaders'
errors, and degraded ground truth."""

import json
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from orscene.errors import ModelFileError
from orscene.pose import (
    DetectorKind,
    GTNoiseConfig,
    KeypointDetectorConfig,
    detect_keypoints,
    load_keypoint_detector,
    perturb_keypoints,
    project_skeletons,
    track_keypoints,
)
from orscene.pose.blazepose import blazepose_anchors
from orscene.types import View

from pose_helpers import ring_cameras, standing_skeleton


@pytest.fixture(scope="module")
def detector():
    return load_keypoint_detector(KeypointDetectorConfig())


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def near_box(pt, box, margin):
    x0, y0, x1, y1 = box
    m = margin * max(x1 - x0, y1 - y0)
    return x0 - m <= pt[0] <= x1 + m and y0 - m <= pt[1] <= y1 + m


def test_anchors_follow_the_detector_configuration():
    a = blazepose_anchors()
    assert a.shape == (2254, 2)
    # 28x28 cells x 2 anchors, then 14x14 x 2, then 7x7 x 6 (three stride-32 layers)
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(a[1960:1966], np.tile([0.5 / 7, 0.5 / 7], (6, 1)))
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_blazepose_noses_fall_in_annotated_faces_voc(shared_data, detector):
    root = shared_data / "voc_faces"
    boxes = {}
    for xml in ("training.xml", "testing.xml"):
        for img in ET.parse(root / xml).getroot().iter("image"):
            boxes[img.get("file")] = [
                (float(b.get("left")), float(b.get("top")), float(b.get("left")) + float(b.get("width")), float(b.get("top")) + float(b.get("height")))
                for b in img.iter("box")
            ]
    n_people = n_inside = 0
    for name, faces in sorted(boxes.items()):
        kp = detect_keypoints(detector, View("voc", read_rgb(root / name), 0))
        assert kp.keypoints_px.dtype == np.float32 and kp.keypoints_px.shape[1:] == (17, 2)
        assert np.all((kp.confidence >= 0) & (kp.confidence <= 1))
        for p in range(kp.n_persons):
            if kp.confidence[p, 0] < 0.5:
                continue
            n_people += 1
            n_inside += any(near_box(kp.keypoints_px[p, 0], b, 0.25) for b in faces)
            # the eyes are on the face too, left eye on the image's right for a frontal face
            if any(near_box(kp.keypoints_px[p, 0], b, 0.0) for b in faces):
                assert any(near_box(kp.keypoints_px[p, 1], b, 0.5) and near_box(kp.keypoints_px[p, 2], b, 0.5) for b in faces)
    assert n_people >= 20  # 43 faces in 9 photos; many are small or cut off
    assert n_inside >= 0.9 * n_people


def test_blazepose_finds_several_people_in_panoptic(shared_data, detector):
    root = shared_data / "panoptic"
    gt = json.loads((root / "faces_gt.json").read_text())
    n_multi = 0
    matched = total = 0
    for img in gt["images"]:
        kp = detect_keypoints(detector, View(img["view"], read_rgb(root / img["file"]), 0))
        n_multi += kp.n_persons >= 2
        faces = [f["box"] for f in gt["faces"] if f["file"] == img["file"] and not f.get("hard")]
        noses = kp.keypoints_px[kp.confidence[:, 0] > 0.5, 0]
        for box in faces:
            total += 1
            matched += any(near_box(n, box, 0.5) for n in noses)
    assert n_multi >= 4
    assert matched >= 0.7 * total


def test_followed_people_match_a_fresh_search_without_the_tiles(shared_data, detector, monkeypatch):
    """Following the people of a frame from their regions (the image content moved by
    (-10, -6) px in between) finds the same people as a fresh search, running the person
    detector once on the whole image instead of on the whole image and its 4 tiles."""
    import orscene.pose.blazepose as bp

    calls = []
    run = bp._run_detector
    monkeypatch.setattr(bp, "_run_detector", lambda *a, **k: (calls.append(1), run(*a, **k))[1])
    root = shared_data / "panoptic"
    gt = json.loads((root / "faces_gt.json").read_text())
    followed_people = 0
    for img in gt["images"][:4]:
        rgb = read_rgb(root / img["file"])
        calls.clear()
        first, regions = track_keypoints(detector, View("c", rgb, 0))
        assert len(calls) == 5 and len(regions) == first.n_persons
        moved = View("c", np.ascontiguousarray(rgb[6:, 10:]), 0)
        calls.clear()
        followed, _ = track_keypoints(detector, moved, regions)
        assert len(calls) == 1
        fresh = detect_keypoints(detector, moved)
        assert followed.n_persons == fresh.n_persons
        for p in range(fresh.n_persons):
            d = np.linalg.norm(followed.keypoints_px[:, 0] - fresh.keypoints_px[p, 0], axis=1)
            assert d.min() < 30.0  # the same nose, within landmark jitter (1920x1080 images)
        followed_people += followed.n_persons
    assert followed_people >= 6


def test_downscaled_detection_maps_back_to_full_resolution(shared_data, detector):
    rgb = read_rgb(shared_data / "voc_faces" / "2008_001009.jpg")
    full = detect_keypoints(detector, View("c", rgb, 0))
    small_det = load_keypoint_detector(KeypointDetectorConfig(max_side_px=240))
    small = detect_keypoints(small_det, View("c", rgb, 0))
    assert full.n_persons >= 1 and small.n_persons >= 1
    assert np.linalg.norm(small.keypoints_px[0, 0] - full.keypoints_px[0, 0]) < 10.0


@pytest.mark.parametrize("kind", [DetectorKind.RTMPOSE, DetectorKind.RTMO])
def test_onnx_backends_name_the_missing_file(tmp_path, kind):
    missing = tmp_path / "rtm-missing.onnx"
    with pytest.raises(ModelFileError) as e:
        load_keypoint_detector(KeypointDetectorConfig(kind=kind, onnx_path=str(missing)))
    assert str(missing) in str(e.value) and kind.value in str(e.value)
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="cannot load"):
        load_keypoint_detector(KeypointDetectorConfig(kind=kind, onnx_path=str(bad)))


def test_perturbed_ground_truth_statistics():
    cam = ring_cameras(1, size_wh=(640, 480), f_px=500.0)["cam0"]
    sk = np.stack([standing_skeleton([x, y], 0.5) for x in (-1, 0, 1) for y in (-1, 0, 1)])
    kp, vis = project_skeletons(cam, sk)
    assert vis.mean() > 0.9
    cfg = GTNoiseConfig(noise_px=3.0, dropout=0.2, false_people_per_view=0.0)
    out = perturb_keypoints(cam, kp, vis, cfg, np.random.default_rng(7))
    assert out.n_persons == len(sk)
    kept = out.confidence > 0
    assert abs(1 - kept.sum() / vis.sum() - 0.2) < 0.06
    err = (out.keypoints_px - kp)[kept]
    assert abs(err.std() - 3.0) < 0.4
    again = perturb_keypoints(cam, kp, vis, cfg, np.random.default_rng(7))
    np.testing.assert_array_equal(out.keypoints_px, again.keypoints_px)
    many = perturb_keypoints(cam, kp, vis, GTNoiseConfig(false_people_per_view=3.0), np.random.default_rng(1))
    assert many.n_persons > len(sk)
