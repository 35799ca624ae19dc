"""Session reader: folder and mkv sources, frame-set grouping, random access, damage."""

from pathlib import Path
import json
import logging

import numpy as np
import pytest
import yaml

from orscene.errors import CalibrationError, OrsceneError, RecordingError, SessionError
from orscene.recording.reader import group_by_timestamp, open_session


def test_group_by_timestamp_known_answer():
    ts, table = group_by_timestamp(
        {"a": np.array([0, 100, 200, 300]), "b": np.array([5, 210, 290, 400])}, tolerance_ns=20
    )
    assert ts.tolist() == [0, 100, 200, 290, 400]
    assert table["a"].tolist() == [0, 1, 2, 3, -1]
    assert table["b"].tolist() == [0, -1, 1, 2, 3]


def test_group_two_frames_of_one_camera_never_share_a_frameset():
    ts, table = group_by_timestamp({"a": np.array([0, 5, 10])}, tolerance_ns=100)
    assert table["a"].tolist() == [0, 1, 2]


def test_folder_session_framesets(folder_session):
    r = open_session(folder_session)
    assert r.camera_names == ("cam0", "cam1")
    assert r.n_framesets == 6 and r.fps == 30.0
    assert r.duration_s == pytest.approx(5 / 30 + 1 / 30, abs=1e-6)
    assert set(r.calibration.cameras) == {"cam0", "cam1"} and not r.calibration.uncalibrated
    assert r.kind("cam0") == "RGB-D" and r.kind("cam1") == "RGB"
    sets = list(r.framesets())
    assert [fs.index for fs in sets] == list(range(6))
    assert set(sets[3].views) == {"cam0"}  # cam1 missed frame 3
    for fs in sets:
        v0 = fs.views["cam0"]
        assert v0.rgb[0, 0, 0] == 10 * fs.index  # the right frame
        assert v0.depth_m.shape == (48, 64) and v0.depth_m.dtype == np.float32
        # depth sensor and colour camera coincide (identity): 1.5 m + index mm, in metres
        centre = v0.depth_m[10:38, 12:52]
        np.testing.assert_allclose(centre[centre > 0], (1500 + fs.index) / 1000, atol=1e-6)
        assert (centre > 0).mean() > 0.99
        if "cam1" in fs.views:
            assert fs.views["cam1"].rgb[0, 0, 0] == 10 * fs.index + 1 and fs.views["cam1"].depth_m is None
            assert fs.views["cam1"].timestamp_ns - v0.timestamp_ns == 2_000_000
        assert fs.timestamp_ns == v0.timestamp_ns


def test_random_access_equals_sequential(folder_session):
    r = open_session(folder_session)
    full = {fs.index: fs for fs in r.framesets()}
    part = list(open_session(folder_session).framesets(2, 5))
    assert [fs.index for fs in part] == [2, 3, 4]
    for fs in part:
        assert set(fs.views) == set(full[fs.index].views)
        for k, v in fs.views.items():
            assert np.array_equal(v.rgb, full[fs.index].views[k].rgb)
    assert list(r.framesets(6, 10)) == [] and len(list(r.framesets(4))) == 2


def test_corrupt_image_midway_costs_that_view_only(folder_session, caplog):
    bad = folder_session / "cam1" / "color" / "000004.png"
    bad.write_bytes(b"\x89PNG garbage")
    r = open_session(folder_session)
    with caplog.at_level(logging.WARNING):
        sets = list(r.framesets())
    # cam1 has no frame 3; its frame 4 is one failed view; it is back at frame 5
    assert [sorted(fs.views) for fs in sets] == [["cam0", "cam1"]] * 3 + [["cam0"]] * 2 + [["cam0", "cam1"]]
    assert [sorted(fs.failed) for fs in sets] == [[]] * 4 + [["cam1"]] + [[]]
    f = sets[4].failed["cam1"]
    assert f.path == str(bad) and f.reason == "corrupt or unreadable colour image" and f.size_wh == (48, 32) and f.rgb is None
    assert any(str(bad) in rec.message and "frame-set 4" in rec.message for rec in caplog.records)


def test_folder_without_timestamps_uses_fps(folder_session):
    (folder_session / "cam0" / "timestamps.csv").unlink()
    (folder_session / "cam1" / "timestamps.csv").unlink()
    r = open_session(folder_session)
    assert r.source("cam1").timestamps_ns.tolist() == [round(k * 1e9 / 30) for k in (0, 1, 2, 4, 5)]
    assert r.n_framesets == 6


