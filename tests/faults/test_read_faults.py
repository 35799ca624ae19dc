"""The read-side fault matrix (issue 16, items 4 and 8-12) end to end through ``cli.py
process``: each case of ``benchmarks/fault_cases.py`` injected into a copy of one tiny
synthetic session (2 cameras, 3 frame-sets, 320x180, generated once for the module).

For every case: the exit code, the one-line error naming the file (no traceback), what
was written (nothing for a refused run; every view, the damaged one obscured or withheld
and named in audit.json, for a bad file), the inputs' sha256 unchanged, and no more
ground-truth faces left raw in the written images and MP4 frames than the fault-free run
leaves (none in the damaged view).
"""

import sys
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


@pytest.fixture(scope="module")
def baseline(pristine, tmp_path_factory):
    r = run_case(None, pristine, tmp_path_factory.mktemp("faults_base"))
    assert r.exit_code == 0 and not r.inputs_changed and not r.audit_views, r.stderr_lines
    assert "images/cam0/000001.jpg" in r.written and "video/cam0.mp4" in r.written
    return r


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault(case, pristine, baseline, tmp_path):
    r = run_case(case, pristine, tmp_path)
    assert check(case, r, len(baseline.raw_faces)) == []
    if case.expect == "view":  # every other view written as in the fault-free run
        assert set(r.written) == set(baseline.written) - ({f"images/{c}/{f:06d}.jpg" for c, f in case.views} if case.status == "withheld" else set())
    else:
        assert r.written == [] and r.error_line.startswith("error: ")
