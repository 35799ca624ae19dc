"""Panoptic and MVOR importers on the real files in ../shared/data."""

import hashlib
import json

import numpy as np
import pytest

from orscene.errors import CalibrationError, RecordingError, SessionError
from orscene.geometry import project_world, undistort_normalized
from orscene.recording.faces import load_faces
from orscene.recording.importers import (
    ImportConfig,
    ImportKind,
    import_mvor,
    load_mvor_cameras,
    load_panoptic_faces,
    run_import,
)
from orscene.recording.reader import open_session
from orscene.recording.session import load_manifest

VIEWS = ["00_03", "00_06", "00_12", "00_13", "00_23"]


def _tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def panoptic_session(shared_data, tmp_path_factory):
    src = shared_data / "panoptic"
    before = _tree_digest(src)
    rec = tmp_path_factory.mktemp("rec")
    assert run_import(ImportConfig(ImportKind.panoptic, src, session="PAN", recordings=rec)) == 0
    assert _tree_digest(src) == before  # the source is never modified
    return rec / "PAN"


def test_panoptic_session_layout(panoptic_session):
    r = open_session(panoptic_session)
    assert r.camera_names == tuple(VIEWS)
    assert r.n_framesets == 2 and not r.calibration.uncalibrated
    assert all(r.kind(v) == "RGB" for v in VIEWS)
    # real timing: frame ids 4500 and 5514 at 29.97 fps
    assert r.frameset_timestamps_ns[1] - r.frameset_timestamps_ns[0] == pytest.approx((5514 - 4500) / 29.97 * 1e9, abs=1)
    (fs0, fs1) = list(r.framesets())
    assert set(fs0.views) == set(VIEWS) and fs0.views["00_03"].rgb.shape == (1080, 1920, 3)


def _triangulate(cams, boxes):
    rows = []
    for b in boxes:
        cam = cams[b.camera]
        K = cam.color.K_px
        c = np.array([(b.box_xyxy_px[0] + b.box_xyxy_px[2]) / 2, (b.box_xyxy_px[1] + b.box_xyxy_px[3]) / 2])
        x, y = undistort_normalized(np.array([(c[0] - K[0, 2]) / K[0, 0], (c[1] - K[1, 2]) / K[1, 1]]), cam.color.distortion)
        P = cam.cam_from_world[:3]
        rows += [x * P[2] - P[0], y * P[2] - P[1]]
    X = np.linalg.svd(np.array(rows))[2][-1]
    X = X[:3] / X[3]
    errs = []
    for b in boxes:
        uv, _ = project_world(cams[b.camera], X)
        c = np.array([(b.box_xyxy_px[0] + b.box_xyxy_px[2]) / 2, (b.box_xyxy_px[1] + b.box_xyxy_px[3]) / 2])
        errs.append(float(np.linalg.norm(uv - c)) / (b.box_xyxy_px[3] - b.box_xyxy_px[1]))
    return X, np.array(errs)


def test_panoptic_cameras_reproject_triangulated_faces(panoptic_session):
    """Face-box centres of one person seen in 2-4 views triangulate to a point that
    reprojects within a fraction of the face size (box centres of a face seen from
    different sides are not exactly one 3D point; measured <= 0.19 box heights, median
    ~0.08, i.e. 2-16 px at 1920x1080); the faces are at standing head height above the
    Panoptic floor in our z-up world (measured 1.43-1.55 m). Control: the same
    triangulation with the cameras' calibrations swapped fails by far."""
    r = open_session(panoptic_session)
    cams = r.calibration.cameras
    faces = load_faces(panoptic_session / "annotations" / "faces.json")
    groups = {}
    for b in faces.faces:
        if b.person >= 0:
            groups.setdefault((b.frame, b.person), []).append(b)
    groups = {k: v for k, v in groups.items() if len(v) >= 2}
    assert len(groups) == 5
    all_errs = []
    for (frame, person), boxes in groups.items():
        X, errs = _triangulate(cams, boxes)
        all_errs += list(errs)
        assert errs.max() < 0.3, (frame, person, errs)
        assert 1.2 < X[2] < 1.9, (frame, person, X)  # z up, heads at standing height
    assert np.median(all_errs) < 0.12
    swapped = {VIEWS[i]: cams[VIEWS[(i + 1) % 5]] for i in range(5)}
    worst = max(_triangulate(swapped, boxes)[1].max() for boxes in groups.values())
    assert worst > 1.0
    for cam in cams.values():
        assert cam.world_from_cam[2, 1] < -0.5  # image "down" points down in the world: z is up


