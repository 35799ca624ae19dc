"""The realism gap of ``cli.py synth``: the same detectors on synthetic and real images.

    python -m benchmarks.bench_realism [--seeds 3] [--out-dir DIR]

* **Faces**: CenterFace and BlazeFace (default thresholds, one pass at native input) recall
  per face-height bin (16-24, 24-32, 32-48, 48-96 px). Every face, real or synthetic, goes
  through one protocol: the image is downscaled (``INTER_AREA``) so that the face's box is
  ``h`` pixels high, ``h`` at 1/4 and 3/4 of each bin, and a 320x320 window centred on the
  face (mid-grey beyond the image) is given to the detector; a face is found when a detection
  overlaps its box with IoU >= 0.3. Real: ``voc_faces`` (training + testing) and Panoptic
  ``faces_gt.json`` (faces not flagged partial/hard); a real face smaller than a bin's
  height is skipped there (never upscaled). Synthetic: sessions of the easy and medium
  scenarios with the patient's face uncovered, a few instants per seed; each face seen at
  >= 85 % visibility by a camera is rendered again through a narrow pinhole camera at the
  same position (face ~200 px high), downscaled as above, then finished like a session's
  colour image (``generate.finish_rgb``: sensor noise, JPEG at the session quality). Bare
  faces (no mask) are compared with the real ones; masked faces are listed for reference
  (they should stay hard, as real masked faces are).
* **Depth**: share of invalid pixels inside the NFOV hexagon, and the temporal-free noise
  estimate (the robust std of the difference between a pixel and the plane fitted to its
  5x5 neighbourhood, on smooth surfaces), in the depth ranges 0.5-1.5, 1.5-2.5, 2.5-3.5 m,
  on the real Azure Kinect recording and on the depth images of a synthetic session.

Quality figures only (no timings). Real data from ``$ORSCENE_SHARED_DATA`` or
``../shared/data``.
"""

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

BINS_PX = ((16, 24), (24, 32), (32, 48), (48, 96))
WINDOW_PX = 320
IOU_HIT = 0.3


