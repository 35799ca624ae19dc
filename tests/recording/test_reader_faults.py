"""A bad file costs one view; a session that cannot be read at all is refused up front
in one line naming the file (issue 16, items 4 and 8-12), on the tiny folder session of
``conftest.py`` (cam0 RGB-D: PNG colour 64x48, depth 40x30; cam1 RGB 48x32, no frame 3)."""

import json
import logging
import os

import cv2
import numpy as np
import pytest

from orscene.errors import EXCERPT_CHARS, CalibrationError, RecordingError, SessionError
from orscene.recording.mkv import MkvReader
from orscene.recording.reader import open_session


def _one_line(err: Exception, path) -> str:
    msg = str(err)
    assert "\n" not in msg and str(path) in msg and len(msg) < 300, msg
    return msg


def _failures(session):
    return [{k: (f.path, f.reason) for k, f in fs.failed.items()} for fs in open_session(session).framesets()]


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "truncated PNG"),
        (lambda p: p.write_bytes(b""), "colour image is an empty file"),
        (lambda p: p.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()), "corrupt or unreadable"),
        (lambda p: cv2.imwrite(str(p), np.zeros((24, 32, 3), np.uint8)), "colour image is 32x24, the camera's is 64x48"),
    ],
    ids=["truncated", "empty", "random", "other-size"],
)
def test_a_bad_colour_file_costs_one_view(folder_session, damage, reason, caplog):
    bad = folder_session / "cam0" / "color" / "000002.png"
    damage(bad)
    with caplog.at_level(logging.WARNING):
        sets = list(open_session(folder_session).framesets())
    assert [sorted(fs.views) for fs in sets] == [["cam0", "cam1"]] * 2 + [["cam1"], ["cam0"], ["cam0", "cam1"], ["cam0", "cam1"]]
    f = sets[2].failed["cam0"]
    assert f.path == str(bad) and reason in f.reason and f.size_wh == (64, 48) and f.rgb is None
    assert [sorted(fs.failed) for fs in sets] == [[], [], ["cam0"], [], [], []]
    assert any(str(bad) in r.message and "\n" not in r.message for r in caplog.records if r.levelno == logging.WARNING)
    # a chunk that starts at the bad frame (a restarted reader) sees the same
    part = list(open_session(folder_session).framesets(2, 4))
    assert sorted(part[0].failed) == ["cam0"] and sorted(part[1].views) == ["cam0"]


def test_a_truncated_jpeg_is_not_decoded_as_grey(folder_session):
    """Some decoders fill a cut JPEG with grey and return it: the missing end-of-image
    marker makes it a failed view whatever the decoder does."""
    png = folder_session / "cam0" / "color" / "000001.png"
    jpg = png.with_suffix(".jpg")
    textured = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)  # entropy data beyond the header
    ok, buf = cv2.imencode(".jpg", textured)
    png.unlink()
    jpg.write_bytes(buf.tobytes()[: len(buf) - 400])
    assert _failures(folder_session)[1] == {"cam0": (str(jpg), "truncated JPEG (no end-of-image marker)")}


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: cv2.imwrite(str(p), np.full((15, 20), 1500, np.uint16)), "depth image is 20x15, expected 40x30"),
        (lambda p: cv2.imwrite(str(p), np.full((30, 40), 150, np.uint8)), "got a 8-bit grey PNG"),
        (lambda p: p.write_bytes(b""), "depth image is an empty file"),
        (lambda p: p.write_bytes(p.read_bytes()[:-20]), "truncated depth PNG"),
        (lambda p: p.write_bytes(b"not a png at all" * 10), "depth image is not a PNG"),
    ],
    ids=["size", "dtype", "empty", "truncated", "random"],
)
def test_a_bad_depth_file_costs_one_view(folder_session, damage, reason):
    bad = folder_session / "cam0" / "depth" / "000004.png"
    damage(bad)
    sets = list(open_session(folder_session).framesets())
    assert [sorted(fs.failed) for fs in sets] == [[], [], [], [], ["cam0"], []]
    f = sets[4].failed["cam0"]
    assert f.path == str(bad) and reason in f.reason
    assert f.rgb is not None and f.rgb.shape == (48, 64, 3)  # the colour was fine: kept, for an obscured view
    assert "cam0" in sets[5].views and sets[5].views["cam0"].depth_m is not None
    # the same failure when depth is not registered on that frame-set (every pass agrees)
    lazy = list(open_session(folder_session).framesets(with_depth=lambda i: False))
    assert sorted(lazy[4].failed) == ["cam0"]


