"""Synthetic session generator: render time per frame-set, and a full 10-second session.

    python -m benchmarks.bench_synth                     # per frame-set timing (hard, 4 cameras, 1280x720)
    python -m benchmarks.bench_synth --frames 5 --scenario medium
    python -m benchmarks.bench_synth --sessions          # + generate 10 s x 15 fps of each scenario (minutes),
                                                         #   total time and face boxes per scenario and camera
    python -m benchmarks.bench_synth --counts            # face boxes per scenario and camera only (no files)
    python -m benchmarks.bench_synth --occlusion         # share of face area hidden by the surgical lights

Per frame-set (4 colour views + 4 depth-sensor views) it times: posing (anny forward for
all people), rendering (GL draw + read-back + lens remap, colour and depth sensor),
annotation (face boxes, 2D keypoints), the depth error model, and JPEG/PNG encoding.
Results go to stdout and ``outputs/bench_synth/results.json``. On a shared CPU the figures
depend on the machine's load: the script prints the 1-minute load average beside them.
"""

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from orscene.recording.faces import load_faces
from orscene.synth.annotate import annotate_faces, annotate_keypoints
from orscene.synth.depth_model import kinect_depth_mm
from orscene.synth.generate import Scenario, SynthConfig, generate_session, render_frame, session_world
from orscene.synth.people import load_people_rig, pose_people

SEEDS = {Scenario.EASY: 1, Scenario.MEDIUM: 2, Scenario.HARD: 3}


def bench_frames(scenario: Scenario, n_frames: int, cameras: int, width: int, height: int, body) -> dict:
    cfg = SynthConfig(session="bench", scenario=scenario, seconds=10.0, fps=15.0, seed=SEEDS[scenario], cameras=cameras,
                      width=width, height=height)  # fmt: skip
    world = session_world(cfg, body)
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {k: [] for k in ("pose", "render", "annotate", "depth_noise", "encode")}
    for i in range(n_frames + 2):  # two warm-up frames (shader compilation, static layers)
        t_s = 3.0 + i / cfg.fps
        t0 = time.perf_counter()
        posed = pose_people(world.body, world.spec.people, t_s, world.spec.duration_s)
        t1 = time.perf_counter()
        fr = render_frame(world, t_s, posed=posed)
        outs = {name: (fr.color[name], fr.depth.get(name)) for name in world.cameras}
        t2 = time.perf_counter()
        for name, cam in world.cameras.items():
            ro = outs[name][0]
            annotate_faces(cam, ro.ids, posed.person_ids, posed.vertices_world_m, posed.world_from_head, world.face_tris)
            annotate_keypoints(cam, ro.ids, ro.z_m, posed.person_ids, posed.joints_world_m)
        t3 = time.perf_counter()
        mms = [kinect_depth_mm(d.z_m, d.albedo, d.ids[..., 3], rng) for _, d in outs.values() if d is not None]
        t4 = time.perf_counter()
        for name in outs:
            cv2.imencode(".jpg", outs[name][0].rgb, [cv2.IMWRITE_JPEG_QUALITY, 90])
        for mm in mms:
            cv2.imencode(".png", mm)
        t5 = time.perf_counter()
        if i >= 2:
            for k, a, b in (("pose", t0, t1), ("render", t1, t2), ("annotate", t2, t3), ("depth_noise", t3, t4), ("encode", t4, t5)):
                times[k].append(b - a)
    world.renderer.release()
    res = {k: float(np.median(v)) for k, v in times.items()}
    res["total"] = float(sum(res.values()))
    res["people"] = int(len(posed.person_ids))
    return res


def bench_sessions(body, root: Path) -> dict:
    out = {}
    for sc in Scenario:
        cfg = SynthConfig(session=f"bench_{sc.value}", recordings=root, scenario=sc, seconds=10.0, fps=15.0, seed=SEEDS[sc], force=True)
        t0 = time.perf_counter()
        path = generate_session(cfg, body=body)
        dt = time.perf_counter() - t0
        faces = load_faces(path / "annotations" / "faces.json")
        per_cam = {}
        for cam in faces.cameras:
            fs = [f for f in faces.faces if f.camera == cam]
            per_cam[cam] = {"boxes": len(fs), "not_ignored": sum(not f.ignore for f in fs),
                            "partly_occluded": sum((not f.ignore) and f.visible_fraction < 0.9 for f in fs)}  # fmt: skip
        out[sc.value] = {"seconds": dt, "frames": len(faces.frames), "cameras": per_cam}
        logging.info("%s: %.0f s, %s", sc.value, dt, per_cam)
    return out


