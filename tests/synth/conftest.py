"""Fixtures for the synthetic-session tests: one anny model and one tiny session per run."""

import pytest

from orscene.synth.generate import Scenario, SynthConfig, generate_session


@pytest.fixture(scope="session")
def body():
    from orscene.synth.people import load_people_rig

    return load_people_rig()


def _tiny_config(root, **kw) -> SynthConfig:
    base = dict(session="tiny", recordings=root, seconds=0.4, fps=5, width=320, height=180, cameras=2, seed=0,
                scenario=Scenario.MEDIUM)  # fmt: skip
    base.update(kw)
    return SynthConfig(**base)


@pytest.fixture(scope="session")
def tiny_session(tmp_path_factory, body):
    """2 cameras, 320x180, 2 frame-sets, medium scenario (6 staff + patient)."""
    root = tmp_path_factory.mktemp("rec")
    cfg = _tiny_config(root)
    return cfg, generate_session(cfg, body=body)


@pytest.fixture
def tiny_config():
    """``tiny_config(root, **overrides) -> SynthConfig`` of the tiny session."""
    return _tiny_config
