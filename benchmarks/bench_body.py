"""Body fit + head alignment on synthetic sessions, against the exact ground truth.

    python -m benchmarks.bench_body                      # easy, medium, hard (generates them once)
    python -m benchmarks.bench_body --scenarios easy --seconds 2 --fps 5
    python -m benchmarks.bench_body --detector           # 3D keypoints from the bundled 2D detector

For each scenario a synthetic session (``orscene.synth.generate.generate_session``,
1280x720, 4 Kinect-like RGB-D cameras with depth noise) is written once under ``--workdir``
(kept and reused). Per frame-set, every present person's ground-truth COCO-17 joints plus
Gaussian noise (``--noise-mm`` per axis, 10 mm = about 3 px at 3 m) go through
``fit_bodies`` (warm-started from the previous frame), the depth maps through
``fuse_point_cloud`` (only near the fitted heads), and the fits through ``align_heads``.
With ``--detector`` the 3D keypoints come from the bundled BlazePose in every view fused by
``orscene.pose.fuse_poses`` instead; each candidate gets the id of the nearest ground-truth
person (i.e. perfect tracking), persons the detector misses are not counted.

Reported: face-centre error (mm) and face-orientation error (deg) of ``world_from_head``
against the ground truth, keypoints-only vs after alignment (the final output: aligned where
accepted, keypoint-only otherwise), the head-status counts, and times per person per frame
(fit, alignment) and per frame-set (fusion). The first frame of each track (cold start with
shape estimation) and the shape refit are timed separately from the warm frames.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from orscene.body import BodyModelConfig, FitConfig, fit_bodies, load_body_model
from orscene.geometry import PointFusionConfig, fuse_point_cloud
from orscene.recording import open_session
from orscene.registration import AlignConfig, align_heads
from orscene.types import HeadStatus, PersonPose

log = logging.getLogger("bench_body")


def rotation_deg(A: np.ndarray, B: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(A[:3, :3].T @ B[:3, :3]) - 1) / 2, -1, 1))))


def ensure_session(workdir: Path, scenario: str, seconds: float, fps: float, seed: int) -> Path:
    from orscene.synth.generate import SynthConfig, generate_session
    from orscene.synth.scene import Scenario

    name = f"bench_body_{scenario}_{seconds:g}s_{fps:g}fps_s{seed}"
    path = workdir / name
    if (path / "annotations" / "groundtruth.npz").is_file():
        return path
    log.info("generating %s (once)", name)
    return generate_session(SynthConfig(session=name, recordings=workdir, scenario=Scenario(scenario),
                                        seconds=seconds, fps=fps, seed=seed, force=True))  # fmt: skip


def detector_poses(detector, fs, cameras, gt, t: int) -> list[PersonPose]:
    """3D skeletons from the bundled 2D detector (BlazePose) fused by ``orscene.pose``; each
    candidate takes the id of the nearest ground-truth person (perfect tracking), or none."""
    from orscene.pose import FusionConfig as PoseFusionConfig
    from orscene.pose import detect_keypoints, fuse_poses

    kps = {n: detect_keypoints(detector, v) for n, v in fs.views.items()}
    cands = fuse_poses(kps, cameras, fs, PoseFusionConfig())
    present = np.nonzero(gt.present[t])[0]
    poses, used = [], set()
    for c in sorted(cands, key=lambda c: -c.score):
        ok = c.confidence > 0
        if ok.sum() < 4 or not present.size:
            continue
        d = [np.linalg.norm(c.joints_world_m[ok] - gt.joints_world_m[t, p][ok], axis=1).mean() for p in present]
        p = int(present[int(np.argmin(d))])
        if min(d) < 0.3 and p not in used:
            used.add(p)
            poses.append(PersonPose(int(gt.person_ids[p]), c.joints_world_m.astype(np.float32), c.confidence.astype(np.float32)))
    return poses


def run_scenario(path: Path, model, args, rng: np.random.Generator, detector=None) -> dict:
    from orscene.synth.groundtruth import load_groundtruth

    gt = load_groundtruth(path)
    reader = open_session(path)
    cameras = reader.rig  # the session's cameras with their lens tables
    fcfg, acfg = FitConfig(), AlignConfig()
    fusion_cfg = PointFusionConfig()
    rows = []  # (kp_mm, kp_deg, final_mm, final_deg, status)
    t_fit_warm, t_fit_cold, t_align, t_fuse, n_warm, n_cold, n_align = 0.0, 0.0, 0.0, 0.0, 0, 0, 0
    state = None
    seen: set[int] = set()
    for fs in reader.framesets(0, min(reader.n_framesets, gt.n_frames)):
        t = fs.index
        poses = []
        if detector is not None:
            poses = detector_poses(detector, fs, cameras, gt, t)
        else:
            for p in np.nonzero(gt.present[t])[0]:
                x = gt.joints_world_m[t, p] + rng.normal(0, args.noise_mm / 1000, (17, 3))
                poses.append(PersonPose(int(gt.person_ids[p]), x.astype(np.float32), np.ones(17, np.float32)))
        if not poses:
            continue
        t0 = time.perf_counter()
        fits, state = fit_bodies(model, poses, fcfg, state)
        dt = time.perf_counter() - t0
        new = sum(p.track_id not in seen for p in poses)
        refit = sum(1 for p in poses if state.tracks[p.track_id].frames_seen == fcfg.shape_frames)
        if new or refit:
            t_fit_cold += dt
            n_cold += len(poses)
        else:
            t_fit_warm += dt
            n_warm += len(poses)
        seen.update(p.track_id for p in poses)
        heads = np.stack([f.world_from_head[:3, 3] for f in fits])
        t0 = time.perf_counter()
        cloud = fuse_point_cloud(fs, cameras, fusion_cfg, keep_near=heads)
        t_fuse += time.perf_counter() - t0
        t0 = time.perf_counter()
        aligned = align_heads(fits, cloud, cameras, acfg)
        t_align += time.perf_counter() - t0
        n_align += len(fits)
        for f0, f1 in zip(fits, aligned):
            p = gt.person_index(f0.track_id)
            g = gt.world_from_head[t, p]
            rows.append((
                1000 * np.linalg.norm(f0.world_from_head[:3, 3] - g[:3, 3]), rotation_deg(f0.world_from_head, g),
                1000 * np.linalg.norm(f1.world_from_head[:3, 3] - g[:3, 3]), rotation_deg(f1.world_from_head, g),
                f1.head_status, gt.roles[p],
            ))  # fmt: skip
    a = np.array([r[:4] for r in rows], dtype=np.float64)
    status = [r[4] for r in rows]
    staff = np.array([r[5] != "patient" for r in rows])
    for who, m in (("staff", staff), ("patient", ~staff)):
        if m.any():
            log.info("  %s (%d): face-centre %.1f -> %.1f mm, orientation %.1f -> %.1f deg, status %s", who, int(m.sum()),
                     np.median(a[m, 0]), np.median(a[m, 2]), np.median(a[m, 1]), np.median(a[m, 3]),
                     {s.value: sum(1 for k, st in enumerate(status) if m[k] and st is s) for s in HeadStatus})  # fmt: skip
    return {
        "n": len(rows),
        "kp_mm": np.median(a[:, 0]), "kp_deg": np.median(a[:, 1]),
        "final_mm": np.median(a[:, 2]), "final_deg": np.median(a[:, 3]),
        "kp_mm_p90": np.percentile(a[:, 0], 90), "final_mm_p90": np.percentile(a[:, 2], 90),
        "aligned_mm": np.median(a[[s is HeadStatus.ALIGNED for s in status], 2]) if HeadStatus.ALIGNED in status else float("nan"),
        "status": {s.value: status.count(s) for s in HeadStatus},
        "fit_warm_ms": 1000 * t_fit_warm / max(n_warm, 1), "fit_cold_ms": 1000 * t_fit_cold / max(n_cold, 1),
        "align_ms": 1000 * t_align / max(n_align, 1), "fuse_ms": 1000 * t_fuse / max(reader.n_framesets, 1),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise-mm", type=float, default=10.0, help="std of the Gaussian noise per axis on the GT joints")
    ap.add_argument("--workdir", type=Path, default=Path("outputs/bench_body"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--detector", action="store_true", help="3D keypoints from the bundled 2D detector instead of noisy GT")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    model = load_body_model(BodyModelConfig())
    rng = np.random.default_rng(args.seed)
    detector = None
    if args.detector:
        from orscene.pose import load_keypoint_detector

        detector = load_keypoint_detector()
        print(f"keypoints: bundled 2D detector (BlazePose) + orscene.pose fusion; torch threads {args.threads}")
    else:
        print(f"noisy GT keypoints: sigma {args.noise_mm:g} mm per axis; torch threads {args.threads}")
    print(f"{'scenario':8s} {'n':>4s} | {'face-centre mm (median, p90)':>28s} | {'orientation deg':>16s} | "
          f"{'aligned/kp-only/rejected':>24s} | fit warm / cold ms per person | align ms per person | fusion ms per frame")  # fmt: skip
    for sc in args.scenarios:
        path = ensure_session(args.workdir, sc, args.seconds, args.fps, args.seed)
        r = run_scenario(path, model, args, rng, detector)
        st = r["status"]
        print(f"{sc:8s} {r['n']:4d} | kp {r['kp_mm']:5.1f} ({r['kp_mm_p90']:5.1f}) -> {r['final_mm']:5.1f} ({r['final_mm_p90']:5.1f}) | "
              f"{r['kp_deg']:5.1f} -> {r['final_deg']:5.1f} | "
              f"{st['aligned']:4d} / {st['keypoints_only']:4d} / {st['rejected']:4d}      | "
              f"{r['fit_warm_ms']:6.1f} / {r['fit_cold_ms']:7.1f} | {r['align_ms']:6.1f} | {r['fuse_ms']:6.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