def _data_root() -> Path:
    return Path(os.environ.get("ORSCENE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def face_window(rgb: np.ndarray, box, height_px: float) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
    """Downscale ``rgb`` so that ``box`` is ``height_px`` high and cut the 320x320 window
    centred on it; returns the window and the box in it (None when that would upscale)."""
    h = box[3] - box[1]
    s = height_px / h
    if s > 1.0 + 1e-9:
        return None
    H, W = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, round(W * s)), max(1, round(H * s))), interpolation=cv2.INTER_AREA)
    sx, sy = small.shape[1] / W, small.shape[0] / H
    b = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    cx, cy = 0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])
    x0, y0 = int(round(cx - WINDOW_PX / 2)), int(round(cy - WINDOW_PX / 2))
    win = np.full((WINDOW_PX, WINDOW_PX, 3), 128, np.uint8)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(small.shape[1], x0 + WINDOW_PX), min(small.shape[0], y0 + WINDOW_PX)
    win[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = small[sy0:sy1, sx0:sx1]
    return win, (b[0] - x0, b[1] - y0, b[2] - x0, b[3] - y0)


def _heights(lo: float, hi: float) -> tuple[float, float]:
    return (lo + 0.25 * (hi - lo), lo + 0.75 * (hi - lo))


def score_faces(detectors: dict, samples, finish=None) -> dict:
    """``samples``: iterable of (rgb, box). Returns {detector: {bin: [hits, n]}}."""
    out = {k: {b: [0, 0] for b in BINS_PX} for k in detectors}
    rng = np.random.default_rng(0)
    for rgb, box in samples:
        for b in BINS_PX:
            for h in _heights(*b):
                w = face_window(rgb, box, h)
                if w is None:
                    continue
                win, wb = w
                if finish is not None:
                    win = finish(win, rng)
                for name, det in detectors.items():
                    from orscene.anonymize2d.detectors import detect_faces

                    hit = any(_iou(d.box_xyxy_px, wb) >= IOU_HIT for d in detect_faces(det, win))
                    out[name][b][0] += int(hit)
                    out[name][b][1] += 1
    return out


def real_face_samples(data: Path):
    """(rgb, box) of the real faces: voc_faces and the Panoptic faces that are not partial."""
    import json

    from orscene.evaluate.run import _read_rgb, load_annotations

    for xml in ("training.xml", "testing.xml"):
        ann, files = load_annotations(data / "voc_faces" / xml)
        for (f, c), path in sorted(files.items()):
            rgb = _read_rgb(path)
            for fb in ann.faces:
                if fb.frame == f and fb.camera == c and not fb.ignore:
                    yield rgb, fb.box_xyxy_px
    d = json.loads((data / "panoptic" / "faces_gt.json").read_text())
    cache = {}
    for fc in d["faces"]:
        if fc.get("partial") or fc.get("hard"):
            continue
        p = data / "panoptic" / fc["file"]
        if p not in cache:
            cache.clear()
            cache[p] = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        x0, y0, x1, y1 = fc["box"]
        yield cache[p], (x0 - 0.5, y0 - 0.5, x1 + 0.5, y1 + 0.5)


def synth_face_samples(seeds, masked: bool, body=None, times_s=(0.5, 2.5, 4.5)):
    """(rgb, box) of synthetic faces rendered close up (see the module docstring)."""
    from orscene.synth.generate import SynthConfig, make_world, session_world
    from orscene.synth.people import Role
    from orscene.synth.scene import Scenario

    face_closeups = _face_closeups()
    for seed in seeds:
        for scen in ("easy", "medium"):
            cfg = SynthConfig(session="bench", scenario=Scenario(scen), seconds=max(times_s) + 1, seed=int(seed), patient_face_covered=False)
            world = session_world(cfg, body)
            body = world.body
            # everyone bare-faced or everyone masked (the patient never has a mask)
            people = tuple(
                p if p.role is Role.PATIENT else dataclasses.replace(p, outfit=dataclasses.replace(
                    p.outfit, mask=(p.outfit.mask or (0.55, 0.75, 0.88)) if masked else None))
                for p in world.spec.people
            )  # fmt: skip
            world.renderer.release()
            world = make_world(dataclasses.replace(world.spec, people=people), world.cameras, body, cfg.backend)
            for t in times_s:
                for fc in face_closeups(world, t):
                    if masked and world.spec.people[fc.person_id].role is Role.PATIENT:
                        continue
                    yield fc.rgb, fc.box_xyxy_px
            world.renderer.release()


def _face_closeups():
    """``orscene.synth.closeup.face_closeups``. On a tree that lacks that module (the
    'before' run: ``PYTHONPATH`` at an older checkout), this checkout's file is loaded
    against that tree's ``orscene``, so that both runs render their close-ups the same way."""
    try:
        from orscene.synth.closeup import face_closeups
    except ImportError:
        import importlib.util

        path = Path(__file__).resolve().parents[1] / "orscene" / "synth" / "closeup.py"
        spec = importlib.util.spec_from_file_location("_bench_realism_closeup", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        face_closeups = module.face_closeups
    return face_closeups


DEPTH_RANGES_M = ((0.5, 1.5), (1.5, 2.5), (2.5, 4.0))
"""Distance bins (metres) of the depth statistics."""


def depth_stats(depth_mm_frames, hexagon: np.ndarray) -> dict:
    """Per range: share of invalid pixels (inside the hexagon, where the neighbourhood's
    median says a surface lies in range) and the local plane-residual noise (mm)."""
    inv = {r: [0, 0] for r in DEPTH_RANGES_M}
    res = {r: [] for r in DEPTH_RANGES_M}
    for d in depth_mm_frames:
        z = d.astype(np.float32)
        valid = z > 0
        # coarse surface depth: median of the valid values around (holes filled by the median)
        zf = cv2.medianBlur(np.where(valid, z, 0).astype(np.uint16), 5).astype(np.float32)
        big = cv2.dilate(zf, np.ones((9, 9), np.uint8))
        ref = np.where(zf > 0, zf, big) / 1000.0
        # residual from the 5x5 local plane = z - box-filtered z (exact for a plane), on smooth valid patches
        k = (5, 5)
        w = cv2.boxFilter(valid.astype(np.float32), -1, k, normalize=True)
        m = cv2.boxFilter(z * valid, -1, k, normalize=True) / np.maximum(w, 1e-6)
        ok_full = (w > 0.999) & valid
        lo = cv2.erode(np.where(valid, z, 1e6).astype(np.float32), np.ones(k, np.uint8))
        hi = cv2.dilate(np.where(valid, z, 0).astype(np.float32), np.ones(k, np.uint8))
        for r in DEPTH_RANGES_M:
            inr = hexagon & (ref >= r[0]) & (ref < r[1])
            inv[r][0] += int(np.count_nonzero(inr & ~valid))
            inv[r][1] += int(np.count_nonzero(inr))
            smooth = ok_full & inr & ((hi - lo) < 0.02 * ref * 1000 + 10)
            res[r].append((z - m)[smooth])
    out = {}
    for r in DEPTH_RANGES_M:
        rr = np.concatenate(res[r]) if res[r] else np.zeros(0)
        if rr.size > 200:
            # std of the residuals without outliers (beyond 4 robust sigmas, at least 3 mm);
            # a box-filter residual of iid noise has std sigma * sqrt(1 - 1/25)
            mad = float(np.median(np.abs(rr - np.median(rr)))) * 1.4826
            core = rr[np.abs(rr - np.median(rr)) <= max(4 * mad, 3.0)]
            sd = float(np.std(core)) / np.sqrt(1 - 1 / 25)
        else:
            sd = float("nan")
        out[r] = (inv[r][0] / inv[r][1] if inv[r][1] > 500 else float("nan"), sd, rr.size)
    return out


def real_depth(data: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Depth frames of the real recording (the project's reader) and their valid region:
    the hexagon where the device measures, i.e. the closed hull of its valid pixels."""
    from orscene.recording.mkv import MkvReader

    frames = [f.depth_mm for f in MkvReader(data / "azure_kinect" / "recording.mkv").frames() if f.depth_mm is not None]
    valid = np.any([f > 0 for f in frames], axis=0).astype(np.uint8)
    region = cv2.morphologyEx(valid, cv2.MORPH_CLOSE, np.ones((25, 25), np.uint8)).astype(bool)
    return frames, region


def synth_depth(session: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Depth frames of a synthetic session (every camera) and the model's NFOV hexagon."""
    from orscene.synth.depth_model import nfov_valid_mask

    files = sorted(session.glob("cam*/depth/*.png"))
    frames = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in files]
    return frames, nfov_valid_mask(frames[0].shape[1], frames[0].shape[0])


def print_depth(rows: dict) -> None:
    print("| depth | " + " | ".join(f"invalid {a}-{b} m" for a, b in DEPTH_RANGES_M) + " | " + " | ".join(f"noise {a}-{b} m" for a, b in DEPTH_RANGES_M) + " |")
    print("|---|" + "---|" * (2 * len(DEPTH_RANGES_M)))
    for name, st in rows.items():
        inv = [f"{st[r][0]:.3f}" if np.isfinite(st[r][0]) else "-" for r in DEPTH_RANGES_M]
        noise = [f"{st[r][1]:.2f} mm" if np.isfinite(st[r][1]) else "-" for r in DEPTH_RANGES_M]
        print(f"| {name} | " + " | ".join(inv + noise) + " |")


def crops(out_png: Path, body=None) -> None:
    """The same faces and person, before/after material for ``docs/``: three bare synthetic
    faces of seed 0 (easy) at ~96 px and ~32 px, and person 0 of a hard session
    (seed 3, t = 0.5 s) as camera cam1 sees it at 1280x720, side by side."""
    from orscene.synth.generate import SynthConfig, _finish_rgb, render_frame, session_world
    from orscene.synth.scene import Scenario

    tiles = []
    rng = np.random.default_rng(0)
    # the same three faces before and after: the close-ups of (camera, person) pairs seen in
    # seed 0's easy scene at t = 0.5 s (bare faces, patient uncovered), in a fixed order
    face_closeups = _face_closeups()
    from orscene.synth.generate import make_world
    from orscene.synth.people import Role

    world = session_world(SynthConfig(session="crops", scenario=Scenario.EASY, seconds=1.0, seed=0, patient_face_covered=False), body)
    body = world.body
    people = tuple(p if p.role is Role.PATIENT else dataclasses.replace(p, outfit=dataclasses.replace(p.outfit, mask=None)) for p in world.spec.people)
    world.renderer.release()
    world = make_world(dataclasses.replace(world.spec, people=people), world.cameras, body)
    chosen = {(fc.camera, fc.person_id): fc for fc in face_closeups(world, 0.5)}
    world.renderer.release()
    for key in [k for k in (("cam1", 2), ("cam2", 1), ("cam3", 4)) if k in chosen]:
        fc = chosen[key]
        for h in (96, 32):
            win, b = face_window(fc.rgb, fc.box_xyxy_px, h)
            win = _finish_rgb(win, rng)
            c = win[WINDOW_PX // 2 - 96:WINDOW_PX // 2 + 96, WINDOW_PX // 2 - 96:WINDOW_PX // 2 + 96]
            tiles.append(cv2.resize(c, (192, 192), interpolation=cv2.INTER_NEAREST))
    cfg = SynthConfig(session="crops", scenario=Scenario.HARD, seconds=1.0, seed=3)
    world = session_world(cfg, body)
    fr = render_frame(world, 0.5, with_depth=False)
    ro = fr.color["cam1"]
    rgb = _finish_rgb(ro.rgb, rng)
    rows, cols = np.nonzero(ro.ids[..., 0] == 1)
    world.renderer.release()
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    side = max(y1 - y0, x1 - x0) + 20
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    person = rgb[max(0, cy - side // 2):cy + side // 2, max(0, cx - side // 2):cx + side // 2]
    person = cv2.resize(person, (384, 384), interpolation=cv2.INTER_AREA)
    faces = np.concatenate([np.concatenate(tiles[i:i + 2], 0) for i in range(0, len(tiles), 2)], 1)
    sheet = np.concatenate([faces, person], 1)
    cv2.imwrite(str(out_png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2, help="synthetic seeds per scenario")
    ap.add_argument("--only", choices=("faces", "depth", "all"), default="all")
    ap.add_argument("--crops", type=Path, default=None, help="only write the before/after crop sheet to this PNG")
    ap.add_argument("--depth-session", type=Path, default=None,
                    help="synthetic session whose depth to measure (default: generate a 2-s hard session, seed 3)")  # fmt: skip
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = _data_root()
    if args.crops is not None:
        crops(args.crops)
        return
    if args.only in ("depth", "all"):
        session = args.depth_session
        if session is None:
            import tempfile

            from orscene.synth.generate import SynthConfig, generate_session
            from orscene.synth.scene import Scenario

            root = Path(tempfile.mkdtemp(prefix="bench_realism-"))
            session = generate_session(SynthConfig(session="depth", recordings=root, scenario=Scenario.HARD, seconds=2.0, fps=2.0, seed=3))
        rf, rh = real_depth(data)
        sf, sh = synth_depth(session)
        print_depth({"real (azure_kinect/recording.mkv)": depth_stats(rf, rh), f"synthetic ({session.name})": depth_stats(sf, sh)})
    if args.only in ("faces", "all"):
        from orscene.anonymize2d import FaceDetectorConfig, FaceDetectorKind, load_face_detector
        from orscene.synth.generate import SynthConfig, _finish_rgb

        quality = getattr(SynthConfig, "__dataclass_fields__")["jpeg_quality"].default

        def finish(win, rng):
            ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(_finish_rgb(win, rng), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
            return cv2.cvtColor(cv2.imdecode(jpg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

        dets = {k.value: load_face_detector(FaceDetectorConfig(name=k)) for k in FaceDetectorKind}
        try:
            from orscene.synth.people import load_people_rig
        except ImportError:  # the 'before' run on an older tree
            from orscene.synth.people import load_body_model as load_people_rig

        body = load_people_rig()
        rows = {
            "real": score_faces(dets, real_face_samples(data)),
            "synthetic bare": score_faces(dets, synth_face_samples(range(args.seeds), False, body), finish),
            "synthetic masked": score_faces(dets, synth_face_samples(range(args.seeds), True, body), finish),
        }
        print("| detector | faces | " + " | ".join(f"{a}-{b} px" for a, b in BINS_PX) + " |")
        print("|---|---|" + "---|" * len(BINS_PX))
        for det in dets:
            for name, r in rows.items():
                cells = [f"{r[det][b][0] / r[det][b][1]:.2f} ({r[det][b][1]})" if r[det][b][1] else "-" for b in BINS_PX]
                print(f"| {det} | {name} | " + " | ".join(cells) + " |")
            gap = [rows["synthetic bare"][det][b][0] / max(rows["synthetic bare"][det][b][1], 1) - rows["real"][det][b][0] / max(rows["real"][det][b][1], 1) for b in BINS_PX]
            print(f"| {det} | gap (bare - real) | " + " | ".join(f"{g:+.2f}" for g in gap) + " |")


if __name__ == "__main__":
    main()
