"""Image-sequence and MP4 writers: round trips through real decoders."""

import av
import numpy as np
import pytest

from orscene.errors import RecordingError, ShapeError
from orscene.recording.folder import read_color_image
from orscene.recording.writers import (
    MP4_TIME_BASE,
    Mp4Writer,
    h264_encoder,
    image_path,
    write_image,
    concat_mp4,
    write_mp4,
)


def _frames(rng, n=6, h=49, w=67):
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_png_sequence_round_trip_is_exact(tmp_path, rng):
    imgs = _frames(rng, 3)
    for i, img in enumerate(imgs):
        p = write_image(image_path(tmp_path / "cam0", i, "png"), img)
        assert p.name == f"{i:06d}.png"
    for i, img in enumerate(imgs):
        assert np.array_equal(read_color_image(image_path(tmp_path / "cam0", i, "png")), img)
    assert not [p for p in (tmp_path / "cam0").iterdir() if p.name.startswith(".")]  # no temp files left


def test_jpeg_is_close(tmp_path):
    img = np.zeros((32, 48, 3), np.uint8)
    img[:, :, 0] = np.linspace(0, 255, 48, dtype=np.uint8)
    img[:, :, 2] = 90
    out = read_color_image(write_image(tmp_path / "a.jpg", img))
    assert np.abs(out.astype(int) - img).mean() < 3  # RGB order kept (not BGR)
    with pytest.raises(ShapeError):
        write_image(tmp_path / "b.jpg", np.zeros((4, 4), np.uint8))
    with pytest.raises(ShapeError):
        write_image(tmp_path / "b.gif", img)


def test_h264_available():
    assert h264_encoder() in ("libx264", "libopenh264", "h264")


