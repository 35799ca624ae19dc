"""End-to-end benchmark: synth + process + evaluate, per scenario, against the 2D baselines.

    python -m benchmarks.bench_pipeline --workers 2          # 3 scenarios x 10 s, writes benchmarks/results.md
    python -m benchmarks.bench_pipeline --seconds 2 --scenarios hard --write ''   # a quick look
    python -m benchmarks.bench_pipeline --scenarios easy --seconds 60 --workers 2 --no-baselines --write ''
                                                               # memory over a longer session
    python -m benchmarks.bench_pipeline --scenarios hard --workers 2 --no-baselines --write '' --executor ray
                                                               # the Ray executor (a local Ray, or --ray-address)

For each scenario a session is generated with a fixed seed (cached under
``benchmarks/.cache/recordings``), processed by ``cli.py process`` in a child process, and
scored by ``cli.py evaluate``: recall, holistic recall, precision, leak rate, SSIM, for
orscene and for CenterFace and BlazeFace applied per image. Throughput is frame-sets per
second of the whole command (start-up, model loading and the MP4s included); memory is the
peak of the summed resident memory of the command's process tree (workers included),
sampled every 0.2 s, and the peak of its largest single process.
"""

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
SEEDS = {"easy": 1, "medium": 2, "hard": 3}


