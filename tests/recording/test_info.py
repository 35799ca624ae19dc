"""``cli.py info``: the summary text, and the CLI's error handling (subprocess)."""

import subprocess
import sys
from pathlib import Path

import pytest


from orscene.recording.info import InfoConfig, format_mkv_info, format_session_info, run_info
from orscene.recording.mkv import MkvReader
from orscene.recording.reader import open_session

REPO = Path(__file__).resolve().parents[2]


def test_mkv_summary(shared_data):
    text = format_mkv_info(MkvReader(shared_data / "azure_kinect" / "recording.mkv"))
    assert "RGB-D: colour MJPEG 1280x720 (MJPG_720P), depth b16g 640x576 (NFOV_UNBINNED)" in text
    assert "1 captures" in text and "first timestamp 0.463945 s" in text
    assert "fx=611.80 fy=611.93" in text and "principal point (639.30, 365.85)" in text
    assert "fx=504.61" in text and "Brown-Conrady rational" in text
    assert "depth -> colour: t = (-32.1, -2.2, 3.9) mm" in text


def test_session_summary(folder_session):
    text = format_session_info(open_session(folder_session))
    assert "2 cameras, 6 frame-sets, 0.20 s at 30 fps" in text
    assert "camera cam0: RGB-D, folder cam0, 64x48, 6 frames" in text
    assert "camera cam1: RGB, folder cam1, 48x32, 5 frames" in text
    assert "position in world: (1.000, 0.000, 0.000) m" in text
    assert "distortion: none" in text


def test_run_info_prints(folder_session, capsys):
    assert run_info(InfoConfig(session=folder_session.name, recordings=folder_session.parent)) == 0
    assert "camera cam1" in capsys.readouterr().out


def test_run_info_errors(folder_session):
    from orscene.errors import ConfigError, SessionError

    with pytest.raises(SessionError, match="invalid session name"):
        run_info(InfoConfig(session="a/b", recordings=folder_session.parent))
    with pytest.raises(SessionError, match="session folder not found"):
        run_info(InfoConfig(session="missing", recordings=folder_session.parent))
    with pytest.raises(ConfigError, match="exactly one"):
        run_info(InfoConfig(recordings=folder_session.parent))


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *args], capture_output=True, text=True, cwd=cwd or REPO, timeout=120)


def _assert_one_line_error(res, *needles):
    assert res.returncode != 0
    lines = [l for l in res.stderr.strip().splitlines() if not l.startswith(("INFO", "WARNING"))]
    assert len(lines) == 1, res.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_cli_info_mkv(shared_data):
    res = _cli("info", "--mkv", str(shared_data / "azure_kinect" / "recording.mkv"))
    assert res.returncode == 0, res.stderr
    assert "depth b16g 640x576" in res.stdout


def test_cli_truncated_mkv(shared_data, tmp_path):
    data = (shared_data / "azure_kinect" / "recording.mkv").read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 3 // 4])
    res = _cli("info", "--mkv", str(cut))
    _assert_one_line_error(res, str(cut), "truncated")


def test_cli_bad_inputs(folder_session, tmp_path):
    rec = str(folder_session.parent)
    _assert_one_line_error(_cli("info", "--session", "../etc", "--recordings", rec), "invalid session name")
    (folder_session / "calibration.json").write_text("{ not json")
    _assert_one_line_error(_cli("info", "--session", folder_session.name, "--recordings", rec), "calibration.json", "malformed")
    (folder_session / "session.yaml").write_text("name: [\n")
    _assert_one_line_error(_cli("info", "--session", folder_session.name, "--recordings", rec), "session.yaml", "malformed")


def test_cli_import_errors_write_nothing(tmp_path):
    rec = tmp_path / "rec"
    _assert_one_line_error(
        _cli("import", "panoptic", str(tmp_path / "nowhere"), "--session", "P", "--recordings", str(rec)), "not found"
    )
    bad = tmp_path / "mvor.json"
    bad.write_text("{]")
    _assert_one_line_error(_cli("import", "mvor", str(bad), "--session", "M", "--recordings", str(rec)), str(bad), "malformed")
    assert not rec.exists() or not any(rec.iterdir())


def test_distortion_is_labelled_in_the_order_printed():
    """OpenCV's order k1, k2, p1, p2, k3 in the label and the values; a zero coefficient of
    the model (MVOR's p1) is printed, not dropped."""
    import numpy as np

    from orscene.recording.info import _intr_lines
    from orscene.types import Intrinsics

    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    five = _intr_lines("colour", Intrinsics(K, np.array([0.1, -0.2, 0.0, 0.003, 0.05, 0, 0, 0]), 640, 480))[1]
    assert five == "      distortion: Brown-Conrady (k1, k2, p1, p2, k3): k1=+0.1, k2=-0.2, p1=+0, p2=+0.003, k3=+0.05"
    eight = _intr_lines("colour", Intrinsics(K, np.array([0.1, -0.2, 0.0, 0.003, 0.05, 0.4, 0.0, 0.01]), 640, 480))[1]
    assert eight.endswith("(k1, k2, p1, p2, k3, k4, k5, k6): k1=+0.1, k2=-0.2, p1=+0, p2=+0.003, k3=+0.05, k4=+0.4, k5=+0, k6=+0.01")


def test_docs_state_the_default_video_preset():
    from orscene.pipeline.run import ProcessConfig

    doc = (REPO / "docs" / "session_format.md").read_text()
    assert f"preset {ProcessConfig().video_preset} by default" in doc
