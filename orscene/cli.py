"""orscene command line: ``orscene <command> [options]`` (the console script), or
``python cli.py <command> [options]`` from a checkout (the same commands).

Thin by design: each command is a frozen config dataclass next to the function that does
the work; this file only parses (tyro), calls, and maps errors to exit codes.
"""

import importlib
import logging
import os
import sys

# command -> (module, config class, function, one-line description)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "info": ("orscene.recording.info", "InfoConfig", "run_info", "summarize a session or an Azure Kinect .mkv"),
    "import": ("orscene.recording.importers", "ImportConfig", "run_import", "import a CMU Panoptic folder or MVOR calibration as a session"),
    "synth": ("orscene.synth.generate", "SynthConfig", "run_synth", "generate a synthetic multi-view OR session with ground truth"),
    "process": ("orscene.pipeline.run", "ProcessConfig", "run_process", "anonymize every face in every view of a session"),
    "evaluate": ("orscene.evaluate.run", "EvaluateConfig", "run_evaluate", "score anonymization against face annotations, with 2D baselines"),
    "calibrate": ("orscene.calibrate.run", "CalibrateConfig", "run_calibrate", "register all cameras of a room from a ChArUco board"),
}


def _prog() -> str:
    """How the user called us: ``cli.py`` from a checkout, else the console script's name."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "orscene"
    return "cli.py" if name == "cli.py" else "orscene"


def _usage() -> str:
    prog = _prog()
    lines = [f"usage: {prog} <command> [options]   ({prog} <command> --help for its options; {prog} --version)", "", "commands:"]
    lines += [f"  {name:<10} {desc}" for name, (_, _, _, desc) in COMMANDS.items()]
    lines += ["", "environment: ORSCENE_RECORDINGS (recordings root, default ./recordings), ORSCENE_CACHE (model cache)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from orscene import __version__

        print(f"orscene {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"{_prog()}: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=os.environ.get("ORSCENE_LOG", "INFO").upper(), format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    import tyro

    from orscene.errors import OrsceneError

    module_name, config_name, func_name, desc = COMMANDS[name]
    module = importlib.import_module(module_name)
    config_cls = getattr(module, config_name)
    try:
        # a command may derive its defaults from a file named on the command line (--config)
        default = module.config_defaults(rest) if hasattr(module, "config_defaults") else None
        cfg = tyro.cli(
            config_cls, args=rest, prog=f"{_prog()} {name}", description=desc, default=default,
            config=(tyro.conf.EnumChoicesFromValues,),  # --scenario hard, not HARD
        )
        result = getattr(module, func_name)(cfg)
    except OrsceneError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result) if isinstance(result, int) else 0


def console_main() -> None:
    """The ``orscene`` console script (``[project.scripts]`` in pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
