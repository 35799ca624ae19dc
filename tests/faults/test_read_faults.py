"""The fault matrix (issue 16, items 1-4 and 6-12) end to end through ``cli.py process``:
each case of ``benchmarks/fault_cases.py`` injected into a copy of one tiny synthetic
session (2 cameras, 3 frame-sets, 320x180, generated once for the module), or into its
output folder, options or model cache (items 3, 6, 7, 8's write side). Item 5 (workers
outliving their parent) is in test_io_safety.py.

For every case: the exit code, the one-line error naming the file (no traceback), what
was written (nothing for a refused run; every view, the damaged one obscured or withheld
and named in audit.json, for a bad file), the inputs' sha256 unchanged, and no more
ground-truth faces left raw in the written images and MP4 frames than the fault-free run
leaves (none in the damaged view); for a time gap or a view's implausible depth, no face
raw that the reference run covers; after a refused run, a corrected re-run that succeeds
without ``--force``. Each case runs ``cli.py process`` in a subprocess (a
refused run stops before loading models; a bad-view run is a whole run, ~10-30 s).
"""

import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the fault cases live with the benchmark that prints them
    sys.path.insert(0, str(REPO))

from benchmarks.fault_cases import CASES, check, run_case  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    from orscene.synth.generate import Scenario, SynthConfig, generate_session

    root = tmp_path_factory.mktemp("faults_rec")
    return generate_session(
        SynthConfig(session="FAULTS", recordings=root, scenario=Scenario.EASY, seconds=0.6, fps=5, seed=5, cameras=2, width=320, height=180)
    )


def test_fault_matrix(pristine, tmp_path):
    """Every case, one after the other in this one test: under ``pytest -n 2`` a module's
    tests may land on both workers, and each would generate the session again."""
    base = run_case(None, pristine, tmp_path)
    assert base.exit_code == 0 and not base.inputs_changed and not base.audit_views, base.stderr_lines
    assert "images/cam0/000001.jpg" in base.written and "video/cam0.mp4" in base.written
    problems, skipped = {}, {}
    for case in CASES:
        r = run_case(case, pristine, tmp_path)
        if r.skipped:
            skipped[case.name] = r.skipped
            continue
        bad = check(case, r, base)
        if case.expect in ("view", "ok"):  # every other file written as in the fault-free run
            withheld = {f"images/{c}/{f:06d}.jpg" for c, f in case.views} if case.status == "withheld" else set()
            # the QA report's thumbnails follow its ranking, which a fault rightly changes
            ours, theirs = ({p for p in w if not p.startswith("report/")} for w in (r.written, base.written))
            if ours != theirs - withheld:
                bad.append(f"written {sorted(ours ^ theirs)} differ from the fault-free run")
        elif not r.error_line.startswith("error: "):
            bad.append(f"error line {r.error_line!r}")
        if bad:
            problems[case.name] = bad
    if skipped:
        warnings.warn(f"fault cases not made on this machine: {skipped}", stacklevel=1)
    assert problems == {}
