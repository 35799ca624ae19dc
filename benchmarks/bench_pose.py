"""Multi-view 3D pose: accuracy, identities and speed on synthetic sessions.

    python -m benchmarks.bench_pose                          # 3 scenarios x 10 s (generated if missing)
    python -m benchmarks.bench_pose --scenarios medium --no-detector   # ground-truth keypoints only
    python -m benchmarks.bench_pose --recordings /tmp/rec --detector-every 5
    python -m benchmarks.bench_pose --speed-only             # fusion + tracking time, 6 people, 4 views

For each scenario a session is generated once (``orscene.synth``, fixed seed) and cached
under ``--recordings`` (default ``outputs/bench_pose/recordings``). Two conditions:

- **gt**: the session's ground-truth 2D keypoints (COCO flags 1 and 2) with Gaussian noise
  (``--noise-px``, default 3) and dropout (``--dropout``, default 10 %), seeded;
- **detector**: the bundled multi-person BlazePose on the rendered images (every
  ``--detector-every``-th frame-set; tracking then runs on that sub-sequence).

Each condition: fusion (``fuse_poses``, with the views' depth) per frame-set, then
``track`` over the whole session. Reported per scenario and condition (tracked poses vs
the ground-truth 3D joints; people "findable" = present with >= 6 keypoints inside the
image in >= 2 views): MPJPE (mm, matched people), PCP (8 limbs, alpha 0.5), share of people
found, false people per frame-set, identity switches, MPJPE over the joints inside >= 2
images only (a joint seen by one camera can only be guessed), and CPU/wall time per frame-set of
2D detection, fusion and tracking. CPU time is ``time.process_time`` (this process only):
on a machine shared with other jobs it is the fairer figure; wall time is also given.
"""

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from orscene.pose import (
    FusionConfig,
    GTNoiseConfig,
    KeypointDetectorConfig,
    TrackingConfig,
    detect_keypoints,
    fuse_poses,
    load_keypoint_detector,
    perturb_keypoints,
    poses_at,
    track,
)
from orscene.geometry import CameraRig
from orscene.recording.reader import open_session
from orscene.types import COCO17

log = logging.getLogger("bench_pose")

LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16))
MATCH_M = 0.5  # a prediction farther than this (MPJPE) from every GT person is a false person


def ensure_session(recordings: Path, name: str, scenario: str, seconds: float, fps: float, seed: int) -> Path:
    path = recordings / name
    if (path / "annotations" / "groundtruth.npz").is_file():
        return path
    from orscene.synth.generate import Scenario, SynthConfig, generate_session

    log.info("generating %s (%s, %.0f s at %.0f fps): several minutes", name, scenario, seconds, fps)
    return generate_session(SynthConfig(session=name, recordings=recordings, scenario=Scenario[scenario.upper()], seconds=seconds, fps=fps, seed=seed))