@pytest.mark.parametrize("kind", ["fifo", "dangling", "device"])
@pytest.mark.parametrize("where", ["cam0/color/000002.png", "cam0/depth/000002.png", "cam1/timestamps.csv"])
def test_non_regular_input_files_are_refused_up_front(folder_session, kind, where):
    p = folder_session / where
    p.unlink()
    if kind == "fifo":
        os.mkfifo(p)
        want = "is a FIFO, not a regular file"
    elif kind == "dangling":
        p.symlink_to(folder_session / "nowhere.png")
        want = "dangling symbolic link"
    else:
        p.symlink_to("/dev/zero")
        want = "is a device, not a regular file"
    with pytest.raises(RecordingError, match=want) as e:
        open_session(folder_session)
    _one_line(e.value, p)


def test_binary_or_special_manifest(folder_session):
    m = folder_session / "session.yaml"
    m.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SessionError, match="not UTF-8 text") as e:
        open_session(folder_session)
    _one_line(e.value, m)
    m.unlink()
    os.mkfifo(m)
    with pytest.raises(SessionError, match="not a regular file"):
        open_session(folder_session)


@pytest.mark.parametrize("line, key", [("fps: .nan", "fps: nan"), ("fps: .inf", "fps: inf"), ("fps: 30\nsync_tolerance_ms: .nan", "sync_tolerance_ms: nan")])
def test_non_finite_manifest_numbers(folder_session, line, key):
    m = folder_session / "session.yaml"
    m.write_text(m.read_text().replace("fps: 30", line))
    with pytest.raises(SessionError, match=f"at {key} is not a finite number") as e:
        open_session(folder_session)
    _one_line(e.value, m)


@pytest.mark.parametrize(
    "key", ["cameras/cam1/world_from_cam/0/3", "cameras/cam0/color/distortion/0", "cameras/cam0/cam_from_depth/1/1", "cameras/cam0/depth/K/0/2"]
)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_calibration_numbers(folder_session, key, value):
    c = folder_session / "calibration.json"
    data = json.loads(c.read_text())
    node = data
    *parents, last = key.split("/")
    for k in parents:
        node = node[int(k)] if isinstance(node, list) else node[k]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    if "distortion" in key and data["cameras"]["cam0"]["color"]["distortion"] is None:
        data["cameras"]["cam0"]["color"]["distortion"] = [value, 0, 0, 0, 0]
    c.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match=f"at {key}: {value} is not a finite number") as e:
        open_session(folder_session)
    _one_line(e.value, c)


@pytest.mark.parametrize("target", ["notes.txt", "cam0/timestamps.csv", "big.json"])
def test_errors_quote_only_an_excerpt_of_a_file(folder_session, target):
    """A calibration path naming some other file must not print that file."""
    secret = "".join(f"user{k}:x:{k}:{k}:SECRET-{k}:/home/u{k}:/bin/sh\n" for k in range(300))
    (folder_session / "notes.txt").write_text(secret)
    (folder_session / "big.json").write_text(json.dumps({"cameras": [secret]}))
    m = folder_session / "session.yaml"
    m.write_text(m.read_text() + f"calibration: {target}\n")
    with pytest.raises(CalibrationError) as e:
        open_session(folder_session)
    msg = _one_line(e.value, folder_session / target)
    # each line of the file is ~40 characters: an excerpt holds at most a few of them
    assert msg.count("SECRET") <= EXCERPT_CHARS // 40 + 1 and "SECRET-10:" not in msg


def test_truncated_mkv_messages_agree(multi_mkv, tmp_path, caplog):
    data = multi_mkv.read_bytes()
    short = tmp_path / "short.mkv"
    short.write_bytes(data[: len(data) // 20])  # inside the first capture's depth
    with caplog.at_level(logging.WARNING):
        with pytest.raises(RecordingError, match="no capture before the damage is complete") as e:
            MkvReader(short, strict=False)
    _one_line(e.value, short)
    assert not any("keeping" in r.message for r in caplog.records)  # no "keeping 1" then "none"
    caplog.clear()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING):
        r = MkvReader(cut, strict=False)
    (msg,) = [rec.message for rec in caplog.records if "keeping" in rec.message]
    assert f"keeping the {r.n_frames} complete capture(s)" in msg and r.n_frames >= 2
    assert [f.index for f in r.frames()] == list(range(r.n_frames))  # every kept capture decodes
