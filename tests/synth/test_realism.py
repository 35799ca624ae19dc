"""Realism of the synthetic faces, measured with the project's real-photo face detectors."""

import dataclasses

import cv2
import numpy as np
import pytest

from orscene.synth.closeup import face_closeups
from orscene.synth.generate import Scenario, SynthConfig, make_world, session_world
from orscene.synth.people import Role


def _world(body, masked: bool):
    cfg = SynthConfig(session="x", scenario=Scenario.EASY, seconds=1.0, seed=0, patient_face_covered=False)
    world = session_world(cfg, body)
    people = tuple(
        p if p.role is Role.PATIENT else dataclasses.replace(p, outfit=dataclasses.replace(p.outfit, mask=(0.55, 0.75, 0.88) if masked else None))
        for p in world.spec.people
    )
    world.renderer.release()
    return make_world(dataclasses.replace(world.spec, people=people), world.cameras, body, cfg.backend)


def _window(rgb, box, h_px, size=320):
    """Downscale so the face is ``h_px`` high; the size x size window centred on it."""
    s = h_px / (box[3] - box[1])
    small = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    b = np.array(box) * s
    cx, cy = int(round((b[0] + b[2]) / 2)), int(round((b[1] + b[3]) / 2))
    pad = cv2.copyMakeBorder(small, size, size, size, size, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    win = pad[cy + size - size // 2:cy + size + size // 2, cx + size - size // 2:cx + size + size // 2]
    return np.ascontiguousarray(win), b - np.array([cx - size // 2, cy - size // 2] * 2)


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / u


@pytest.fixture(scope="module")
def bare_closeups(body):
    world = _world(body, masked=False)
    out = list(face_closeups(world, 0.5))
    world.renderer.release()
    return out


def test_closeup_face_has_structure_and_skin_texture(bare_closeups):
    """Eyes, brows, nostrils and the lip line are dark against the skin; the skin itself is
    textured (not one flat colour); every close-up's box is centred and ~200 px high."""
    assert len(bare_closeups) >= 4
    dark = []
    for fc in bare_closeups:
        x0, y0, x1, y1 = fc.box_xyxy_px
        assert 150 < y1 - y0 < 260 and abs((x0 + x1) / 2 - 320) < 80 and abs((y0 + y1) / 2 - 320) < 80
        face = fc.rgb[int(y0) + 1:int(y1), int(x0) + 1:int(x1)]
        lum = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(np.float32)
        med = float(np.median(lum))
        dark.append(np.mean(lum < 0.5 * med) > 0.01)  # dark facial features (not on a face seen from above)
        hp = lum - cv2.GaussianBlur(lum, (0, 0), 3.0)
        assert float(np.median(np.abs(hp))) > 0.5, fc.person_id  # skin texture at the pore scale
    assert np.mean(dark) >= 0.6, dark


def test_bare_faces_are_found_by_real_face_detectors(bare_closeups):
    """CenterFace and BlazeFace (trained on real photos) find bare synthetic faces of 48 and
    72 px at least as often as they find real faces of that size... within the realism gap
    measured by benchmarks.bench_realism (real voc_faces/Panoptic faces: ~0.9-1.0)."""
    from orscene.anonymize2d import FaceDetectorConfig, FaceDetectorKind, load_face_detector
    from orscene.anonymize2d.detectors import detect_faces

    rate = {}
    for kind in FaceDetectorKind:
        det = load_face_detector(FaceDetectorConfig(name=kind))
        hits = []
        for fc in bare_closeups:
            for h in (48, 72):
                win, box = _window(fc.rgb, fc.box_xyxy_px, h)
                hits.append(any(_iou(d.box_xyxy_px, box) >= 0.3 for d in detect_faces(det, win)))
        rate[kind.value] = float(np.mean(hits))
    print(rate)
    assert rate["centerface"] >= 0.7 and rate["blazeface"] >= 0.6, rate
