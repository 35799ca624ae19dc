"""Frozen config dataclasses <-> plain dicts and YAML.

Configs are nested frozen dataclasses of scalars, enums, paths and tuples. This module
turns them into YAML (``yaml.safe_dump``) and back, strictly: an unknown key or a value of
the wrong type is a :class:`~orscene.errors.ConfigError` naming the file and the key.
"""

import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from orscene.errors import ConfigError

__all__ = ["config_to_dict", "config_from_dict", "load_yaml_config", "load_yaml_config_with_run", "dump_yaml_config"]

C = TypeVar("C")


def config_to_dict(cfg: Any) -> Any:
    """A YAML-safe plain structure (dicts, lists, str, numbers, bool, None)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, enum.Enum):
        return cfg.value
    if isinstance(cfg, Path):
        return str(cfg)
    if isinstance(cfg, (tuple, list)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {str(k): config_to_dict(v) for k, v in cfg.items()}
    return cfg


def _convert(tp: Any, value: Any, where: str, path: Path | None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, where, path)
            except ConfigError as e:
                errors.append(e.message)
        raise ConfigError(f"{where}: {value!r} matches none of {tp}", path)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}", path)
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}", path)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]", path) for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}", path)
            return tuple(_convert(a, v, f"{where}[{i}]", path) for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        out = [_convert(inner, v, f"{where}[{i}]", path) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value, where, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(f"{where}: {value!r} is not one of {[m.value for m in tp]}", path) from None
    if tp is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a path, got {value!r}", path)
        return Path(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}", path)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}", path)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}", path)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}", path)
        return value
    return value


def _from_dict(cls: type[C], data: Any, where: str, path: Path | None, base: C | None = None) -> C:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'top level'}: expected a mapping, got {type(data).__name__}", path)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where or 'top level'}: unknown option(s) {unknown}", path)
    kwargs = {}
    for name, value in data.items():
        sub = f"{where}.{name}" if where else name
        tp = hints[name]
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            current = getattr(base, name) if base is not None else None
            kwargs[name] = _from_dict(tp, value, sub, path, current)
        else:
            kwargs[name] = _convert(tp, value, sub, path)
    try:
        return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)
    except ConfigError as e:  # a config's own check: add the file
        if e.path is not None or path is None:
            raise
        raise ConfigError(f"{where + ': ' if where else ''}{e.message}", path) from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where or 'top level'}: {e}", path) from None


def config_from_dict(cls: type[C], data: dict, path: Path | None = None, base: C | None = None) -> C:
    """Build (or update ``base`` of) ``cls`` from a nested dict; partial dicts keep defaults."""
    return _from_dict(cls, data, "", path, base if base is not None else cls())


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError("config file not found", path) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"malformed YAML: {str(e).splitlines()[0]}", path) from None


def load_yaml_config(path: str | Path, cls: type[C], base: C | None = None) -> C:
    path = Path(path)
    return config_from_dict(cls, _read_yaml(path), path, base)


def load_yaml_config_with_run(path: str | Path, cls: type[C], run_cls: type, exclude: tuple[str, ...] = ()) -> tuple[C, dict]:
    """``(cls from the file, run options)``: the file is ``cls``'s mapping, plus an optional
    ``run:`` mapping of ``run_cls``'s fields (those not in ``exclude``), e.g. ::

        run: {workers: 2, format: mp4, on_error: withhold}
        pose: {...}

    The run options come back as a dict of typed values (enums, paths) for
    ``run_cls(**options)``; an unknown key or a wrong type is a one-line ConfigError."""
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"top level: expected a mapping, got {type(data).__name__}", path)
    data = dict(data)
    run = data.pop("run", None) or {}
    if not isinstance(run, dict):
        raise ConfigError(f"run: expected a mapping, got {type(run).__name__}", path)
    hints = typing.get_type_hints(run_cls)
    allowed = [f.name for f in dataclasses.fields(run_cls) if f.init and f.name not in exclude]
    unknown = sorted(set(run) - set(allowed))
    if unknown:
        raise ConfigError(f"run: unknown option(s) {unknown}; the run options are {allowed}", path)
    options = {k: _convert(hints[k], v, f"run.{k}", path) for k, v in run.items()}
    return config_from_dict(cls, data, path), options


def dump_yaml_config(cfg: Any) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
