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
    img[..., 0] = 10 * frame + cam
    img[..., 1] = np.arange(w, dtype=np.uint8)[None, :]
    img[..., 2] = 200
    return img


def make_folder_session(root: Path, name: str = "T1", cam1_missing: tuple[int, ...] = (3,)) -> Path:
    """cam0: RGB-D, colour 64x48, depth sensor 40x30 at 1.5 m (uint16 mm), 6 frames at 30 fps;
    cam1: RGB 48x32, frames 0..5 except ``cam1_missing``, 2 ms late."""
    s = root / name
    period = 1e9 / 30
    c0 = Camera("cam0", intr(64, 48, 60.0), np.eye(4), intr(40, 30, 40.0), np.eye(4))
    pose1 = np.eye(4)
    pose1[0, 3] = 1.0
    c1 = Camera("cam1", intr(48, 32, 40.0), pose1)
    for k in range(6):
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
        "frame,timestamp_ns\n" + "".join(f"{k},{round(k * period)}\n" for k in range(6))
    )
    (s / "cam1" / "timestamps.csv").write_text(
        "frame,timestamp_ns\n" + "".join(f"{k},{round(k * period) + 2_000_000}\n" for k in range(6) if k not in cam1_missing)
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
