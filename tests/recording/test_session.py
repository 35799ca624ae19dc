import numpy as np
import pytest

from orscene.errors import CalibrationError, SessionError
from orscene.recording.session import (
    Calibration,
    CameraSource,
    SessionManifest,
    SourceKind,
    load_calibration,
    load_manifest,
    save_calibration,
    save_manifest,
    validate_session_name,
)
from orscene.types import Camera, Intrinsics


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", "", "a\\b", ".hidden", "x..y"])
def test_bad_session_names(bad):
    with pytest.raises(SessionError):
        validate_session_name(bad)


def test_manifest_roundtrip(tmp_path):
    m = SessionManifest("OR_03", (CameraSource("cam0", SourceKind.FOLDER, "cam0"), CameraSource("cam1", SourceKind.MKV, "cam1.mkv")), fps=15.0)
    save_manifest(tmp_path, m)
    m2 = load_manifest(tmp_path)
    assert m2.camera_names == ("cam0", "cam1")
    assert m2.cameras[1].kind is SourceKind.MKV
    assert m2.tolerance_ns == round(1e9 / 15 / 3)


def test_malformed_manifest_names_file(tmp_path):
    (tmp_path / "session.yaml").write_text("format: orscene-session\nversion: 1\nname: [unclosed\n")
    with pytest.raises(SessionError) as e:
        load_manifest(tmp_path)
    assert "session.yaml" in str(e.value) and "\n" not in str(e.value)


def test_calibration_roundtrip_and_uncalibrated(tmp_path):
    K = np.array([[600.0, 0, 640], [0, 600, 360], [0, 0, 1]])
    pose = np.eye(4)
    pose[:3, 3] = [1.0, 2.0, 3.0]
    c0 = Camera("cam0", Intrinsics(K, np.zeros(8), 1280, 720), pose, Intrinsics(K / 2 + np.diag([0, 0, 0.5]), np.zeros(8), 640, 576), np.eye(4))
    c1 = Camera("cam1", Intrinsics(K, np.zeros(5), 1280, 720))
    save_calibration(tmp_path / "calibration.json", Calibration({"cam0": c0}, {"cam1": c1}))
    cal = load_calibration(tmp_path / "calibration.json")
    assert set(cal.cameras) == {"cam0"} and set(cal.uncalibrated) == {"cam1"}
    np.testing.assert_allclose(cal.cameras["cam0"].world_from_cam, pose)
    assert cal.cameras["cam0"].has_depth and not cal.uncalibrated["cam1"].has_depth


def test_calibration_not_rigid_is_an_error(tmp_path):
    (tmp_path / "c.json").write_text(
        '{"format":"orscene-calibration","version":1,"cameras":{"cam0":{"color":{"K":[[1,0,0],[0,1,0],[0,0,1]],'
        '"distortion":[0,0,0,0],"width":4,"height":4},"world_from_cam":[[2,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}}}'
    )
    with pytest.raises(CalibrationError, match="cam0"):
        load_calibration(tmp_path / "c.json")