def test_input_files(folder_session):
    files = open_session(folder_session).input_files()
    names = {str(p.relative_to(folder_session)) for p in files}
    assert {"session.yaml", "calibration.json", "cam0/color/000000.png", "cam0/depth/000005.png", "cam1/timestamps.csv"} <= names
    assert all(p.is_file() for p in files)


def _one_line(e: OrsceneError, path) -> None:
    assert str(path) in str(e) and "\n" not in str(e)


def test_depth_pngs_of_wrong_size(folder_session):
    """Every depth image of the wrong size: the camera is misdescribed, an error up front;
    one of them: one bad view (``test_reader_faults.py``)."""
    import cv2

    for bad in sorted((folder_session / "cam0" / "depth").iterdir()):
        cv2.imwrite(str(bad), np.zeros((48, 64), np.uint16))  # colour size, but a 40x30 depth sensor is calibrated
    with pytest.raises(RecordingError, match="matching neither") as e:
        open_session(folder_session)
    _one_line(e.value, folder_session / "cam0" / "depth")


def test_colour_of_wrong_size(folder_session):
    import cv2

    for bad in sorted((folder_session / "cam1" / "color").iterdir()):
        cv2.imwrite(str(bad), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(RecordingError, match="calibration says 48x32") as e:
        open_session(folder_session)
    _one_line(e.value, folder_session / "cam1" / "color" / "000000.png")


def test_missing_camera_folder_and_calibration(folder_session):
    import shutil

    cal = json.loads((folder_session / "calibration.json").read_text())
    del cal["cameras"]["cam1"]
    (folder_session / "calibration.json").write_text(json.dumps(cal))
    with pytest.raises(CalibrationError, match="cam1.*missing from the calibration"):
        open_session(folder_session)
    (folder_session / "calibration.json").unlink()
    with pytest.raises(CalibrationError, match="not found") as e:
        open_session(folder_session)
    _one_line(e.value, folder_session / "calibration.json")
    shutil.rmtree(folder_session / "cam1")
    (folder_session / "calibration.json").write_text("{}")
    with pytest.raises(CalibrationError, match="invalid calibration file"):
        open_session(folder_session)


def test_missing_source_folder(folder_session):
    import shutil

    shutil.rmtree(folder_session / "cam1")
    with pytest.raises(RecordingError, match="image folder of camera 'cam1' not found"):
        open_session(folder_session)


def test_malformed_manifest(folder_session):
    (folder_session / "session.yaml").write_text("cameras: [unclosed\n  - x")
    with pytest.raises(SessionError, match="malformed session manifest") as e:
        open_session(folder_session)
    _one_line(e.value, folder_session / "session.yaml")
    with pytest.raises(SessionError, match="not found"):
        open_session(folder_session / "nope")


def test_malformed_timestamps(folder_session):
    (folder_session / "cam1" / "timestamps.csv").write_text("frame,when\n0,1\n")
    with pytest.raises(RecordingError, match="frame,timestamp_ns"):
        open_session(folder_session)


def _mkv_session(tmp_path, mkv, calib: dict) -> "Path":
    s = tmp_path / "K1"
    s.mkdir()
    (s / "session.yaml").write_text(
        yaml.safe_dump(
            {"format": "orscene-session", "version": 1, "name": "K1", "fps": 30,
             "cameras": [{"name": "kinect", "source": "mkv", "path": str(mkv)}]}
        )
    )
    (s / "calibration.json").write_text(json.dumps({"format": "orscene-calibration", "version": 1, "cameras": calib}))
    return s


def test_mkv_session_real_recording(tmp_path, shared_data):
    mkv = shared_data / "azure_kinect" / "recording.mkv"
    r = open_session(_mkv_session(tmp_path, mkv, {}))
    assert "kinect" in r.calibration.uncalibrated and r.n_framesets == 1
    (fs,) = list(r.framesets())
    v = fs.views["kinect"]
    assert v.rgb.shape == (720, 1280, 3) and v.depth_m.shape == (720, 1280)
    assert 0.5 < (v.depth_m > 0).mean() < 0.7 and v.depth_m.max() < 3.8
    assert fs.timestamp_ns == 463_945_000
    assert mkv in r.input_files()


def test_mkv_session_pose_from_calibration_file(tmp_path, shared_data):
    pose = np.eye(4)
    pose[:3, 3] = [1.0, 2.0, 2.5]
    r = open_session(_mkv_session(tmp_path, shared_data / "azure_kinect" / "recording.mkv", {"kinect": {"world_from_cam": pose.tolist()}}))
    cam = r.calibration.cameras["kinect"]
    np.testing.assert_allclose(cam.center_world_m, [1.0, 2.0, 2.5])
    assert cam.color.width_px == 1280 and cam.depth.width_px == 640  # intrinsics from the attachment


def test_mkv_session_truncated_file(tmp_path, shared_data):
    data = (shared_data / "azure_kinect" / "recording.mkv").read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordingError) as e:
        open_session(_mkv_session(tmp_path, cut, {}))
    _one_line(e.value, cut)


