import pytest


@pytest.fixture(scope="session")
def anny_body():
    """The anny body model wrapper (loaded once per test session, CPU)."""
    from orscene.body import BodyModelConfig, load_body_model

    return load_body_model(BodyModelConfig(device="cpu"))
