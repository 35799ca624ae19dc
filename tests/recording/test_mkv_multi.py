"""Seeking, streaming and damage in a multi-capture recording (remuxed from the real one)."""

from pathlib import Path
import logging

import numpy as np
import pytest
import yaml

from orscene.errors import RecordingError
from orscene.recording.mkv import MkvReader
from orscene.recording.reader import open_session


def test_seek_and_stream(multi_mkv):
    r = MkvReader(multi_mkv)
    assert r.n_frames == 6
    assert np.all(np.diff(r.timestamps_ns) > 30_000_000)
    got = list(r.frames(2, 5))
    assert [f.index for f in got] == [2, 3, 4]
    for f in got:
        assert f.rgb[5, 5, 0] == pytest.approx(25 * f.index, abs=3)
        assert f.timestamp_ns == r.timestamps_ns[f.index]
    base = r.read(0).depth_mm.astype(int)
    np.testing.assert_array_equal(r.read(4).depth_mm.astype(int) - base, np.where(base > 0, 4, 0))
    assert [f.index for f in r.frames(4)] == [4, 5] and list(r.frames(6, 9)) == []


def _session(root, cams: dict) -> "Path":
    s = root / "K2"
    s.mkdir()
    (s / "session.yaml").write_text(
        yaml.safe_dump(
            {"format": "orscene-session", "version": 1, "name": "K2", "fps": 30,
             "cameras": [{"name": n, "source": "mkv", "path": str(p)} for n, p in cams.items()]}
        )
    )
    (s / "calibration.json").write_text('{"format": "orscene-calibration", "version": 1, "cameras": {}}')
    return s


def test_two_kinects_framesets_random_access(multi_mkv, tmp_path):
    r = open_session(_session(tmp_path, {"a": multi_mkv, "b": multi_mkv}))
    assert r.n_framesets == 6
    chunk = list(r.framesets(3, 5))
    assert [fs.index for fs in chunk] == [3, 4]
    for fs in chunk:
        assert set(fs.views) == {"a", "b"}
        assert fs.views["a"].rgb[5, 5, 0] == pytest.approx(25 * fs.index, abs=3)
        assert fs.views["b"].depth_m.shape == (720, 1280)


def test_corrupt_capture_midway_costs_one_view(multi_mkv, tmp_path, caplog):
    bad = tmp_path / "bad.mkv"
    data = bytearray(multi_mkv.read_bytes())
    starts = [i for i in range(len(data) - 3) if data[i : i + 4] == b"\xff\xd8\xff\xe0"]
    assert len(starts) == 6
    data[starts[3] : starts[3] + 3000] = b"\x00" * 3000  # capture 3's JPEG header is gone
    bad.write_bytes(bytes(data))
    r = open_session(_session(tmp_path, {"good": multi_mkv, "bad": bad}))
    with caplog.at_level(logging.WARNING):
        sets = list(r.framesets())
    # capture 3 is one failed view; the camera comes back at capture 4
    assert [sorted(fs.views) for fs in sets] == [["bad", "good"]] * 3 + [["good"]] + [["bad", "good"]] * 2
    assert [sorted(fs.failed) for fs in sets] == [[]] * 3 + [["bad"]] + [[]] * 2
    failure = sets[3].failed["bad"]
    assert failure.path == str(bad) and "corrupt MJPEG" in failure.reason and failure.size_wh == (1280, 720)
    assert any("frame-set 3: camera 'bad' cannot be read" in rec.message for rec in caplog.records)
    with pytest.raises(RecordingError, match="corrupt"):
        list(MkvReader(bad).frames(3, 4))


def test_truncated_file_keeps_complete_captures_in_a_session(multi_mkv, tmp_path, caplog):
    cut = tmp_path / "cut.mkv"
    data = multi_mkv.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(RecordingError, match="truncated"):
        MkvReader(cut)  # strict (cli info): an error
    with caplog.at_level(logging.WARNING):
        r = open_session(_session(tmp_path, {"good": multi_mkv, "cut": cut}))
        sets = list(r.framesets())
    assert len(sets) == 6
    n_cut = sum("cut" in fs.views for fs in sets)
    assert 1 <= n_cut <= 3 and all("cut" in fs.views for fs in sets[:n_cut])
    assert all("good" in fs.views for fs in sets)
    assert any("truncated" in rec.message for rec in caplog.records)
    assert multi_mkv.read_bytes() == data  # inputs untouched


@pytest.mark.parametrize("which", ["real", "multi"])
def test_header_index_agrees_with_demuxer(which, multi_mkv, shared_data):
    """The header-only Matroska index (no payload read) gives the demuxer's packets."""
    import av

    from orscene.recording.ebml import matroska_block_index

    path = multi_mkv if which == "multi" else shared_data / "azure_kinect" / "recording.mkv"
    blocks, scale_ns, complete = matroska_block_index(path)
    assert complete
    with av.open(str(path)) as c:
        for title in ("COLOR", "DEPTH"):
            s = next(s for s in c.streams if s.metadata.get("title") == title)
            tb_ns = float(s.time_base) * 1e9
            demuxed = [(int(p.pts), p.size) for p in c.demux(s) if p.size]
            c.seek(0)
            assert [(round(t * scale_ns / tb_ns), n) for t, n in blocks[title]] == demuxed


@pytest.mark.parametrize("fmt,tol", [("bgra", 0.0), ("nv12", 1.5)])
def test_raw_colour_formats(fmt, tol, shared_data, tmp_path, raw_color_mkv):
    path, ref = raw_color_mkv(shared_data / "azure_kinect" / "recording.mkv", tmp_path / f"{fmt}.mkv", fmt)
    f = MkvReader(path).read(0)
    assert f.rgb.shape == ref.shape
    assert np.abs(f.rgb.astype(int) - ref).mean() <= tol  # NV12 loses a little to chroma subsampling
    assert f.depth_mm.shape == (576, 640)
