import enum
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orscene.configio import config_from_dict, config_to_dict, dump_yaml_config, load_yaml_config
from orscene.errors import ConfigError


class Mode(enum.Enum):
    A = "a"
    B = "b"


@dataclass(frozen=True)
class Inner:
    sigma: float = 1.0
    steps: int = 3
    mode: Mode = Mode.A


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    path: Path | None = None
    sizes: tuple[int, ...] = (1, 2)
    inner: Inner = field(default_factory=Inner)


def test_roundtrip_through_yaml(tmp_path):
    cfg = Outer(name="y", path=Path("/tmp/q"), sizes=(4,), inner=Inner(2.5, 7, Mode.B))
    p = tmp_path / "c.yaml"
    p.write_text(dump_yaml_config(cfg))
    assert load_yaml_config(p, Outer) == cfg


def test_partial_yaml_keeps_defaults(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("inner:\n  steps: 9\n")
    cfg = load_yaml_config(p, Outer)
    assert cfg.inner == Inner(steps=9) and cfg.name == "x"


@pytest.mark.parametrize(
    "text, fragment",
    [("inner:\n  sigmaa: 1\n", "unknown option"), ("inner:\n  steps: 1.5\n", "integer"), ("inner:\n  mode: c\n", "not one of"), ("[1, 2", "malformed")],
)
def test_bad_config_names_file_and_key(tmp_path, text, fragment):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_yaml_config(p, Outer)
    assert "bad.yaml" in str(e.value) and fragment in str(e.value)


def test_to_dict_is_plain():
    d = config_to_dict(Outer())
    assert d == {"name": "x", "path": None, "sizes": [1, 2], "inner": {"sigma": 1.0, "steps": 3, "mode": "a"}}
    assert config_from_dict(Outer, d) == Outer()


def test_a_configs_own_check_names_the_file(tmp_path):
    """A value of the right type that the config itself rejects (its __post_init__) is
    reported with the file, like a type error."""
    from orscene.pipeline.config import PipelineConfig

    p = tmp_path / "pipe.yaml"
    p.write_text("keyframe_every: 0\n")
    with pytest.raises(ConfigError) as e:
        load_yaml_config(p, PipelineConfig)
    assert "pipe.yaml" in str(e.value) and "keyframe_every" in str(e.value)
