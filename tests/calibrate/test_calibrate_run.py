"""End to end: `cli.py calibrate` on an image-folder session of a rendered board."""

import shutil

import cv2
import numpy as np
import pytest
import yaml

from orscene.calibrate.run import CalibrateConfig, run_calibrate
from orscene.errors import CalibrationError, ConfigError
from orscene.recording.session import Calibration, load_calibration, save_calibration
from orscene.types import Camera


@pytest.fixture(scope="module")
def board_session(tmp_path_factory, rig, rendered):
    """recordings/CALIB_01: three folder cameras, one frame each, depth on the colour grid;
    the calibration file knows the intrinsics but no poses."""
    root = tmp_path_factory.mktemp("recordings")
    s = root / "CALIB_01"
    for n, (rgb, depth) in rendered.items():
        (s / n / "color").mkdir(parents=True)
        (s / n / "depth").mkdir()
        cv2.imwrite(str(s / n / "color" / "000000.png"), rgb[..., ::-1])
        cv2.imwrite(str(s / n / "depth" / "000000.png"), np.round(depth * 1000).astype(np.uint16))
    (s / "session.yaml").write_text(
        yaml.safe_dump(
            {"format": "orscene-session", "version": 1, "name": "CALIB_01", "fps": 15.0, "calibration": "calibration.json",
             "cameras": [{"name": n, "source": "folder", "path": n} for n in rendered]}
        )
    )  # fmt: skip
    save_calibration(s / "calibration.json", Calibration({}, {n: Camera(n, c.color) for n, c in rig.items()}))
    return root


def test_run_calibrate_writes_floor_aligned_calibration(board_session, big_board_json, rig, tmp_path):
    out = tmp_path / "room.json"
    cfg = CalibrateConfig(session="CALIB_01", board=big_board_json, recordings=board_session, output=out)
    assert run_calibrate(cfg) == 0
    calib = load_calibration(out)
    assert set(calib.cameras) == set(rig) and not calib.uncalibrated
    for n, cam in rig.items():
        est = calib.cameras[n].world_from_cam
        assert calib.residuals[n] < 0.5
        # floor at z = 0, z up: heights and tilts of the cameras as in the truth
        assert est[2, 3] == pytest.approx(cam.world_from_cam[2, 3], abs=0.005)
        assert est[2, 2] == pytest.approx(cam.world_from_cam[2, 2], abs=0.0035)
        assert np.allclose(calib.cameras[n].color.K_px, cam.color.K_px)
    # relative poses within 5 mm and 0.2 degrees
    from orscene.calibrate import compare_transforms

    for a, b in (("cam0", "cam1"), ("cam0", "cam2")):
        est = np.linalg.inv(calib.cameras[a].world_from_cam) @ calib.cameras[b].world_from_cam
        truth = np.linalg.inv(rig[a].world_from_cam) @ rig[b].world_from_cam
        d_t, d_r = compare_transforms(est, truth)
        assert d_t < 0.005 and d_r < 0.2


def test_run_calibrate_into_session_with_camera_world(board_session, big_board_json, rig, tmp_path):
    s = tmp_path / "recs"
    shutil.copytree(board_session, s)
    cfg = CalibrateConfig(
        session="CALIB_01", board=big_board_json, recordings=s, write_session=True, world="cam2", floor=False, icp=True
    )
    assert run_calibrate(cfg) == 0
    calib = load_calibration(s / "CALIB_01" / "calibration.json")
    assert np.allclose(calib.cameras["cam2"].world_from_cam, np.eye(4))  # the fixed camera of the ICP too
    from orscene.calibrate import compare_transforms

    # coloured ICP on a floor scene is less precise than the board: it must keep a good
    # registration within 1 cm and 0.3 degrees (it cuts a 2 cm error to ~7 mm: test_world_synth)
    for n in ("cam0", "cam1"):
        truth = np.linalg.inv(rig["cam2"].world_from_cam) @ rig[n].world_from_cam
        d_t, d_r = compare_transforms(calib.cameras[n].world_from_cam, truth)
        assert d_t < 0.01 and d_r < 0.3, (n, d_t, d_r)
    from orscene.recording.reader import open_session

    assert set(open_session(s / "CALIB_01").calibration.cameras) == set(rig)  # the session is now calibrated


def test_run_calibrate_errors(board_session, big_board_json, tmp_path):
    with pytest.raises(ConfigError, match="--world 'nope'"):
        run_calibrate(CalibrateConfig(session="CALIB_01", board=big_board_json, recordings=board_session, world="nope", output=tmp_path / "x.json"))
    # blank out one camera's view: the error names it
    s = tmp_path / "recs"
    shutil.copytree(board_session, s)
    cv2.imwrite(str(s / "CALIB_01" / "cam1" / "color" / "000000.png"), np.full((480, 640, 3), 90, np.uint8))
    with pytest.raises(CalibrationError, match="^camera 'cam1': never sees the calibration board"):
        run_calibrate(CalibrateConfig(session="CALIB_01", board=big_board_json, recordings=s, output=tmp_path / "y.json"))


def test_mkv_session_without_calibration_file(shared_data, tmp_path, big_board_json):
    """A fresh .mkv calibration session (no calibration file yet): intrinsics come from the
    recording; this real recording shows a desk, not the board, so the error names the camera."""
    s = tmp_path / "CALIB_MKV"
    s.mkdir()
    (s / "session.yaml").write_text(
        yaml.safe_dump(
            {"format": "orscene-session", "version": 1, "name": "CALIB_MKV", "fps": 30.0,
             "cameras": [{"name": "kinect_a", "source": "mkv", "path": str(shared_data / "azure_kinect" / "recording.mkv")}]}
        )
    )  # fmt: skip
    with pytest.raises(CalibrationError, match="^camera 'kinect_a': never sees the calibration board"):
        run_calibrate(CalibrateConfig(session="CALIB_MKV", board=big_board_json, recordings=tmp_path, output=tmp_path / "o.json"))
    assert not (s / "calibration.json").exists() and not (tmp_path / "o.json").exists()


def test_board_static_cameras_see_it_in_turn(rig, rendered, big_board_json):
    """The board lies still; cam2 sees it only in frame-set 1, the others only in 0."""
    from orscene.calibrate import load_board
    from orscene.calibrate.run import calibrate_session
    from orscene.types import FrameSet, View

    blank = np.full((480, 640, 3), 100, np.uint8)

    def fs(i, seeing):
        views = {n: View(n, rendered[n][0] if n in seeing else blank, i * 66_000_000) for n in rig}
        return FrameSet(i, i * 66_000_000, views)

    frames = [fs(0, {"cam0", "cam1"}), fs(1, {"cam2"})]
    spec = load_board(big_board_json)
    moving = CalibrateConfig(session="X", floor=False)
    with pytest.raises(CalibrationError, match="camera 'cam2': shares no board placement"):
        calibrate_session(iter(frames), dict(rig), spec, moving)
    cams, res = calibrate_session(iter(frames), dict(rig), spec, CalibrateConfig(session="X", floor=False, board_static=True))
    from orscene.calibrate import compare_transforms

    truth = np.linalg.inv(rig["cam0"].world_from_cam) @ rig["cam2"].world_from_cam
    d_t, d_r = compare_transforms(np.linalg.inv(cams["cam0"].world_from_cam) @ cams["cam2"].world_from_cam, truth)
    assert d_t < 0.005 and d_r < 0.2
    assert res.n_corners == {"cam0": 24, "cam1": 24, "cam2": 24}
