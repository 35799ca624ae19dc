"""No stage imports a later stage.

The stages and their data-flow order are the list in ``orscene/__init__.py``'s docstring
(the README's package table shows the same order). Every module's imports are read with
``ast`` -- top-level and function-level ``import`` / ``from ... import`` (relative ones
resolved), and ``importlib.import_module("orscene....")`` with a literal name -- and a stage
may import only itself, earlier stages and the shared modules (``orscene/*.py``); the
shared base modules import no stage at all.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "orscene"

BASE_MODULES = ("types", "errors", "configio", "_lazy", "_system", "_quiet")
"""Shared modules every stage may import; they import no stage."""

ALLOWED_LATER = {
    ("recording", "geometry"): "the reader delivers depth registered to colour with geometry's camera model and "
    "depth registration (the shared camera maths lives in geometry/)",
    ("pipeline", "curate"): "process ends by writing the QA report (curate.report) of the outputs it has just written",
}
"""(stage, later stage) pairs allowed despite the order, with the reason."""


def declared_stages() -> list[str]:
    """The stage names, in order, from the "Stages, in data-flow order" list of
    ``orscene/__init__.py`` (one ``name  description`` line each)."""
    doc = ast.get_docstring(ast.parse((PKG / "__init__.py").read_text()))
    head, sep, rest = doc.partition("Stages, in data-flow order")
    assert sep, "orscene/__init__.py's docstring lost its 'Stages, in data-flow order' list"
    names: list[str] = []
    for line in rest.split(":", 1)[1].splitlines()[1:]:
        m = re.match(r"([a-z_0-9]+)\s{2,}\S", line)
        if m is None:
            if names:
                break
            continue
        names.append(m.group(1))
    return names


def imported_modules(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``tree``, a module of ``package``
    (``from a import b`` gives both ``a`` and ``a.b``: ``b`` may be a submodule)."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            out += [(node.lineno, f"{module}.{a.name}") for a in node.names if a.name != "*"]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.append((node.lineno, node.args[0].value))
    return out


def _modules() -> list[tuple[Path, str, str | None]]:
    """``(file, package, stage)`` of every module; stage None for the shared modules."""
    out = []
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(PKG).parts
        package = ".".join(("orscene", *rel[:-1]))  # what relative imports are relative to
        out.append((f, package, rel[0] if len(rel) > 1 else None))
    return out


def _stage_of(module: str, stages: list[str]) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "orscene" and parts[1] in stages else None


def test_every_subpackage_is_a_declared_stage():
    stages = declared_stages()
    packages = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").is_file())
    assert len(stages) == len(set(stages)), f"a stage is listed twice: {stages}"
    assert sorted(stages) == packages, (
        "orscene/__init__.py's stage list and the subpackages differ: add the new stage to that list, in data-flow order "
        f"(listed, not a package: {sorted(set(stages) - set(packages))}; package, not listed: {sorted(set(packages) - set(stages))})"
    )
    readme = re.findall(r"^\| `orscene/([a-z_0-9]+)` \|", (ROOT / "README.md").read_text(), re.M)
    assert readme == stages, "README.md's package table is not in the order of orscene/__init__.py's stage list"


def test_no_stage_imports_a_later_stage():
    stages = declared_stages()
    order = {s: i for i, s in enumerate(stages)}
    bad: dict[tuple[str, int], str] = {}
    for f, package, stage in _modules():
        if stage not in order:  # a shared module, or an undeclared stage (the test above fails)
            continue
        for line, module in imported_modules(ast.parse(f.read_text(), str(f)), package):
            target = _stage_of(module, stages)
            if target is not None and order[target] > order[stage] and (stage, target) not in ALLOWED_LATER:
                bad.setdefault((str(f.relative_to(ROOT)), line), f"{stage} imports {module} ({target} comes after {stage})")
    assert not bad, "a stage imports a later stage:\n" + "\n".join(f"{f}:{n}: {what}" for (f, n), what in sorted(bad.items()))


def test_shared_modules_import_no_stage():
    stages = declared_stages()
    bad = []
    for name in BASE_MODULES:
        f = PKG / f"{name}.py"
        for line, module in imported_modules(ast.parse(f.read_text(), str(f)), "orscene"):
            if _stage_of(module, stages) is not None:
                bad.append(f"orscene/{name}.py:{line}: imports {module}")
    assert not bad, "a shared module imports a stage:\n" + "\n".join(bad)


def test_the_import_reader_sees_every_form():
    """The checker itself: absolute, relative, function-level and importlib imports."""
    src = '''
import orscene.pose.fusion
from orscene.synth import people
from orscene import render
from . import fit
from ..calibrate.board import load_board

def f():
    import importlib
    from orscene.evaluate.metrics import iou
    return importlib.import_module("orscene.heads.track")
'''
    mods = {m for _, m in imported_modules(ast.parse(src), "orscene.body")}
    stages = declared_stages()
    found = {_stage_of(m, stages) for m in mods} - {None}
    assert found == {"pose", "synth", "render", "body", "calibrate", "evaluate", "heads"}
    assert "orscene.calibrate.board" in mods and "orscene.body.fit" in mods
