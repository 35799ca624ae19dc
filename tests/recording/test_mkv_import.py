"""Azure Kinect recordings without a hand-written session: ``import mkv`` and
``process --mkv`` on the real recording in ../shared/data."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from orscene.errors import ConfigError, RecordingError
from orscene.recording.importers import ImportConfig, ImportKind, import_mkv, run_import
from orscene.recording.mkv import MkvReader
from orscene.recording.reader import open_session

REPO = Path(__file__).resolve().parents[2]


def test_import_mkv_session_reads_like_the_recording(tmp_path, shared_data):
    mkv = shared_data / "azure_kinect" / "recording.mkv"
    run_import(ImportConfig(ImportKind.mkv, (mkv,), session="K", recordings=tmp_path))
    r = open_session(tmp_path / "K")
    assert r.camera_names == ("recording",) and r.n_framesets == MkvReader(mkv).n_frames
    cam = r.calibration.cameras["recording"]  # posed: the world origin
    np.testing.assert_array_equal(cam.world_from_cam, np.eye(4))
    factory = MkvReader(mkv).camera
    np.testing.assert_allclose(cam.color.K_px, factory.color.K_px)
    np.testing.assert_allclose(cam.cam_from_depth, factory.cam_from_depth)
    fs = next(iter(r.framesets(0, 1)))
    assert fs.views["recording"].rgb.shape == (720, 1280, 3) and fs.views["recording"].depth_m is not None


def test_second_recording_is_uncalibrated_with_one_warning(tmp_path, shared_data, caplog):
    mkv = shared_data / "azure_kinect" / "recording.mkv"
    with caplog.at_level("WARNING"):
        import_mkv([mkv, mkv], tmp_path / "TWO")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "['cam1'] have no world pose" in warnings[0]
    r = open_session(tmp_path / "TWO")
    assert sorted(r.calibration.cameras) == ["cam0"] and sorted(r.calibration.uncalibrated) == ["cam1"]


def test_bad_mkv_imports_nothing(tmp_path, shared_data):
    with pytest.raises(RecordingError, match="recording not found"):
        import_mkv([shared_data / "azure_kinect" / "recording.mkv", tmp_path / "nope.mkv"], tmp_path / "rec" / "X")
    assert not (tmp_path / "rec" / "X").exists() and not any((tmp_path / "rec").iterdir())
    with pytest.raises(ConfigError, match="takes one source"):
        run_import(ImportConfig(ImportKind.mvor, (tmp_path / "a.json", tmp_path / "b.json"), session="Y", recordings=tmp_path))


@pytest.mark.slow
def test_process_mkv_in_one_command(tmp_path, shared_data):
    mkv = shared_data / "azure_kinect" / "recording.mkv"
    cmd = [sys.executable, "cli.py", "process", "--mkv", str(mkv), "--out", str(tmp_path / "X")]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    summary = json.loads((tmp_path / "X" / "summary.json").read_text())
    assert summary["session"] == "recording" and summary["framesets"] == 1 and summary["views"] == 1
    assert (tmp_path / "X" / "images" / "recording" / "000000.jpg").is_file()
    assert (tmp_path / "X" / "video" / "recording.mp4").is_file()
    assert first.stdout.strip().splitlines()[-1].startswith(("review recommended", "all clear"))
    for banner in ("XNNPACK", "Warp", "anny", "phases A"):  # quiet by default
        assert banner not in first.stderr, banner
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)  # same inputs, same run: a no-op
    assert again.returncode == 0 and "already complete" in again.stderr


def _room_calibration(path: Path, poses: dict[str, np.ndarray]) -> Path:
    """A room calibration file as ``calibrate`` writes it for .mkv cameras (poses only)."""
    cams = {n: {"world_from_cam": T.tolist()} for n, T in poses.items()}
    path.write_text(json.dumps({"format": "orscene-calibration", "version": 1, "units": "metres", "cameras": cams}))
    return path


def test_mkv_session_with_a_room_calibration(tmp_path, shared_data, caplog):
    from orscene.recording.importers import temporary_mkv_session

    mkv = shared_data / "azure_kinect" / "recording.mkv"
    pose = np.eye(4)
    pose[:3, 3] = (1.5, -0.25, 2.0)
    calib = _room_calibration(tmp_path / "room.json", {"cam0": np.eye(4), "cam1": pose})
    with caplog.at_level("WARNING"), temporary_mkv_session([mkv, mkv], calib) as (root, name):
        r = open_session(root / name)
        assert r.calibration_path == calib.resolve()
        assert sorted(r.calibration.cameras) == ["cam0", "cam1"] and not r.calibration.uncalibrated
        np.testing.assert_array_equal(r.calibration.cameras["cam1"].world_from_cam, pose)
        np.testing.assert_allclose(r.calibration.cameras["cam1"].color.K_px, MkvReader(mkv).camera.color.K_px)  # the recording's
    assert not [rec for rec in caplog.records if rec.levelname == "WARNING"]  # every camera posed: no warning
    # a camera the file does not pose stays uncalibrated, said in one warning line
    caplog.clear()
    only0 = _room_calibration(tmp_path / "only0.json", {"cam0": pose})
    with caplog.at_level("WARNING"), temporary_mkv_session([mkv, mkv], only0) as (root, name):
        r = open_session(root / name)
        assert sorted(r.calibration.cameras) == ["cam0"] and sorted(r.calibration.uncalibrated) == ["cam1"]
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelname == "WARNING"]
    assert len(warnings) == 1 and "no world pose to cameras ['cam1']" in warnings[0] and str(only0) in warnings[0]


def test_process_mkv_calibration_errors_are_one_line(tmp_path, shared_data):
    mkv = shared_data / "azure_kinect" / "recording.mkv"
    py = [sys.executable, "cli.py", "process"]
    cases = [
        (["--mkv", str(mkv), "--calibration", str(tmp_path / "nope.json")], str(tmp_path / "nope.json"), "not found"),
        (["--mkv", str(mkv), "--calibration", str(_room_calibration(tmp_path / "other.json", {"kinect_b": np.eye(4)}))],
         str(tmp_path / "other.json"), "gives a world pose to none of the recordings' cameras ['recording']"),
        (["--session", "X", "--recordings", str(tmp_path), "--calibration", str(tmp_path / "other.json")], "--calibration", "is for --mkv runs"),
    ]  # fmt: skip
    (tmp_path / "bad.json").write_text("{not json")
    cases.append((["--mkv", str(mkv), "--calibration", str(tmp_path / "bad.json")], str(tmp_path / "bad.json"), "calibration file"))
    for args, name, why in cases:
        out = tmp_path / "out"
        res = subprocess.run(py + args + ["--out", str(out)], cwd=REPO, capture_output=True, text=True)
        lines = res.stderr.strip().splitlines()
        assert res.returncode != 0 and len(lines) == 1, (args, res.stderr[-1000:])
        assert name in lines[0] and why in lines[0], lines[0]
        assert not out.exists()


@pytest.mark.slow
def test_process_mkv_with_calibration(tmp_path, shared_data):
    mkv = shared_data / "azure_kinect" / "recording.mkv"
    pose = np.eye(4)
    pose[:3, 3] = (0.5, 0.0, 2.5)
    (tmp_path / "room").mkdir()  # the output may not lie in an input's folder
    calib = _room_calibration(tmp_path / "room" / "CALIB_01.json", {"recording": pose})
    res = subprocess.run([sys.executable, "cli.py", "process", "--mkv", str(mkv), "--calibration", str(calib), "--out", str(tmp_path / "X"),
                          "--format", "images"], cwd=REPO, capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "no world pose" not in res.stderr
    audit = json.loads((tmp_path / "X" / "audit.json").read_text())
    assert str(calib.resolve()) in audit["inputs"]  # the run read (and fingerprinted) the room calibration
    assert (tmp_path / "X" / "images" / "recording" / "000000.jpg").is_file()
