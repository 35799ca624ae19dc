"""The public Python API (orscene/api.py): its docstring examples run as doctests on a
tiny synthetic session; ``import orscene`` stays light; the console script and --version."""

import doctest
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import orscene

REPO = Path(__file__).resolve().parents[1]


def test_import_orscene_is_light():
    code = "import sys, orscene; orscene.__version__; print(sorted(m for m in ('torch', 'numpy', 'cv2', 'orscene.api') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert sorted(orscene.__all__) == ["__version__", "evaluate", "open_session", "process"]
    with pytest.raises(AttributeError):
        orscene.no_such_function  # noqa: B018


@pytest.mark.slow
def test_api_docstring_examples_run(tmp_path):
    from orscene import api
    from orscene.synth.generate import Scenario, SynthConfig, generate_session

    session = generate_session(SynthConfig(session="DOC", recordings=tmp_path / "rec", scenario=Scenario.EASY, seconds=0.4, fps=5, seed=1, cameras=2, width=320, height=180))
    globs = {"session_path": session, "out_path": tmp_path / "out", "json": json}
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    ran = []
    for name in ("open_session", "process", "evaluate"):  # in this order: evaluate reads process's output
        for test in finder.find(getattr(api, name), f"orscene.{name}", globs=dict(globs)):
            runner.run(test)
            ran.append((name, len(test.examples)))
    assert [n for n, k in ran if k >= 3] == ["open_session", "process", "evaluate"]
    assert runner.summarize(verbose=False).failed == 0


def test_evaluate_is_callable_whether_or_not_its_stage_package_was_imported():
    code = (
        "import orscene\n"
        "a = callable(orscene.evaluate)\n"
        "import orscene.evaluate.metrics\n"
        "from orscene.evaluate import EvaluateConfig\n"
        "print(a, callable(orscene.evaluate), callable(orscene.process), callable(orscene.open_session))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "True True True True", out.stderr[-1000:]


def test_version_and_console_script():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, func = scripts["orscene"].split(":")
    assert module == "orscene.cli" and callable(getattr(__import__(module, fromlist=[func]), func))
    for cmd in ([sys.executable, "cli.py", "--version"], [sys.executable, "-m", "orscene.cli", "--version"]):
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.strip() == f"orscene {orscene.__version__}"
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert orscene.__version__ == version