def evaluate(pred_per_frame: dict[int, list], gt, frames: list[int]) -> dict:
    """pred_per_frame: frame -> [(track_id, joints (17, 3))]."""
    errs, joint_errs, vis_errs, limbs_ok, limbs_all = [], [], [], 0, 0
    n_findable = n_found = n_false = 0
    ids_of: dict[int, list[int]] = {}
    for f in frames:
        fi = int(np.nonzero(gt.frames == f)[0][0])
        inside = (gt.keypoint_visibility[fi] >= 1).sum(-1)  # (C, P)
        findable = [p for p in range(gt.n_persons) if gt.present[fi, p] and (inside[:, p] >= 6).sum() >= 2]
        preds = pred_per_frame.get(f, [])
        n_findable += len(findable)
        if not preds:
            continue
        cost = np.array([[np.linalg.norm(j - gt.joints_world_m[fi, p], axis=-1).mean() for _, j in preds] for p in findable]).reshape(len(findable), len(preds))
        rows, cols = linear_sum_assignment(np.where(cost < MATCH_M, cost, 1e3)) if cost.size else ([], [])
        matched_pred = set()
        for r, c in zip(rows, cols):
            if cost[r, c] >= MATCH_M:
                continue
            p = findable[r]
            tid, j = preds[c]
            matched_pred.add(c)
            n_found += 1
            g = gt.joints_world_m[fi, p]
            errs.append(cost[r, c])
            joint_errs.append(np.linalg.norm(j - g, axis=-1))
            two_views = (gt.keypoint_visibility[fi, :, p] >= 1).sum(0) >= 2  # (17,) triangulable
            vis_errs.extend(joint_errs[-1][two_views].tolist())
            for a, b in LIMBS:
                limbs_all += 1
                limbs_ok += (np.linalg.norm(j[a] - g[a]) + np.linalg.norm(j[b] - g[b])) / 2 <= 0.5 * np.linalg.norm(g[a] - g[b])
            ids_of.setdefault(p, []).append(tid)
        n_false += len(preds) - len(matched_pred)
    switches = sum(int(np.sum(np.diff(v) != 0)) for v in ids_of.values())
    return {
        "mpjpe_mm": round(float(np.mean(errs)) * 1000, 1) if errs else None,
        "mpjpe_2view_joints_mm": round(float(np.mean(vis_errs)) * 1000, 1) if vis_errs else None,
        "pcp": round(limbs_ok / max(limbs_all, 1), 3),
        "found": round(n_found / max(n_findable, 1), 3),
        "false_per_frame": round(n_false / max(len(frames), 1), 3),
        "id_switches": switches,
        "people_findable": n_findable,
        "median_joint_error_mm": dict(zip(COCO17, (np.round(np.median(joint_errs, axis=0) * 1000).astype(int).tolist() if joint_errs else []))),
    }


def run_condition(reader, gt, frames: list[int], cond: str, args, detector=None) -> dict:
    cams = reader.rig  # the session's cameras with their lens tables and the fusion's root grid
    fcfg = FusionConfig(device=args.device)
    tcfg = TrackingConfig()
    rng = np.random.default_rng(args.seed)
    noise = GTNoiseConfig(noise_px=args.noise_px, dropout=args.dropout)
    cand_per_frame, t_det, t_fuse, w_det, w_fuse = [], [], [], [], []
    wanted = set(frames)
    for fs in reader.framesets(frames[0], frames[-1] + 1):
        if fs.index not in wanted:
            continue
        fi = int(np.nonzero(gt.frames == fs.index)[0][0])
        c0, w0 = time.process_time(), time.perf_counter()
        if cond == "gt":
            kps = {}
            for n in fs.views:
                ci = gt.camera_index(n)
                kps[n] = perturb_keypoints(cams[n], gt.keypoints_px[fi, ci], gt.keypoint_visibility[fi, ci], noise, rng)
        else:
            kps = {n: detect_keypoints(detector, v) for n, v in fs.views.items()}
        c1, w1 = time.process_time(), time.perf_counter()
        cands = fuse_poses(kps, cams, fs, fcfg)
        c2, w2 = time.process_time(), time.perf_counter()
        t_det.append(c1 - c0), w_det.append(w1 - w0), t_fuse.append(c2 - c1), w_fuse.append(w2 - w1)
        cand_per_frame.append(cands)
    c0, w0 = time.process_time(), time.perf_counter()
    tracks = track(cand_per_frame, frames, tcfg)
    t_track, w_track = (time.process_time() - c0) / len(frames), (time.perf_counter() - w0) / len(frames)
    tracked = {f: [(p.track_id, p.joints_world_m) for p in poses_at(tracks, f, tcfg)] for f in frames}
    raw = {f: [(-1, c.joints_world_m) for c in cs] for f, cs in zip(frames, cand_per_frame)}
    res = {"tracked": evaluate(tracked, gt, frames), "per_frame": evaluate(raw, gt, frames)}
    res["per_frame"].pop("id_switches")
    ms = lambda v: round(1000 * float(np.mean(v)), 1)  # noqa: E731
    res["ms_per_frameset"] = {
        "detect2d_cpu": ms(t_det) if cond != "gt" else None,
        "detect2d_wall": ms(w_det) if cond != "gt" else None,
        "fusion_cpu": ms(t_fuse),
        "fusion_wall": ms(w_fuse),
        "tracking_cpu": round(1000 * t_track, 2),
        "tracking_wall": round(1000 * w_track, 2),
    }
    res["frames"] = len(frames)
    res["people_per_frame"] = round(float(np.mean([len(c) for c in cand_per_frame])), 2)
    res["tracks"] = len(tracks)
    return res


