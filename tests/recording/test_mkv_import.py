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