def test_panoptic_faces_converted(panoptic_session, shared_data):
    faces = load_faces(panoptic_session / "annotations" / "faces.json")
    raw = json.loads((shared_data / "panoptic" / "faces_gt.json").read_text())
    assert faces.frames == (0, 1) and set(faces.cameras) == set(VIEWS)
    real = [b for b in faces.faces if not b.ignore]
    assert len(real) == len(raw["faces"]) and len([b for b in faces.faces if b.ignore]) == len(raw["ignore"])
    # P1 at frame 00004500 in view 00_06 keeps its box and identity
    (p1,) = [b for b in real if b.frame == 0 and b.camera == "00_06" and b.person == 1]
    assert p1.box_xyxy_px == (1385, 412, 1452, 473) and p1.visible_fraction == 1.0
    assert {b.person for b in real if b.frame == 1} == {4, 5, 6}
    same = load_panoptic_faces(shared_data / "panoptic" / "faces_gt.json", session="PAN")
    assert same.faces == faces.faces


def test_import_refuses_existing_session_and_bad_names(panoptic_session, shared_data):
    rec = panoptic_session.parent
    with pytest.raises(SessionError, match="already exists"):
        run_import(ImportConfig(ImportKind.panoptic, shared_data / "panoptic", session="PAN", recordings=rec))
    with pytest.raises(SessionError, match="invalid session name"):
        run_import(ImportConfig(ImportKind.panoptic, shared_data / "panoptic", session="../evil", recordings=rec))
    with pytest.raises(SessionError, match="invalid session name"):
        run_import(ImportConfig(ImportKind.mvor, shared_data / "mvor" / "camma_mvor_2018.json", session="a/b", recordings=rec))
    assert sorted(p.name for p in rec.iterdir()) == ["PAN"]


def test_panoptic_bad_calibration_writes_nothing(tmp_path, shared_data):
    src = tmp_path / "pan"
    (src / "00_03").mkdir(parents=True)
    (src / "00_03" / "00_03_00000001.jpg").write_bytes((shared_data / "panoptic" / "00_03" / "00_03_00004500.jpg").read_bytes())
    (src / "camera_parameters.json").write_text('{"cameras": [ {"name": "00_03", ')
    rec = tmp_path / "rec"
    with pytest.raises(CalibrationError, match="malformed") as e:
        run_import(ImportConfig(ImportKind.panoptic, src, session="X", recordings=rec))
    assert str(src / "camera_parameters.json") in str(e.value) and "\n" not in str(e.value)
    assert not rec.exists() or not any(rec.iterdir())


def test_mvor_import_and_geometry(tmp_path, shared_data):
    """The MVOR 3D skeletons (in camera 1's frame, mm) project onto their 2D keypoints
    in each view with the imported cameras (median error a few px at 640x480)."""
    src = shared_data / "mvor" / "camma_mvor_2018.json"
    target = tmp_path / "MV"
    import_mvor(src, target)
    r = open_session(target)
    assert r.camera_names == ("cam1", "cam2", "cam3") and r.n_framesets == 0
    cams = r.calibration.cameras
    assert cams["cam1"].color.size_wh == (640, 480)
    data = json.loads(src.read_text())
    room_from_cam1 = np.array(data["cameras_info"]["camParams"]["firstCamToRoomRef"]).reshape(4, 4)
    anns = {}
    for a in data["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    errs = {c: [] for c in cams}
    ups = []
    for a3 in data["annotations3D"][:150]:
        X = np.array(a3["keypoints3D"]).reshape(-1, 4)[:10]
        vis = X[:, 3] > 0
        Xw = (X[:, :3] @ room_from_cam1[:3, :3].T + room_from_cam1[:3, 3]) / 1000.0
        ups.append(Xw[1, 2] - (Xw[4, 2] + Xw[5, 2]) / 2)  # neck above the hips
        for ci, iid in enumerate(int(i) for i in a3["image_ids"].split("_")):
            for a in anns.get(iid, []):
                if a["person_id"] != a3["person_id"]:
                    continue
                k = np.array(a["keypoints"]).reshape(-1, 3)
                uv, z = project_world(cams[f"cam{ci + 1}"], Xw)
                m = vis & (k[:, 2] > 0) & (z > 0)
                if m.any():
                    errs[f"cam{ci + 1}"].append(np.median(np.linalg.norm(uv[m] - k[m, :2], axis=1)))
    for c, e in errs.items():
        assert len(e) > 50 and np.median(e) < 15, (c, np.median(e))
    assert np.mean(np.array(ups) > 0) > 0.9


def test_mvor_malformed(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"cameras_info": {}}))
    with pytest.raises(CalibrationError, match="malformed MVOR"):
        load_mvor_cameras(bad)
    with pytest.raises(CalibrationError, match="not found"):
        import_mvor(tmp_path / "none.json", tmp_path / "S")
    assert not (tmp_path / "S").exists()


