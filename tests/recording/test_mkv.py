"""The Azure Kinect .mkv reader on the real recording (../shared/data/azure_kinect)."""

import json
import shutil

import numpy as np
import pytest

from orscene.errors import CalibrationError, RecordingError
from orscene.recording.mkv import MkvReader, camera_from_k4a_calibration, k4a_intrinsics


@pytest.fixture(scope="module")
def mkv_path(shared_data):
    return shared_data / "azure_kinect" / "recording.mkv"


@pytest.fixture(scope="module")
def reader(mkv_path):
    return MkvReader(mkv_path)


@pytest.fixture(scope="module")
def frame(reader):
    return reader.read(0)


def test_tracks_and_timestamps(reader):
    assert reader.color_codec == "mjpeg"
    assert reader.color_wh == (1280, 720)
    assert reader.depth_wh == (640, 576)
    assert reader.n_frames == 1
    # the single capture is at 463945 us after the recording start (matroska track time)
    assert reader.timestamps_ns.tolist() == [463_945_000]


def test_depth_is_millimetres_with_the_nfov_hexagon(frame):
    d = frame.depth_mm
    assert d.dtype == np.uint16 and d.shape == (576, 640)
    assert 3000 < d.max() <= 3800  # up to about 3.7 m
    zeros = (d == 0).mean()
    assert 0.20 < zeros < 0.27  # about 23 % zeros outside the hexagon
    for corner in (d[:20, :20], d[:20, -20:], d[-20:, :20], d[-20:, -20:]):
        assert not corner.any()  # corners are outside the NFOV hexagon
    centre = d[238:338, 270:370]
    assert (centre > 0).mean() > 0.95 and 200 < np.median(centre) < 3700
    assert frame.rgb.shape == (720, 1280, 3) and frame.rgb.dtype == np.uint8 and frame.rgb.std() > 20


def test_intrinsics_consistent_with_calibration_json(reader, shared_data):
    """Independent arithmetic from the JSON beside the file (720p = 4096x3072 scaled to
    1280x960, rows 120..839; NFOV unbinned = 1024x1024 cropped at (192, 180))."""
    raw = json.loads((shared_data / "azure_kinect" / "calibration.json").read_text())
    cams = {c["Purpose"]: c for c in raw["CalibrationInformation"]["Cameras"]}
    pc = cams["CALIBRATION_CameraPurposePhotoVideo"]["Intrinsics"]["ModelParameters"]
    pd = cams["CALIBRATION_CameraPurposeDepth"]["Intrinsics"]["ModelParameters"]
    cam = reader.camera
    K = cam.color.K_px
    assert K[0, 0] == pytest.approx(pc[2] * 1280) and K[1, 1] == pytest.approx(pc[3] * 960)
    assert K[0, 2] == pytest.approx(pc[0] * 1280 - 0.5) and K[1, 2] == pytest.approx(pc[1] * 960 - 120 - 0.5)
    assert 600 < K[0, 0] < 620 and abs(K[0, 2] - 639.5) < 5 and abs(K[1, 2] - 359.5) < 10
    np.testing.assert_allclose(cam.color.distortion, [pc[4], pc[5], pc[13], pc[12], pc[6], pc[7], pc[8], pc[9]])
    Kd = cam.depth.K_px
    assert Kd[0, 0] == pytest.approx(pd[2] * 1024) and Kd[0, 2] == pytest.approx(pd[0] * 1024 - 192 - 0.5)
    assert Kd[1, 2] == pytest.approx(pd[1] * 1024 - 180 - 0.5)
    np.testing.assert_allclose(cam.depth.distortion, [pd[4], pd[5], pd[13], pd[12], pd[6], pd[7], pd[8], pd[9]])
    rt = cams["CALIBRATION_CameraPurposePhotoVideo"]["Rt"]
    np.testing.assert_allclose(cam.cam_from_depth[:3, :3], np.reshape(rt["Rotation"], (3, 3)))
    np.testing.assert_allclose(cam.cam_from_depth[:3, 3], rt["Translation"])  # metres: ~32 mm baseline
    assert 0.025 < np.linalg.norm(cam.cam_from_depth[:3, 3]) < 0.04


def test_attachment_equals_file_beside_it(reader, shared_data):
    beside = json.loads((shared_data / "azure_kinect" / "calibration.json").read_text())
    assert json.loads(reader.calibration_json) == beside


def test_other_colour_modes_scale_and_crop(shared_data):
    raw = json.loads((shared_data / "azure_kinect" / "calibration.json").read_text())
    c720 = camera_from_k4a_calibration(raw, (1280, 720), (640, 576), "a")
    c1080 = camera_from_k4a_calibration(raw, (1920, 1080), (320, 288), "b")
    c3072 = camera_from_k4a_calibration(raw, (4096, 3072), None, "c")
    # same lens: focal length scales with the width; the principal point follows scale and crop
    assert c1080.color.K_px[0, 0] / c720.color.K_px[0, 0] == pytest.approx(1.5)
    assert (c1080.color.K_px[1, 2] + 0.5) == pytest.approx((c720.color.K_px[1, 2] + 0.5 + 120) * 1.5 - 180)
    assert (c3072.color.K_px[0, 2] + 0.5) == pytest.approx((c720.color.K_px[0, 2] + 0.5) * 3.2)
    assert c3072.depth is None and c1080.depth.width_px == 320
    with pytest.raises(CalibrationError, match="not an Azure Kinect depth mode"):
        camera_from_k4a_calibration(raw, (1280, 720), (600, 500), "d")
    with pytest.raises(CalibrationError, match="malformed"):
        camera_from_k4a_calibration("{not json", (1280, 720), None, "e")


def test_k4a_intrinsics_pixel_centre_shift():
    intr = k4a_intrinsics([0.5, 0.5, 1.0, 1.0] + [0.0] * 10, 100, 100, (0, 0), (100, 100))
    # Azure: the image spans [0, 100] with the principal point in the middle -> 49.5 with centres at integers
    assert intr.K_px[0, 2] == 49.5 and intr.K_px[1, 2] == 49.5 and intr.K_px[0, 0] == 100


def test_truncated_recording_is_one_line_error(mkv_path, tmp_path):
    data = mkv_path.read_bytes()
    bad = tmp_path / "cut.mkv"
    bad.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(RecordingError) as e:
        MkvReader(bad).read(0)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)
    assert mkv_path.read_bytes()[:1000] == data[:1000]  # the input is untouched


def test_corrupt_colour_frame_is_an_error(mkv_path, tmp_path):
    data = bytearray(mkv_path.read_bytes())
    jpeg = data.find(b"\xff\xd8\xff")
    assert jpeg > 0
    data[jpeg : jpeg + 4000] = b"\x00" * 4000  # wipe the JPEG header and tables
    bad = tmp_path / "corrupt.mkv"
    bad.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="corrupt|truncated"):
        MkvReader(bad).read(0)


def test_not_a_recording(tmp_path):
    p = tmp_path / "x.mkv"
    p.write_bytes(b"this is no matroska file" * 10)
    with pytest.raises(RecordingError, match=str(p)):
        MkvReader(p)
    with pytest.raises(RecordingError, match="not found"):
        MkvReader(tmp_path / "missing.mkv")


def test_copy_in_session_reads_the_same(mkv_path, tmp_path, frame):
    p = tmp_path / "c.mkv"
    shutil.copy(mkv_path, p)
    f = MkvReader(p).read(0)
    assert np.array_equal(f.depth_mm, frame.depth_mm) and np.array_equal(f.rgb, frame.rgb)
