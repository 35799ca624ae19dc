"""Shared fixtures: the real data beside the repo, a device, an RNG, temp sessions."""

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (CI has it there; ``ORSCENE_SHARED_DATA`` overrides)."""
    path = Path(os.environ.get("ORSCENE_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.fail(f"real test data not found at {path} (set ORSCENE_SHARED_DATA)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(params=["cpu"])
def device(request) -> str:
    """Torch device for tests; tests never name cuda themselves."""
    return request.param


@pytest.fixture(params=["float32"])
def dtype(request):
    import torch

    return getattr(torch, request.param)