def speed(n_people: int = 6, n_cam: int = 4, n_frames: int = 30, seed: int = 0, device: str = "cpu") -> dict:
    """Fusion + tracking time for ``n_people`` walking people seen by ``n_cam`` 1280x720
    cameras (projected ground truth, 3 px noise, 10 % dropout; no images needed)."""
    from orscene.pose.skeletons import ring_cameras, walking_skeletons
    from orscene.pose import simulate_keypoints

    rng = np.random.default_rng(seed)
    cams = CameraRig(ring_cameras(n_cam, size_wh=(1280, 720), f_px=610.0))
    sk = walking_skeletons(n_people, n_frames, 15.0, rng)
    kps = [simulate_keypoints(cams, s, GTNoiseConfig(noise_px=3.0, dropout=0.1), rng) for s in sk]
    cfg = FusionConfig(device=device)
    fuse_poses(kps[0], cams, None, cfg)  # builds the root-grid projection (kept by the rig)
    c0, w0 = time.process_time(), time.perf_counter()
    cands = [fuse_poses(k, cams, None, cfg) for k in kps]
    c1, w1 = time.process_time(), time.perf_counter()
    tracks = track(cands, range(n_frames), TrackingConfig())
    c2, w2 = time.process_time(), time.perf_counter()
    err = [np.linalg.norm(t.joints_world_m - sk[t.frame_indices, int(np.argmin([np.linalg.norm(t.joints_world_m[0] - sk[t.frame_indices[0], p], axis=-1).mean() for p in range(n_people)]))], axis=-1).mean() for t in tracks]
    return {
        "people": n_people, "cameras": n_cam, "frames": n_frames, "tracks": len(tracks),
        "tracked_mpjpe_mm": round(float(np.mean(err)) * 1000, 1) if err else None,
        "fusion_cpu_ms": round((c1 - c0) / n_frames * 1000, 1), "fusion_wall_ms": round((w1 - w0) / n_frames * 1000, 1),
        "tracking_cpu_ms": round((c2 - c1) / n_frames * 1000, 2), "tracking_wall_ms": round((w2 - w1) / n_frames * 1000, 2),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recordings", type=Path, default=Path("outputs/bench_pose/recordings"))
    ap.add_argument("--prefix", default="pose_", help="session names are <prefix><scenario>")
    ap.add_argument("--scenarios", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise-px", type=float, default=3.0)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--detector", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--detector-every", type=int, default=1, help="run the detector on every n-th frame-set")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=Path("outputs/bench_pose/results.json"))
    ap.add_argument("--speed-only", action="store_true", help="only the 6-people 4-view timing (no sessions)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # as fuse_poses did for itself before: small tensors, one thread
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sp = speed(device=args.device)
    log.info("speed: %s", json.dumps(sp))
    if args.speed_only:
        print(json.dumps({"speed": sp}, indent=1))  # noqa: T201
        return 0
    from orscene.synth.groundtruth import load_groundtruth

    detector = load_keypoint_detector(KeypointDetectorConfig()) if args.detector else None
    results = {"speed": sp}
    for sc in args.scenarios:
        path = ensure_session(args.recordings, f"{args.prefix}{sc}", sc, args.seconds, args.fps, args.seed)
        reader = open_session(path)
        gt = load_groundtruth(path / "annotations" / "groundtruth.npz")
        frames = [int(f) for f in gt.frames]
        results[sc] = {"gt": run_condition(reader, gt, frames, "gt", args)}
        log.info("%s gt: %s", sc, json.dumps(results[sc]["gt"]))
        if detector is not None:
            sub = frames[:: args.detector_every]
            results[sc]["detector"] = run_condition(reader, gt, sub, "detector", args, detector)
            log.info("%s detector: %s", sc, json.dumps(results[sc]["detector"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))  # noqa: T201 - a benchmark script reports on stdout
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
