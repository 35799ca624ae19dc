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
    write_mp4,
    write_mp4_from_images,
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


def test_mp4_from_images_with_a_withheld_view(tmp_path, rng):
    paths = []
    for i in range(4):
        p = image_path(tmp_path / "imgs", i, "png")
        if i != 2:
            write_image(p, np.full((32, 48, 3), 200, np.uint8))
        paths.append((p, i * 50_000_000))
    out = write_mp4_from_images(tmp_path / "out" / "cam.mp4", paths, fps=20)
    with av.open(str(out)) as c:
        means = [f.to_ndarray(format="rgb24").mean() for f in c.decode(video=0)]
    assert len(means) == 4 and means[2] < 5 and min(means[0], means[1], means[3]) > 190


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
