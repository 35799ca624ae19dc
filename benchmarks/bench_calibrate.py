"""Calibration against real references and synthetic truth.

    python -m benchmarks.bench_calibrate               # all three parts (first run ~1-2 min: detection)
    python -m benchmarks.bench_calibrate --no-synth    # real data only

1. Intrinsics from the 30 real Azure Kinect colour images (4096x3072) of
   ``../shared/data/kinect_charuco/calibration`` vs the reference ``calib.yml`` computed
   from the same images: fx, fy, cx, cy, reprojection RMS. Detections are cached under
   ``outputs/bench_calibrate/charuco`` (keyed by file, size, mtime and detection settings).
2. Colour-from-IR of one real Kinect from one board view (``registration/``) vs the
   factory depth-to-colour extrinsics of another Azure Kinect
   (``../shared/data/azure_kinect/calibration.json``).
3. Synthetic: three Kinect-like cameras (640x480, rational distortion) and a 7x5 board of
   12 cm squares in two placements on the floor, rendered exactly
   (``orscene.synth.board.render_board_views``); recovered camera poses vs truth.
"""

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from orscene.calibrate import (
    WORLD_FROM_BOARD_FRAME,
    DetectConfig,
    CharucoCorners,
    azure_color_from_depth,
    calibrate_intrinsics,
    compare_transforms,
    detect_charuco,
    estimate_board_pose,
    load_board,
    load_opencv_calibration,
    register_cameras,
    reprojection_rms_px,
    register_pair,
    rotation_angle_deg,
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ORSCENE_SHARED_DATA", REPO.parent / "shared" / "data"))
CACHE = REPO / "outputs" / "bench_calibrate" / "charuco"


def detect_cached(path: Path, spec, cfg: DetectConfig) -> CharucoCorners:
    st = path.stat()
    key = hashlib.sha1(json.dumps([str(path.resolve()), st.st_size, st.st_mtime_ns, asdict(cfg), asdict(spec)]).encode()).hexdigest()
    f = CACHE / f"{key}.json"
    if f.exists():
        return CharucoCorners.from_dict(json.loads(f.read_text()))
    det = detect_charuco(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), spec, cfg)
    CACHE.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(det.to_dict()))
    return det


def bench_intrinsics() -> None:
    d = DATA / "kinect_charuco"
    spec = load_board(d / "board.json")
    ref = load_opencv_calibration(d / "calibration" / "calib.yml")
    paths = sorted((d / "calibration").glob("color-*.jpg"), key=lambda p: int(p.stem.split("-")[1]))
    t0 = time.perf_counter()
    dets = [detect_cached(p, spec, DetectConfig()) for p in paths]
    t_det = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = calibrate_intrinsics(dets, spec)
    t_cal = time.perf_counter() - t0
    # the reference's reprojection RMS on our corners (its board poses re-fitted by PnP)
    err2 = []
    for i in res.used_views:
        T, _ = estimate_board_pose(dets[i], spec, ref)
        err2.append(reprojection_rms_px(dets[i], spec, ref, T) ** 2 * len(dets[i]))
    n_corners = sum(len(dets[i]) for i in res.used_views)
    ref_rms = float(np.sqrt(sum(err2) / n_corners))
    K, R = res.intrinsics.K_px, ref.K_px
    print(f"## 1. Intrinsics, {len(res.used_views)}/{len(paths)} real 4096x3072 images, {n_corners} corners")
    print(f"detection {t_det:.1f} s ({'cached' if t_det < 2 else 'uncached'}), calibration {t_cal:.1f} s\n")
    print("| | orscene | reference calib.yml | difference |")
    print("|---|---|---|---|")
    for name, a, b in (("fx", K[0, 0], R[0, 0]), ("fy", K[1, 1], R[1, 1]), ("cx", K[0, 2], R[0, 2]), ("cy", K[1, 2], R[1, 2])):
        print(f"| {name} (px) | {a:.2f} | {b:.2f} | {a - b:+.2f} ({100 * (a - b) / b:+.3f} %) |")
    print(f"| RMS (px) | {res.rms_px:.3f} | {ref_rms:.3f} (on our corners, poses by PnP) | |")
    us, vs = np.meshgrid(np.linspace(800, 3300, 11), np.linspace(600, 2500, 9))
    pts = np.stack([us.ravel(), vs.ravel()], axis=-1)[:, None, :]
    a = cv2.undistortPoints(pts, R, ref.distortion)
    b = cv2.undistortPoints(pts, K, res.intrinsics.distortion)
    print(f"\nmax ray difference over the board-covered image area: {np.max(np.linalg.norm(a - b, axis=-1)) * R[0, 0]:.2f} px")
    print("distortion orscene :", np.array2string(res.intrinsics.distortion, precision=4))
    print("distortion reference:", np.array2string(ref.distortion, precision=4), "\n")


