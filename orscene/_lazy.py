"""Lazy package exports (PEP 562).

A stage package re-exports its public names from its submodules. Importing them all
eagerly would make ``from orscene.body.config import FitConfig`` pay for torch and the
body models (seconds), and so would every process that only reads configs, such as the
pipeline's main process, which never runs a model. A package built with
:func:`lazy_exports` imports a submodule the first time one of its names is used.
"""

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``, which exports the names
    ``exports[submodule]`` of each of its submodules."""
    where = {name: sub for sub, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        sub = where.get(name)
        if sub is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{sub}"), name)
        setattr(sys.modules[package], name, value)  # next time: a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(where) | set(vars(sys.modules[package])))

    return __getattr__, __dir__, sorted(where)