def _mvor_tree(root, data, missing=()):
    """MVOR's image layout under ``root``: a 640x480 PNG per file named in the annotation
    file, each distinct (its pixel values encode its path), depth beside the colour."""
    import cv2

    for mv in data["multiview_images"]:
        for img in mv["images"]:
            if img["file_name"] in missing:
                continue
            p = root / img["file_name"]
            p.parent.mkdir(parents=True, exist_ok=True)
            code = img["id"] % 1_000_000_007
            px = np.zeros((480, 640), np.uint8)
            px[0, :4] = (code % 256, (code >> 8) % 256, (code >> 16) % 256, img["day_id"])
            cv2.imwrite(str(p), px)
            (p.parent.parent / "depth").mkdir(exist_ok=True)
            cv2.imwrite(str(p.parent.parent / "depth" / p.name), np.full((480, 640), img["cam_id"] * 1000, np.uint16))


def test_mvor_import_with_images_keeps_every_day(tmp_path, shared_data):
    """The file names repeat across days (day1/cam1/color/000001.png, day2/...): every image
    becomes its own frame-set, in the annotation file's order, none overwritten."""
    src = shared_data / "mvor" / "camma_mvor_2018.json"
    data = json.loads(src.read_text())
    names = [img["file_name"].split("/", 1)[1] for mv in data["multiview_images"] for img in mv["images"]]
    assert len(names) - len(set(names)) > 600  # the trap: 669 names repeat across days
    images = tmp_path / "MVOR"
    _mvor_tree(images, data)
    target = tmp_path / "rec" / "MV"
    run_import(ImportConfig(ImportKind.mvor, src, session="MV", recordings=tmp_path / "rec", images=images))
    r = open_session(target)
    assert r.n_framesets == len(data["multiview_images"]) == 732
    for c in ("cam1", "cam2", "cam3"):
        assert len(list((target / c / "color").iterdir())) == 732 and len(list((target / c / "depth").iterdir())) == 732
    for k in (0, 1, 300, 731):
        for img in data["multiview_images"][k]["images"]:
            out = target / f"cam{img['cam_id']}" / "color" / f"{k:06d}.png"
            assert out.read_bytes() == (images / img["file_name"]).read_bytes()
    assert load_manifest(target).annotations["faces"] == "annotations/camma_mvor_2018.json"
    assert json.loads((target / "annotations" / "camma_mvor_2018.json").read_text())["multiview_images"][5] == data["multiview_images"][5]


def test_mvor_import_names_a_missing_image(tmp_path, shared_data):
    src = shared_data / "mvor" / "camma_mvor_2018.json"
    data = json.loads(src.read_text())
    _mvor_tree(tmp_path / "MVOR", data, missing={"day2/cam3/color/000010.png"})
    with pytest.raises(RecordingError, match=r"1 MVOR images named in camma_mvor_2018.json are missing .*day2/cam3/color/000010.png"):
        import_mvor(src, tmp_path / "rec" / "MV", images=tmp_path / "MVOR")
    assert not (tmp_path / "rec" / "MV").exists()