def bench_pairwise() -> None:
    d = DATA / "kinect_charuco"
    spec = load_board(d / "board.json")
    dc = detect_charuco(cv2.imread(str(d / "registration" / "color-0.jpg"))[..., ::-1], spec)
    di = detect_charuco(cv2.imread(str(d / "registration" / "ir-0.png"), cv2.IMREAD_UNCHANGED), spec)
    ic = load_opencv_calibration(d / "registration" / "calib_color.yml")
    ii = load_opencv_calibration(d / "registration" / "calib_ir.yml")
    pnp_c, _ = estimate_board_pose(dc, spec, ic)
    pnp_i, _ = estimate_board_pose(di, spec, ii)
    composed = pnp_c @ np.linalg.inv(pnp_i)
    res = register_pair(dc, ic, di, ii, spec, ("color", "ir"))
    fac = azure_color_from_depth(DATA / "azure_kinect" / "calibration.json")
    print(f"## 2. Colour-from-IR, one real view ({len(dc)} colour / {len(di)} IR corners)\n")
    print("| | t (mm) | baseline (mm) | rotation (deg) | vs factory: dt (mm), dR (deg) | RMS colour / IR (px) |")
    print("|---|---|---|---|---|---|")
    for name, T, rms in (
        ("solvePnP composed", composed, ""),
        ("joint refinement", res.a_from_b, f"{res.rms_a_px:.3f} / {res.rms_b_px:.3f}"),
        ("factory (other device)", fac, ""),
    ):
        dt, dr = compare_transforms(T, fac)
        print(
            f"| {name} | {np.array2string(T[:3, 3] * 1000, precision=2)} | {np.linalg.norm(T[:3, 3]) * 1000:.2f} | "
            f"{rotation_angle_deg(T):.3f} | {dt * 1000:.2f}, {dr:.3f} | {rms} |"
        )
    print()


def bench_synth() -> None:
    from orscene.geometry.camera import look_at_world_from_cam
    from orscene.synth.board import render_board_views
    from orscene.types import Camera, Intrinsics

    tmp = REPO / "outputs" / "bench_calibrate" / "board_7x5_120mm.json"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps({"squares_x": 7, "squares_y": 5, "square_length": 120, "marker_length": 90, "aruco_dict_name": "DICT_4X4_50"}))
    spec = load_board(tmp)
    K = np.array([[520.0, 0.0, 319.3], [0.0, 520.4, 241.3], [0.0, 0.0, 1.0]])
    intr = Intrinsics(K, np.array([0.42, -2.5, 6e-4, -3e-4, 1.45, 0.30, -2.35, 1.38]), 640, 480)
    eyes = {"cam0": (1.4, 0.9, 1.7), "cam1": (-1.3, 1.0, 1.8), "cam2": (0.2, -1.5, 1.9)}
    rig = {n: Camera(n, intr, look_at_world_from_cam(e, (0.1, 0.05, 0.0))) for n, e in eyes.items()}

    def placement(a: float, x: float, y: float) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = np.diag([1.0, -1.0, -1.0]) @ np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        T[:3, 3] = (x, y, 0.005)
        return T

    placements = [placement(0.3, -0.3, 0.25), placement(-0.9, -0.1, -0.2)]
    obs = {}
    t0 = time.perf_counter()
    for k, Tk in enumerate(placements):
        for n, (rgb, _) in render_board_views(rig, tmp, Tk, np.random.default_rng(k)).items():
            obs[(n, k)] = detect_charuco(rgb, spec)
    t_render = time.perf_counter() - t0
    print(f"## 3. Synthetic: 3 cameras 640x480, 2 board placements (render+detect {t_render:.1f} s)\n")
    for label, sub in (("1 placement", {k: v for k, v in obs.items() if k[1] == 0}), ("2 placements", obs)):
        res = register_cameras(sub, {n: c.color for n, c in rig.items()}, spec)
        print(f"{label}:\n\n| camera | corners | RMS (px) | position error (mm) | rotation error (deg) |\n|---|---|---|---|---|")
        for n, cam in rig.items():
            truth = WORLD_FROM_BOARD_FRAME @ np.linalg.inv(placements[0]) @ cam.world_from_cam
            dt, dr = compare_transforms(np.linalg.inv(res.cam_from_world[n]), truth)
            print(f"| {n} | {res.n_corners[n]} | {res.rms_px[n]:.3f} | {dt * 1000:.2f} | {dr:.3f} |")
        print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--no-real", action="store_true")
    args = ap.parse_args(argv)
    if not args.no_real:
        bench_intrinsics()
        bench_pairwise()
    if not args.no_synth:
        bench_synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