def test_mp4_round_trip_frames_and_timing(tmp_path, rng):
    """Irregular timing (a dropped frame between 3 and 4) survives; odd sizes are cropped even."""
    ts = [1_000_000_000 + round(k * 1e9 / 30) for k in (0, 1, 2, 3, 5, 6)]
    imgs = [np.full((49, 67, 3), 30 * k, np.uint8) for k in range(6)]
    p = write_mp4(tmp_path / "v.mp4", zip(imgs, ts), fps=30)
    with av.open(str(p)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and (s.width, s.height) == (66, 48)
        assert s.codec_context.pix_fmt == "yuv420p"
        decoded = [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(s)]
    assert len(decoded) == 6
    times_s = [float(pts * MP4_TIME_BASE) for pts, _ in decoded]
    np.testing.assert_allclose(times_s, [(t - ts[0]) / 1e9 for t in ts], atol=1 / 90000)
    for (pts, img), k in zip(decoded, range(6)):
        assert abs(float(img.mean()) - 30 * k) < 3


def test_segments_join_without_reencoding(tmp_path):
    """Three segments (one after a gap in time) join into one MP4 with every frame at its
    own time, the packets copied as they were encoded."""
    t0 = 5_000_000_000
    stamps = [t0 + round(k * 1e9 / 20) for k in (0, 1, 2, 3, 4, 5, 7, 8)]  # frame 6 missing
    groups = [stamps[:3], stamps[3:5], stamps[5:]]
    segs = []
    for g, ts in enumerate(groups):
        path = tmp_path / f"seg{g}.mp4"
        with Mp4Writer(path, 48, 32, fps=20) as w:
            for t in ts:
                w.write(np.full((32, 48, 3), (t - t0) // 10_000_000, np.uint8), t)
        segs.append((path, ts[0]))
    sizes = {}
    for path, _ in segs:
        with av.open(str(path)) as c:
            sizes[path] = sorted(p.size for p in c.demux(video=0) if p.dts is not None)
    out = concat_mp4(segs, tmp_path / "v" / "cam.mp4", t0)
    with av.open(str(out)) as c:
        packets = sorted(p.size for p in c.demux(video=0) if p.dts is not None)
    assert packets == sorted(x for v in sizes.values() for x in v)  # copied, not re-encoded
    with av.open(str(out)) as c:
        decoded = [(float(f.pts * MP4_TIME_BASE), f.to_ndarray(format="rgb24").mean()) for f in c.decode(video=0)]
    np.testing.assert_allclose([t for t, _ in decoded], [(t - t0) / 1e9 for t in stamps], atol=1 / 90000)
    np.testing.assert_allclose([m for _, m in decoded], [(t - t0) // 10_000_000 for t in stamps], atol=3)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    with pytest.raises(RecordingError):  # overlapping segments
        concat_mp4([segs[1], segs[0]], tmp_path / "bad.mp4", t0)
    assert not (tmp_path / "bad.mp4").exists()


def test_mp4_errors_leave_nothing(tmp_path):
    with pytest.raises(RecordingError, match="increase"):
        with Mp4Writer(tmp_path / "x.mp4", 32, 32) as w:
            w.write(np.zeros((32, 32, 3), np.uint8), 10)
            w.write(np.zeros((32, 32, 3), np.uint8), 10)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RecordingError, match="no frames"):
        write_mp4(tmp_path / "y.mp4", [])


def test_mpeg4_fallback_when_no_h264(tmp_path, monkeypatch, caplog):
    """A PyAV build without an H.264 encoder still writes a playable MP4 (MPEG-4 part 2)."""
    import orscene.recording.writers as w

    monkeypatch.setattr(w, "h264_encoder", lambda: None)
    ts = [round(k * 1e9 / 15) for k in range(4)]
    p = write_mp4(tmp_path / "m.mp4", [(np.full((32, 48, 3), 60 * k, np.uint8), t) for k, t in enumerate(ts)], fps=15)
    assert any("mpeg4" in r.message for r in caplog.records)
    with av.open(str(p)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "mpeg4"
        frames = list(c.decode(s))
    assert len(frames) == 4
    np.testing.assert_allclose([float(f.pts * f.time_base) for f in frames], [t / 1e9 for t in ts], atol=1e-4)


def test_written_files_get_normal_permissions(tmp_path):
    """Atomic writes go through private temporary files; the result has the permissions of
    a plainly created file (0666 minus the process umask), not 0600."""
    from orscene.recording import session

    session.atomic_write_bytes(tmp_path / "a.json", b"{}")
    p = write_mp4(tmp_path / "v.mp4", [(np.zeros((16, 16, 3), np.uint8), 0)], fps=10)
    joined = concat_mp4([(p, 0)], tmp_path / "j.mp4", 0)
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert plain.stat().st_mode & 0o777 == 0o666 & ~session._UMASK
    for f in (tmp_path / "a.json", p, joined):
        assert f.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777, f


def test_mp4_keeps_colours_of_a_real_photo(tmp_path, shared_data):
    """RGB goes to YUV 4:2:0 (BT.601, limited range) and back: a real photo decodes at
    high fidelity, with each channel's mean kept (no swapped channels or range error)."""
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(shared_data / "voc_faces" / "2007_007763.jpg")), cv2.COLOR_BGR2RGB)
    p = write_mp4(tmp_path / "photo.mp4", [(rgb, 0), (rgb, 100_000_000)], fps=10)
    with av.open(str(p)) as c:
        out = next(iter(c.decode(video=0))).to_ndarray(format="rgb24")
    h, w = out.shape[:2]
    ref = rgb[:h, :w]
    assert cv2.PSNR(ref, out) > 35
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), ref.reshape(-1, 3).mean(0), atol=2.0)
    pure = np.zeros((32, 48, 3), np.uint8)
    pure[:, :16, 0], pure[:, 16:32, 1], pure[:, 32:, 2] = 255, 255, 255
    p = write_mp4(tmp_path / "rgb.mp4", [(pure, 0)], fps=10)
    with av.open(str(p)) as c:
        out = next(iter(c.decode(video=0))).to_ndarray(format="rgb24").astype(int)
    for k, cols in enumerate((slice(2, 14), slice(18, 30), slice(34, 46))):
        patch = out[4:28, cols].reshape(-1, 3).mean(0)
        assert patch[k] > 240 and np.delete(patch, k).max() < 15, (k, patch)
