"""A damaged anny cache file gives one line naming the file (main: anny's traceback)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orscene.body.anny_cache import anny_cache_dir, check_anny_cache_buildable, check_anny_cache_files
from orscene.errors import ModelFileError

ROOT = Path(__file__).resolve().parents[2]


def _compact_file() -> Path:
    found = sorted(anny_cache_dir().glob("v*/build_compact_model_data_*.safetensors"))
    if not found:
        pytest.skip("the anny cache is not built (python -m orscene.body.anny_cache --ensure)")
    return found[0]


def _damaged_cache(tmp_path: Path, keep_bytes: int | None, garbage: bytes = b"") -> Path:
    """An ``ORSCENE_CACHE`` whose compact model file is the real one cut to ``keep_bytes``
    (or ``garbage``); returns the damaged file."""
    real = _compact_file()
    bad = tmp_path / "cache" / "anny" / real.parent.name / real.name
    bad.parent.mkdir(parents=True)
    with open(real, "rb") as src:
        bad.write_bytes(src.read(keep_bytes) if keep_bytes is not None else garbage)
    return bad


@pytest.mark.parametrize(
    "keep_bytes, garbage",
    [(1_000_000, b""), (100, b""), (None, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"), (None, b"")],
    ids=["truncated-data", "truncated-header", "corrupt-header", "empty"],
)
def test_damaged_cache_file_is_named_in_one_line(tmp_path, monkeypatch, keep_bytes, garbage):
    bad = _damaged_cache(tmp_path, keep_bytes, garbage)
    monkeypatch.setenv("ORSCENE_CACHE", str(tmp_path / "cache"))
    size = bad.stat().st_size
    for check in (check_anny_cache_files, check_anny_cache_buildable):  # the latter: process's pre-check
        with pytest.raises(ModelFileError) as err:
            check()
        msg = str(err.value)
        assert "\n" not in msg and str(bad) in msg and "truncated or corrupt" in msg and "--ensure" in msg
    from orscene.body import BodyModelConfig, load_body_model

    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_body_model(BodyModelConfig(device="cpu"))
    assert bad.stat().st_size == size  # the file is left as it was


def test_intact_cache_passes():
    _compact_file()
    check_anny_cache_files()


def test_synth_cli_with_a_truncated_cache(tmp_path):
    """``cli.py synth`` loads anny through ``orscene.body``: one line, non-zero exit, no session."""
    bad = _damaged_cache(tmp_path, 4096)
    env = {**os.environ, "ORSCENE_CACHE": str(tmp_path / "cache")}
    rec = tmp_path / "rec"
    done = subprocess.run(
        [sys.executable, "cli.py", "synth", "--session", "S", "--recordings", str(rec), "--seconds", "0.2", "--fps", "5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode != 0
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and "truncated or corrupt" in lines[0], done.stderr
    assert not (rec / "S").exists()