def _run(cmd: list[str]) -> tuple[float, float, float]:
    """Run a command; return (wall seconds, peak summed RSS of its process tree in MB, peak
    RSS of its largest process in MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO)
    peak_total, peak_one = 0, 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_total, peak_one
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root] + root.children(recursive=True)
                rss = []
                for p in procs:
                    try:
                        rss.append(p.memory_info().rss)
                    except psutil.Error:
                        pass
                peak_total, peak_one = max(peak_total, sum(rss)), max(peak_one, max(rss, default=0))
            except psutil.Error:
                pass
            done.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    rc = proc.wait()
    done.set()
    th.join()
    if rc != 0:
        raise subprocess.CalledProcessError(rc, cmd)
    return time.perf_counter() - t0, peak_total / 2**20, peak_one / 2**20


def bench_scenario(scenario: str, seconds: float, fps: float, workers: int, baselines: bool = True, executor: tuple[str, ...] = ()) -> dict:
    """``executor``: extra ``cli.py process`` options (``--executor ray``, ``--ray-address``)."""
    rec = CACHE / "recordings"
    name = f"BENCH_{scenario}_{int(seconds)}s"
    py = sys.executable
    if not (rec / name / "session.yaml").exists():
        subprocess.run(
            [py, "cli.py", "synth", "--session", name, "--recordings", str(rec), "--scenario", scenario, "--seconds", str(seconds), "--fps", str(fps), "--seed", str(SEEDS[scenario])],
            cwd=REPO, check=True,
        )
    out = CACHE / "outputs" / name
    wall, peak_mb, peak_one_mb = _run([py, "cli.py", "process", "--session", name, "--recordings", str(rec), "--out", str(out), "--force", "--workers", str(workers), *executor])
    summary = json.loads((out / "summary.json").read_text())
    result_path = CACHE / f"{name}.eval.json"
    subprocess.run(
        [py, "cli.py", "evaluate", "--session", name, "--recordings", str(rec), "--predictions", str(out), "--json", str(result_path)]
        + ([] if baselines else ["--baselines"]),
        cwd=REPO, check=True,
    )
    ev = json.loads(result_path.read_text())
    return {
        "scenario": scenario, "summary": summary, "eval": ev, "process_wall_s": wall, "peak_rss_mb": peak_mb, "peak_rss_largest_mb": peak_one_mb,
        "fps_command": summary["framesets"] / wall,
    }


def _fmt(x, digits=3):
    return "n/a" if x is None else f"{x:.{digits}f}"


def results_table(rows: list[dict]) -> str:
    lines = [
        "| scenario | method | recall | holistic recall | precision | leak rate | frame-sets with a leak | SSIM | frame-sets/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ev = r["eval"]
        fps = r["fps_command"]
        lines.append(
            f"| {r['scenario']} | orscene | {_fmt(ev.get('recall'))} | {_fmt(ev.get('holistic_recall'))} | {_fmt(ev.get('precision'))} | "
            f"{_fmt(ev.get('leak_rate'))} | {ev.get('framesets_with_leak', 'n/a')} | {_fmt(ev.get('ssim'))} | {_fmt(fps, 2)} |"
        )
        for name, b in sorted(ev.get("baselines", {}).items()):
            lines.append(
                f"| {r['scenario']} | {name} | {_fmt(b.get('recall'))} | {_fmt(b.get('holistic_recall'))} | {_fmt(b.get('precision'))} | "
                f"{_fmt(b.get('leak_rate'))} | {b.get('framesets_with_leak', 'n/a')} | {_fmt(b.get('ssim'))} | {_fmt(b.get('framesets_per_s'), 2)} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--executor", choices=["local", "ray"], default="local", help="where chunks run (ray: the optional extra; with no --ray-address a Ray on this machine, started by the command and timed with it)")
    ap.add_argument("--ray-address", default=None, help="with --executor ray: 'auto' or HOST:PORT of a running cluster (its workers' memory is then not measured)")
    ap.add_argument("--no-baselines", action="store_true", help="score orscene only (faster)")
    ap.add_argument("--write", type=str, default=str(REPO / "benchmarks" / "results.md"), help="results file ('' = none)")
    args = ap.parse_args(argv)
    executor = ("--executor", args.executor) + (("--ray-address", args.ray_address) if args.ray_address else ())
    rows = [bench_scenario(s, args.seconds, args.fps, args.workers, not args.no_baselines, executor) for s in args.scenarios]
    table = results_table(rows)
    print(table)
    for r in rows:
        print(
            f"{r['scenario']}: {r['summary']['framesets']} frame-sets, process {r['process_wall_s']:.1f} s wall ({r['fps_command']:.2f} frame-sets/s), "
            f"peak RSS {r['peak_rss_mb']:.0f} MB in all ({r['peak_rss_largest_mb']:.0f} MB largest process), CPU s per stage {r['summary'].get('stage_s')}, "
            f"share by path {r['summary'].get('share_by_path')}"
        )
    if args.write:
        stats = [
            f"- {r['scenario']}: {r['summary']['framesets']} frame-sets in {r['process_wall_s']:.1f} s; peak memory {r['peak_rss_mb']:.0f} MB "
            f"(all processes), {r['peak_rss_largest_mb']:.0f} MB (largest); faces by path {r['summary'].get('share_by_path')}; "
            f"CPU seconds per stage {r['summary'].get('stage_s')}"
            for r in rows
        ]
        body = [
            "# orscene benchmark results",
            "",
            f"Generated by `python -m benchmarks.bench_pipeline --seconds {args.seconds:g} --fps {args.fps:g} --workers {args.workers}"
            f"{' --executor ' + args.executor if args.executor != 'local' else ''}` "
            f"on {time.strftime('%Y-%m-%d')} (2 CPU cores, no GPU). Synthetic sessions, fixed seeds {SEEDS}; "
            "IoU threshold 0.4; a leak is an annotated face less than 90 % covered by the anonymization mask.",
            "",
            table,
            "",
            "orscene's frame-sets/s is the whole `cli.py process` command (start-up, model loading, MP4s); a baseline's is its detector alone.",
            "",
            *stats,
            "",
        ]
        # other benchmarks' sections ("## ..." headings, e.g. bench_realism's) are kept
        out = Path(args.write)
        old = out.read_text() if out.is_file() else ""
        kept = old[old.index("\n## "):] if "\n## " in old else ""
        out.write_text("\n".join(body) + kept)
    return 0


if __name__ == "__main__":
    sys.exit(main())