def count_boxes(body, scenarios, seconds: float = 10.0, fps: float = 15.0) -> dict:
    """Face boxes per scenario and camera of the default 10 s sessions, without writing
    them: the same worlds and colour id buffers as ``generate_session`` (boxes identical),
    depth sensors, images and encoding skipped."""
    from orscene.synth.annotate import annotate_faces

    out = {}
    for sc in scenarios:
        cfg = SynthConfig(session=f"bench_{sc.value}", scenario=sc, seconds=seconds, fps=fps, seed=SEEDS[sc])
        world = session_world(cfg, body)
        T = int(round(seconds * fps))
        per_cam = {n: {"boxes": 0, "not_ignored": 0, "partly_occluded": 0} for n in world.cameras}
        t0 = time.perf_counter()
        for i in range(T):
            fr = render_frame(world, i / fps, with_depth=False)
            for name, cam in world.cameras.items():
                ro = fr.color[name]
                boxes, _ = annotate_faces(cam, ro.ids, fr.posed.person_ids, fr.posed.vertices_world_m, fr.posed.world_from_head,
                                          world.face_tris)  # fmt: skip
                per_cam[name]["boxes"] += len(boxes)
                per_cam[name]["not_ignored"] += sum(not b.ignore for b in boxes)
                per_cam[name]["partly_occluded"] += sum((not b.ignore) and b.visible_fraction < 0.9 for b in boxes)
        world.renderer.release()
        out[sc.value] = {"seconds_colour_only": time.perf_counter() - t0, "frames": T, "cameras": per_cam}
        logging.info("%s: %s", sc.value, per_cam)
    return out


def light_occlusion(body, scenario: Scenario, step: int = 10) -> dict:
    """Share of the visible face area that the surgical lights hide, per camera: the same
    session (320x180, every ``step``-th frame) rendered with and without its lights."""
    import dataclasses

    from orscene.synth.annotate import annotate_faces
    from orscene.synth.generate import make_world

    cfg = SynthConfig(session="occ", scenario=scenario, seed=SEEDS[scenario], width=320, height=180)
    with_lights = session_world(cfg, body)
    without = make_world(dataclasses.replace(with_lights.spec, lights=()), with_lights.cameras, body)
    area = {n: [0.0, 0.0] for n in with_lights.cameras}
    for i in range(0, int(round(cfg.seconds * cfg.fps)), step):
        for k, world in enumerate((with_lights, without)):
            fr = render_frame(world, i / cfg.fps, with_depth=False)
            for name, cam in world.cameras.items():
                ro = fr.color[name]
                _, frac = annotate_faces(cam, ro.ids, fr.posed.person_ids, fr.posed.vertices_world_m, fr.posed.world_from_head,
                                         world.face_tris)  # fmt: skip
                area[name][k] += float(frac.sum())
    with_lights.renderer.release()
    without.renderer.release()
    return {n: 1.0 - a / b if b > 0 else 0.0 for n, (a, b) in area.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="hard", choices=[s.value for s in Scenario])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--sessions", action="store_true", help="also generate a 10 s session per scenario")
    ap.add_argument("--counts", nargs="*", choices=[s.value for s in Scenario], default=None,
                    help="only count face boxes of the 10 s sessions of these scenarios (no files written)")
    ap.add_argument("--occlusion", nargs="*", choices=[s.value for s in Scenario], default=None,
                    help="only measure the share of face area hidden by the lights, per camera")
    ap.add_argument("--out", type=Path, default=Path("outputs/bench_synth"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    body = load_people_rig()
    results = {"load_body_model_s": time.perf_counter() - t0, "load_avg_1min": os.getloadavg()[0], "cpu_count": os.cpu_count()}
    if args.occlusion is not None:
        for sc in [Scenario(c) for c in (args.occlusion or [s.value for s in Scenario])]:
            occ = light_occlusion(body, sc)
            print(f"  {sc.value:<7} face area hidden by the lights: " + "  ".join(f"{n}: {v:.0%}" for n, v in occ.items()))
        return
    if args.counts is not None:
        res = count_boxes(body, [Scenario(c) for c in (args.counts or [s.value for s in Scenario])])
        for sc, r in res.items():
            cams = "  ".join(f"{c}: {v['boxes']} ({v['not_ignored']} counted, {v['partly_occluded']} <90% visible)" for c, v in r["cameras"].items())
            print(f"  {sc:<7} boxes per camera  {cams}")
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"counts_{'_'.join(res)}.json").write_text(json.dumps(res, indent=1))
        return
    fr = bench_frames(Scenario(args.scenario), args.frames, args.cameras, args.width, args.height, body)
    results["frame_set"] = fr
    print(f"frame-set ({args.cameras} cameras {args.width}x{args.height} + depth sensors, {fr['people']} people, "
          f"scenario {args.scenario}, median of {args.frames}, load avg {results['load_avg_1min']:.1f} on {os.cpu_count()} CPUs):")  # fmt: skip
    for k in ("pose", "render", "annotate", "depth_noise", "encode", "total"):
        print(f"  {k:<12} {fr[k]:.3f} s")
    if args.sessions:
        with tempfile.TemporaryDirectory() as tmp:
            results["sessions"] = bench_sessions(body, Path(tmp))
        print("10 s x 15 fps sessions (4 cameras 1280x720):")
        for sc, r in results["sessions"].items():
            cams = "  ".join(f"{c}: {v['boxes']} ({v['not_ignored']} counted, {v['partly_occluded']} <90% visible)" for c, v in r["cameras"].items())
            print(f"  {sc:<7} {r['seconds']:.0f} s total  boxes per camera  {cams}")
    results["load_avg_1min_end"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
