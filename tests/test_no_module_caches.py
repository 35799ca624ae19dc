"""Architecture: no module-level caches in orscene. Derived state of a session (lens
tables, depth registrations, the pose fusion's root grid) lives in the session's
``orscene.geometry.CameraRig``, which the pipeline builds and passes in.

The scan (``ast``, every module of the package) flags
- a module-level function decorated with ``functools.cache`` / ``lru_cache`` (any spelling);
- a module-level name bound to an empty mutable container (``{}``, ``[]``, ``set()``,
  ``dict()``, ``OrderedDict()``, ``defaultdict(...)``, ``WeakValueDictionary()``...): a
  constant table is never empty, a cache or registry starts empty;
- a module-level name that says it caches (``*CACHE*``, ``*MEMO*``, ``*TABLES*``,
  ``*REGISTRATIONS*``), whatever it is bound to.
"""

import ast
from pathlib import Path

import orscene

# (module, name) -> why it may stay
ALLOWED = {
    ("orscene/pipeline/run.py", "_WORKER"): "the pipeline's per-worker state (models, the session's CameraRig): "
    "the wiring builds things once per worker and passes them in",
    ("orscene/_system.py", "_cuda_available"): "one fact of the process's environment (torch.cuda.is_available), no key, cannot go stale",
    ("orscene/synth/generate.py", "_vignette_gain"): "the synthetic recorder's vignette image, a pure function of the image size "
    "(two ints), not calibration or session state",
    ("orscene/pipeline/outputs.py", "_CHECKED_DIRS"): "output folders already checked against symlinks and inputs in this process; "
    "cleared by OutputLayout.check_tree at each run",
}

_CONTAINERS = {"dict", "list", "set", "OrderedDict", "defaultdict", "deque", "WeakValueDictionary", "WeakKeyDictionary", "WeakSet", "Counter"}
_WORDS = ("CACHE", "MEMO", "TABLES", "REGISTRATIONS")


def _callee(node: ast.expr) -> str:
    f = node.func if isinstance(node, ast.Call) else node
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _is_empty_container(v: ast.expr | None) -> bool:
    if isinstance(v, ast.Dict):
        return not v.keys
    if isinstance(v, (ast.List, ast.Set)):
        return not v.elts
    if isinstance(v, ast.Call) and _callee(v) in _CONTAINERS:
        return not v.args or _callee(v) == "defaultdict"
    return False


def module_caches(root: Path) -> set[tuple[str, str]]:
    found = set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(_callee(d) in ("cache", "lru_cache", "cached_property") for d in node.decorator_list):
                    found.add((rel, node.name))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for name in [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]:
                        if _is_empty_container(node.value) or any(w in name.upper() for w in _WORDS):
                            found.add((rel, name))
    return found


def test_the_scan_finds_each_kind_of_cache(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        "import functools\nfrom collections import OrderedDict\nTABLE = {'a': 1}\n_A: dict[str, int] = {}\n_B = OrderedDict()\n"
        "_LENS_TABLES = {'x': 1}\n@functools.lru_cache(maxsize=4)\ndef f(x):\n    return x\n@functools.cache\ndef g():\n    return 1\n"
        "def h():\n    local = {}\n    return local\n"
    )
    assert module_caches(pkg) == {("pkg/m.py", n) for n in ("_A", "_B", "_LENS_TABLES", "f", "g")}


def test_orscene_has_no_module_level_caches():
    found = module_caches(Path(orscene.__file__).parent)
    unexpected = sorted(found - set(ALLOWED))
    assert not unexpected, f"module-level caches (keep such state in an object the pipeline passes in): {unexpected}"
    assert set(ALLOWED) <= found, f"allowed entries that no longer exist (remove them): {sorted(set(ALLOWED) - found)}"
