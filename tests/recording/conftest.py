"""A tiny two-camera image-folder session (RGB-D + RGB) written into tmp_path."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from orscene.recording.session import Calibration, calibration_to_dict
from orscene.types import Camera, Intrinsics


def intr(w: int, h: int, f: float) -> Intrinsics:
    return Intrinsics(np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]]), None, w, h)


def frame_color(cam: int, frame: int, w: int, h: int) -> np.ndarray:
    """A colour image that tells which camera and frame it is (exact in PNG)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (10 * frame + cam) % 256
    img[..., 1] = np.arange(w, dtype=np.uint8)[None, :]
    img[..., 2] = 200
    return img


def make_folder_session(root: Path, name: str = "T1", cam1_missing: tuple[int, ...] = (3,), n_frames: int = 6) -> Path:
    """cam0: RGB-D, colour 64x48, depth sensor 40x30 at 1.5 m (uint16 mm), ``n_frames`` frames
    at 30 fps; cam1: RGB 48x32, the same frames except ``cam1_missing``, 2 ms late."""
    s = root / name
    period = 1e9 / 30
    c0 = Camera("cam0", intr(64, 48, 60.0), np.eye(4), intr(40, 30, 40.0), np.eye(4))
    pose1 = np.eye(4)
    pose1[0, 3] = 1.0
    c1 = Camera("cam1", intr(48, 32, 40.0), pose1)
    for k in range(n_frames):
        p = s / "cam0" / "color" / f"{k:06d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), frame_color(0, k, 64, 48)[:, :, ::-1])
        d = s / "cam0" / "depth" / f"{k:06d}.png"
        d.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d), np.full((30, 40), 1500 + k, np.uint16))
        if k not in cam1_missing:
            p = s / "cam1" / "color" / f"{k:06d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), frame_color(1, k, 48, 32)[:, :, ::-1])
    (s / "cam0" / "timestamps.csv").write_text(
        "frame,timestamp_ns\n" + "".join(f"{k},{round(k * period)}\n" for k in range(n_frames))
    )
    (s / "cam1" / "timestamps.csv").write_text(
        "frame,timestamp_ns\n" + "".join(f"{k},{round(k * period) + 2_000_000}\n" for k in range(n_frames) if k not in cam1_missing)
    )
    (s / "calibration.json").write_text(json.dumps(calibration_to_dict(Calibration({"cam0": c0, "cam1": c1}))))
    manifest = {
        "format": "orscene-session",
        "version": 1,
        "name": name,
        "fps": 30,
        "cameras": [
            {"name": "cam0", "source": "folder", "path": "cam0"},
            {"name": "cam1", "source": "folder", "path": "cam1"},
        ],
    }
    (s / "session.yaml").write_text(yaml.safe_dump(manifest))
    return s


@pytest.fixture
def folder_session(tmp_path) -> Path:
    return make_folder_session(tmp_path)


@pytest.fixture
def folder_session_factory():
    """The :func:`make_folder_session` helper."""
    return make_folder_session


def make_multi_capture_mkv(src: Path, dst: Path, n: int, period_us: int = 33_333) -> Path:
    """An Azure-Kinect-like .mkv with ``n`` captures, remuxed from the real one-capture
    recording: same tracks (COLOR MJPEG, DEPTH big-endian 16-bit), metadata and
    calibration attachment; capture k has its top-left 40x40 colour block set to 25 k and
    k mm added to every valid depth pixel, so tests can tell the captures apart."""
    import av
    from fractions import Fraction

    with av.open(str(src)) as c:
        color = next(s for s in c.streams if s.metadata.get("title") == "COLOR")
        depth = next(s for s in c.streams if s.metadata.get("title") == "DEPTH")
        att = next(s for s in c.streams if s.type == "attachment")
        packets = {p.stream.index: (bytes(p), p.pts) for p in c.demux([color, depth]) if p.size}
        # matroska holds raw 16-bit video only in VFW mode (k4arecorder writes it the same way)
        out = av.open(str(dst), "w", format="matroska", options={"allow_raw_vfw": "1"})
        oc, od = out.add_stream_from_template(color), out.add_stream_from_template(depth)
        for s, o in ((color, oc), (depth, od)):
            for k, v in s.metadata.items():
                o.metadata[k] = v
        for k, v in c.metadata.items():
            out.metadata[k] = v
        out.add_attachment("calibration.json", "application/octet-stream", bytes(att.data))
        jpg, pts0 = packets[color.index]
        raw, _ = packets[depth.index]
        rgb = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
        d = np.frombuffer(raw, ">u2").reshape(576, 640)
        for k in range(n):
            img = rgb.copy()
            img[:40, :40] = 25 * k
            buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
            dk = np.where(d > 0, d + k, 0).astype(">u2").tobytes()
            for stream, data in ((oc, buf), (od, dk)):
                p = av.Packet(data)
                p.stream = stream
                p.pts = p.dts = pts0 + k * period_us
                p.time_base = Fraction(1, 1_000_000)
                p.is_keyframe = True
                out.mux(p)
        out.close()
    return dst


@pytest.fixture(scope="session")
def multi_mkv(shared_data, tmp_path_factory) -> Path:
    """A read-only 6-capture recording (make copies before damaging it)."""
    return make_multi_capture_mkv(
        shared_data / "azure_kinect" / "recording.mkv", tmp_path_factory.mktemp("mkv") / "multi.mkv", 6
    )


def make_raw_color_mkv(src: Path, dst: Path, fmt: str) -> tuple[Path, np.ndarray]:
    """The real capture with its colour re-stored as raw ``bgra`` or ``nv12`` (the Azure
    Kinect's uncompressed colour formats). Returns (path, the MJPEG frame as RGB)."""
    import av
    from fractions import Fraction

    with av.open(str(src)) as c:
        color = next(s for s in c.streams if s.metadata.get("title") == "COLOR")
        depth = next(s for s in c.streams if s.metadata.get("title") == "DEPTH")
        att = next(s for s in c.streams if s.type == "attachment")
        ci, di = color.index, depth.index
        packets = {p.stream.index: (bytes(p), p.pts) for p in c.demux([color, depth]) if p.size}
        jpg, pts0 = packets[ci]
        bgr = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
        h, w = bgr.shape[:2]
        if fmt == "bgra":
            data = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA).tobytes()
        else:  # NV12: full Y plane, then interleaved U, V at half resolution
            i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
            u = i420[h : h + h // 4].reshape(h // 2, w // 2)
            v = i420[h + h // 4 :].reshape(h // 2, w // 2)
            data = np.concatenate([i420[:h], np.stack([u, v], -1).reshape(h // 2, w)]).tobytes()
        out = av.open(str(dst), "w", format="matroska", options={"allow_raw_vfw": "1"})
        oc = out.add_stream("rawvideo", rate=30)
        oc.width, oc.height, oc.pix_fmt = w, h, fmt
        oc.metadata["title"] = "COLOR"
        od = out.add_stream_from_template(depth)
        od.metadata["title"] = "DEPTH"
        out.add_attachment("calibration.json", "application/octet-stream", bytes(att.data))
        for stream, payload in ((oc, data), (od, packets[di][0])):
            p = av.Packet(payload)
            p.stream = stream
            p.pts = p.dts = pts0
            p.time_base = Fraction(1, 1_000_000)
            p.is_keyframe = True
            out.mux(p)
        out.close()
    return dst, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture
def raw_color_mkv():
    """The :func:`make_raw_color_mkv` helper."""
    return make_raw_color_mkv
