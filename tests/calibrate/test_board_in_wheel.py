"""The default ChArUco board ships in the wheel: a wheel built from this checkout holds
``orscene/calibrate/default_board.json``, byte for byte the board of ``calibration/board.json``."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_built_wheel_contains_the_default_board(tmp_path):
    src = tmp_path / "src"  # a copy, so that the build leaves nothing in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "orscene", src / "orscene", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("orscene-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "orscene/calibrate/default_board.json" in names
        assert z.read("orscene/calibrate/default_board.json") == (REPO / "calibration" / "board.json").read_bytes()
        assert "orscene/calibrate/run.py" in names  # which finds it beside itself (default_board_path)
