"""The command line (orscene/cli.py): short help, --help-all, run options from the YAML
config, quiet third parties unless -v, log lines that stay out of progress bars."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _cli(*args, env=None):
    import os

    return subprocess.run([sys.executable, "cli.py", *args], cwd=REPO, capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_process_help_is_short_and_help_all_has_every_stage_setting():
    short = _cli("process", "--help")
    assert short.returncode == 0
    lines = short.stdout.splitlines()
    assert len(lines) < 80 and all(len(line) <= 100 for line in lines)
    for flag in ("--session", "--out", "--workers", "--format {images,mp4,both}", "--on-error {obscure,withhold}", "--config", "--help-all"):
        assert sum(flag in line for line in lines) >= 1, flag
    assert not any("--pipeline.pose" in line for line in lines)
    full = _cli("process", "--help-all")
    assert full.returncode == 0 and "--pipeline.pose" in full.stdout and len(full.stdout.splitlines()) > 200
    # measurement notes live in benchmarks/results.md, not in the options' docstrings
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", full.stdout).split())  # tyro's boxes and line breaks out
    for note in (r"[Mm]easured (on|about|when|with|at)\b", r"benchmark", r"\d+(\.\d+)? ?x faster", r"\d+(\.\d+)? s against", r"from \d+ to \d+",
                 r"leak rates? \d", r"\d+ ms less", r"beat \d"):  # fmt: skip
        assert not re.search(note, text), (note, re.search(note, text))
    small = _cli("info", "--help")  # a command without stage settings: tyro's own help
    assert small.returncode == 0 and "--mkv" in small.stdout


def test_run_options_from_the_yaml_config(tmp_path):
    import tyro

    from orscene.pipeline.config import OnError, OutputFormat
    from orscene.pipeline.run import ProcessConfig, config_defaults

    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text("run: {workers: 3, format: mp4, on_error: withhold, chunk_size: 20}\nbody: {}\n")
    args = ["--config", str(cfg_file), "--workers", "2"]  # a flag wins over the file
    cfg = tyro.cli(ProcessConfig, args=args, default=config_defaults(args), config=(tyro.conf.EnumChoicesFromValues,))
    assert (cfg.workers, cfg.format, cfg.on_error, cfg.chunk_size) == (2, OutputFormat.MP4, OnError.WITHHOLD, 20)
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: {wokers: 2}\n")
    out = _cli("process", "--config", str(bad))
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1
    assert "unknown option(s) ['wokers']" in out.stderr and str(bad) in out.stderr
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("run: {format: gif}\n")
    out = _cli("process", "--config", str(wrong))
    assert out.returncode != 0 and "run.format" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_print_config_is_what_config_reads(tmp_path):
    """--print-config prints the run options under ``run:`` and the stage settings; fed back
    with --config it gives the same configuration (flags included), printed identically."""
    import yaml

    from orscene.pipeline.run import ProcessConfig

    first = _cli("process", "--print-config", "--workers", "3", "--format", "mp4", "--chunk-size", "20", "--on-error", "withhold",
                 "--pipeline.detector-every", "4", "--pipeline.fusion.voxel-m", "0.01")  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    data = yaml.safe_load(first.stdout)
    assert list(data)[0] == "run" and sorted(data["run"]) == sorted(
        f for f in ProcessConfig.__dataclass_fields__ if f not in ("pipeline", "config", "print_config")
    )
    assert (data["run"]["workers"], data["run"]["format"], data["run"]["chunk_size"], data["run"]["on_error"]) == (3, "mp4", 20, "withhold")
    assert data["detector_every"] == 4 and data["fusion"]["voxel_m"] == 0.01
    cfg_file = tmp_path / "printed.yaml"
    cfg_file.write_text(first.stdout)
    again = _cli("process", "--config", str(cfg_file), "--print-config")
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout == first.stdout
    # and a flag still wins over the printed file
    flag = yaml.safe_load(_cli("process", "--config", str(cfg_file), "--print-config", "--workers", "1").stdout)
    assert flag["run"]["workers"] == 1 and flag["run"]["chunk_size"] == 20


def test_native_stderr_is_quiet_unless_verbose():
    code = (
        "import os, sys\n"
        "from orscene._quiet import native_stderr_quiet\n"
        "with native_stderr_quiet():\n    os.write(2, b'NATIVE BANNER\\n')\n"
        "print('after', file=sys.stderr)\n"
    )
    import os

    quiet = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    loud = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env={**os.environ, "ORSCENE_VERBOSE": "1"})
    assert quiet.stderr == "after\n" and loud.stderr == "NATIVE BANNER\nafter\n"


@pytest.mark.slow
def test_synth_prints_no_third_party_banner(tmp_path):
    args = ("synth", "--session", "Q", "--recordings", str(tmp_path), "--seconds", "0.2", "--fps", "5", "--width", "160", "--height", "96", "--cameras", "1")
    out = _cli(*args)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Warp" not in out.stderr and "anny" not in out.stderr and "XNNPACK" not in out.stderr
    assert "session written to" in out.stderr


def test_log_lines_go_through_tqdm():
    code = (
        "import logging, sys\n"
        "from orscene.cli import _setup_logging\n"
        "import tqdm\n"
        "calls = []\n"
        "tqdm.tqdm.write = classmethod(lambda cls, s, file=None, end='\\n', nolock=False: calls.append(s))\n"
        "_setup_logging(False)\n"
        "logging.getLogger('orscene.x').info('hello')\n"
        "logging.getLogger('anny.models').info('cache line')\n"
        "print(calls)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "['INFO orscene.x: hello']", out.stderr
