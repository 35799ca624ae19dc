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
    "import": ("orscene.recording.importers", "ImportConfig", "run_import", "import a CMU Panoptic folder, MVOR, or Azure Kinect .mkv files as a session"),
    "synth": ("orscene.synth.generate", "SynthConfig", "run_synth", "generate a synthetic multi-view OR session with ground truth"),
    "process": ("orscene.pipeline.run", "ProcessConfig", "run_process", "anonymize every face in every view of a session (or of .mkv files: --mkv)"),
    "evaluate": ("orscene.evaluate.run", "EvaluateConfig", "run_evaluate", "score anonymization against face annotations, with 2D baselines"),
    "calibrate": ("orscene.calibrate.run", "CalibrateConfig", "run_calibrate", "register all cameras of a room from a ChArUco board"),
    "report": ("orscene.curate.report", "ReportConfig", "run_report", "write the QA report (report/index.html) of a process output folder"),
    "review": ("orscene.curate.review", "ReviewConfig", "run_review", "fix a missed face in every view at once (--add-face), or accept a flagged frame-set"),
    "release": ("orscene.curate.release", "ReleaseConfig", "run_release", "package an anonymized session: outputs, calibration, COCO/WIDER faces, manifest, datasheet"),
}


def _prog() -> str:
    """How the user called us: ``cli.py`` from a checkout, else the console script's name."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "orscene"
    return "cli.py" if name == "cli.py" else "orscene"


def _usage() -> str:
    prog = _prog()
    lines = [f"usage: {prog} <command> [options]   ({prog} <command> --help for its options; {prog} --version)", "", "commands:"]
    lines += [f"  {name:<10} {desc}" for name, (_, _, _, desc) in COMMANDS.items()]
    lines += ["", "options: -v / --verbose (third-party banners and notices), --version"]
    lines += ["environment: ORSCENE_RECORDINGS (recordings root, default ./recordings), ORSCENE_CACHE (model cache),",
              "             ORSCENE_LOG (log level, default INFO)"]
    return "\n".join(lines)


def _field_docs(cls) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string right after each field)."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for a, b in zip(body, body[1:]):
        if isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name) and isinstance(b, ast.Expr):
            if isinstance(b.value, ast.Constant) and isinstance(b.value.value, str):
                docs[a.target.id] = " ".join(b.value.value.split())
    return docs


def _short_help(name: str, config_cls, desc: str, width: int = 100) -> str | None:
    """One line per top-level option of a command whose config nests stage configs (the
    stage settings are for ``--help-all``); None for a command without nested configs."""
    import dataclasses
    import enum
    import typing

    fields = dataclasses.fields(config_cls)
    hints = typing.get_type_hints(config_cls)
    nested = [f for f in fields if dataclasses.is_dataclass(hints[f.name])]
    if not nested:
        return None
    docs = _field_docs(config_cls)
    prog = _prog()
    lines = [f"usage: {prog} {name} [OPTIONS]", "", desc, "", "options (the common ones; --help-all for every stage setting):"]
    for f in fields:
        if f in nested:
            continue
        hint = hints[f.name]
        if hint is bool:
            flag = f"--{f.name.replace('_', '-')}"
        elif isinstance(hint, type) and issubclass(hint, enum.Enum):
            flag = f"--{f.name.replace('_', '-')} {{{','.join(str(m.value) for m in hint)}}}"
        else:
            flag = f"--{f.name.replace('_', '-')} {f.name.upper().replace('_', '-')}"
        doc = docs.get(f.name, "")
        first = doc.split(". ")[0].rstrip(".") if doc else ""
        line = f"  {flag:<34} {first}"
        lines.append(line if len(line) <= width else line[: width - 3].rstrip() + "...")
    lines += ["  -v, --verbose                      show third-party banners and notices", "  -h, --help / --help-all            this help / every option, stage settings included"]
    for f in nested:
        lines.append(f"\nstage settings: --{f.name}.<stage>.<option> (see --help-all), or a YAML file with --config")
    return "\n".join(lines)


def _setup_logging(verbose: bool) -> None:
    """Log lines through tqdm (never inside a progress bar); third parties quiet unless -v."""
    from tqdm import tqdm

    from orscene._quiet import quiet_third_party

    class _TqdmHandler(logging.StreamHandler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                tqdm.write(self.format(record), file=sys.stderr)
            except Exception:  # noqa: BLE001 - logging must never raise
                self.handleError(record)

    if verbose:
        os.environ["ORSCENE_VERBOSE"] = "1"  # inherited by worker processes
    handler = _TqdmHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=os.environ.get("ORSCENE_LOG", "INFO").upper(), handlers=[handler])
    quiet_third_party()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in argv)
    argv = [a for a in argv if a not in ("-v", "--verbose")]
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
    _setup_logging(verbose)
    import tyro

    from orscene.errors import OrsceneError

    module_name, config_name, func_name, desc = COMMANDS[name]
    module = importlib.import_module(module_name)
    config_cls = getattr(module, config_name)
    if "--help-all" in rest:
        rest = [("--help" if a == "--help-all" else a) for a in rest]
    elif any(a in ("-h", "--help") for a in rest) and (short := _short_help(name, config_cls, desc)) is not None:
        print(short)
        return 0
    if name == "synth":  # anny's skinning initializes Warp: without its banner
        from orscene._quiet import quiet_warp

        quiet_warp()
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