def test_mkv_session_calibration_resolution_mismatch(tmp_path, shared_data):
    wrong = {
        "color": {"K": [[600, 0, 319.5], [0, 600, 239.5], [0, 0, 1]], "distortion": [0, 0, 0, 0], "width": 640, "height": 480},
        "depth": {"K": [[504, 0, 320], [0, 504, 288], [0, 0, 1]], "distortion": [0, 0, 0, 0], "width": 640, "height": 576},
        "cam_from_depth": np.eye(4).tolist(),
        "world_from_cam": np.eye(4).tolist(),
    }
    s = _mkv_session(tmp_path, shared_data / "azure_kinect" / "recording.mkv", {"kinect": wrong})
    with pytest.raises(CalibrationError, match=r"colour resolution \(640, 480\) does not match the recording's \(1280, 720\)") as e:
        open_session(s)
    _one_line(e.value, s / "calibration.json")


def test_streaming_memory_does_not_grow_with_length(tmp_path, folder_session_factory):
    """Peak memory while iterating 60 frame-sets is about that of 6: frames are decoded one
    frame-set at a time and not kept."""
    import tracemalloc

    peaks = {}
    for n in (6, 60):
        r = open_session(folder_session_factory(tmp_path, name=f"M{n}", cam1_missing=(), n_frames=n))
        tracemalloc.start()
        count = sum(1 for _ in r.framesets())
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert count == n
    one_set = 64 * 48 * (3 + 4) + 48 * 32 * 3  # bytes of one frame-set's arrays
    assert peaks[60] < peaks[6] + 5 * one_set, peaks


def test_missing_depth_png_gives_an_empty_depth_map(folder_session):
    (folder_session / "cam0" / "depth" / "000002.png").unlink()
    sets = list(open_session(folder_session).framesets())
    assert not sets[2].views["cam0"].depth_m.any()  # no measurement, same shape
    assert sets[2].views["cam0"].depth_m.shape == (48, 64)
    assert sets[1].views["cam0"].depth_m.any() and sets[3].views["cam0"].depth_m.any()


def test_mkv_session_depth_only_near_spheres(tmp_path, shared_data):
    """``with_depth`` returning world spheres: each colour image gets depth only inside the
    spheres' boxes, and there it equals the whole registration (the real recording)."""
    from orscene.geometry.camera import sphere_box_px

    r = open_session(_mkv_session(tmp_path, shared_data / "azure_kinect" / "recording.mkv", {}))
    cam = r.camera("kinect")
    (whole,) = list(r.framesets())
    # the mug at ~0.27 m in front of the camera (origin = camera) and a point on the wall
    spheres = np.array([[0.0, 0.05, 0.27, 0.06], [-0.2, -0.1, 0.75, 0.1]])
    (near,) = list(r.framesets(with_depth=lambda i: spheres))
    d, full = near.views["kinect"].depth_m, whole.views["kinect"].depth_m
    inside = np.zeros(d.shape, bool)
    for sp in spheres:
        x0, y0, x1, y1 = sphere_box_px(cam, sp[:3], sp[3])
        inside[y0:y1, x0:x1] = True
    assert 0.02 < inside.mean() < 0.5
    np.testing.assert_array_equal(d[inside], full[inside])
    assert (full[inside] > 0).mean() > 0.5 and not d[~inside].any()
    (none,) = list(r.framesets(with_depth=lambda i: False))
    assert none.views["kinect"].depth_m is None
    # read without depth, a depth sensor's view registers it on demand, in boxes only
    boxes = [(600, 300, 700, 380), (1200, 650, 1400, 800)]  # the second runs off the image
    d = none.views["kinect"].depth_in_boxes(boxes)
    inside = np.zeros(d.shape, bool)
    for x0, y0, x1, y1 in boxes:
        inside[y0:y1, x0:x1] = True
    np.testing.assert_array_equal(d[inside], full[inside])
    assert (full[inside] > 0).any() and not d[~inside].any()
