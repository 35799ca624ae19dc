"""The fault matrix on a small synthetic session: what ``cli.py process`` does with each
fault of :mod:`benchmarks.fault_cases`.

    python -m benchmarks.bench_faults [--cases jpeg_truncated,fps_nan] [--session DIR] [--write]

Generates a 3-frame-set, 2-camera session (320x180, ``synth --scenario easy --seconds 0.6
--fps 5 --seed 5``) unless ``--session`` names one, runs the fault-free baseline and every
case, and prints per case: exit code, error line, files written, inputs changed (must be
none), raw faces left (ground-truth face crops of the written images and MP4 frames that
still match the original; must be no more than the baseline's) and whether the case met
its expectation. ``--write`` puts the table into ``benchmarks/results.md`` (its own
section, replaced on each run).
"""

import argparse
import tempfile
from pathlib import Path

from benchmarks.fault_cases import CASES, check, run_case

RESULTS = Path(__file__).resolve().parent / "results.md"
WORKERS_NOTE = (
    "Not in this matrix: issue 16's item 5 (workers outliving a parent killed with SIGKILL) needs a run killed "
    "midway and its worker processes watched; tests/faults/test_io_safety.py::test_workers_die_when_the_parent_is_killed covers it."
)
SECTION = "## Fault matrix (`python -m benchmarks.bench_faults`)"


def _session(work: Path) -> Path:
    from orscene.synth.generate import Scenario, SynthConfig, generate_session

    return generate_session(
        SynthConfig(session="FAULTS", recordings=work / "pristine", scenario=Scenario.EASY, seconds=0.6, fps=5, seed=5, cameras=2, width=320, height=180)
    )


def _cell(text: str, limit: int = 120) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--session", type=Path, default=None, help="a folder session to damage copies of (default: generate one)")
    ap.add_argument("--write", action="store_true", help="put the table into benchmarks/results.md")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.cases or c.name in args.cases.split(",")]
    with tempfile.TemporaryDirectory(prefix="orscene-faults-") as tmp:
        work = Path(tmp)
        pristine = args.session if args.session is not None else _session(work)
        base = run_case(None, pristine, work)
        n_raw = len(base.raw_faces)
        rows = [("(no fault)", str(base.exit_code), "", str(len(base.written)), str(len(base.inputs_changed)), str(n_raw), "baseline")]
        print(f"baseline: exit {base.exit_code}, {len(base.written)} files written, {n_raw} raw faces", flush=True)
        failures = skipped = 0
        for case in cases:
            r = run_case(case, pristine, work)
            if r.skipped:
                skipped += 1
                rows.append((case.name, "", f"skipped: {r.skipped}", "", "", "", "skipped"))
                print(f"{case.name}: skipped: {r.skipped}", flush=True)
                continue
            problems = check(case, r, base)
            failures += bool(problems)
            views = ", ".join(f"{c}#{f} {v['status']}" for (c, f), v in sorted(r.audit_views.items()))
            if case.expect == "error" or r.exit_code != 0:
                what = r.error_line
            else:
                what = f"{views or 'no view obscured/withheld'}: {next(iter(r.audit_views.values()), {}).get('reason', '')}"
            if r.rerun is not None:
                what += f"; re-run: exit {r.rerun.exit_code}, {len(r.rerun.written)} files, {len(r.rerun.raw_faces)} raw faces"
            if r.reference_raw_faces is not None:
                what += f" (every stage on every frame-set: {len(r.reference_raw_faces)} raw faces)"
            what = what.replace(str(work / case.name / "rec" / pristine.name), "<session>")  # the copy's folder
            what = what.replace(str(work / case.name / "out"), "<out>").replace(str(work / case.name), "<case>")
            verdict = "ok" if not problems else "FAIL: " + "; ".join(problems)
            rows.append((case.name, str(r.exit_code), what, str(len(r.written)), str(len(r.inputs_changed)), str(len(r.raw_faces)), verdict))
            print(f"{case.name}: exit {r.exit_code} | {what} | {len(r.written)} written | {len(r.inputs_changed)} inputs changed | "
                  f"{len(r.raw_faces)} raw faces | {verdict}", flush=True)  # fmt: skip
    table = ["| fault | exit | error line / failed views | files written | inputs changed | raw faces | verdict |", "|---|---|---|---|---|---|---|"]
    table += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    print("\n".join(table))
    print(f"{len(cases) - failures - skipped} of {len(cases)} cases as expected, {skipped} skipped")
    print(WORKERS_NOTE)
    if args.write:
        _write(table, n_raw)


def _write(table: list[str], n_raw: int) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else ""
    body = (
        f"{SECTION}\n\n"
        "Each fault injected into a copy of a 3-frame-set, 2-camera synthetic session (320x180, easy, seed 5); "
        "a one-view fault at cam0, frame-set 1. Raw faces: ground-truth face crops of the written images and MP4 "
        f"frames that still match the original (the fault-free run leaves {n_raw}: at this size the pipeline "
        "finds no one in 3D, so this counts the 2D path's misses, not the faults'). Cases of the output side "
        "(items 3, 6, 7, 8) damage the output folder or the options instead of the session; read-only and full "
        "disks are tmpfs mounts (skipped when not root). \"ok\" cases (items 1, 2) must leave no face raw that the "
        "fault-free run (or, for the time gap, the same session with every stage on every frame-set) covers; "
        "on this session, where nobody is found in 3D, they pass on the code before issue 16 too (regression guards only: "
        "tests/pipeline/test_time_gaps.py, test_depth_evidence.py and tests/render/test_render_faces.py are the tests that failed before).\n\n"
        + "\n".join(table) + "\n\n" + WORKERS_NOTE + "\n"
    )
    if SECTION in text:
        head, rest = text.split(SECTION, 1)
        nxt = rest.find("\n## ")
        text = head + body + (rest[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
