import orscene.synth


def test_public_names():
    assert set(orscene.synth.__all__) == {
        "Scenario", "SynthConfig", "generate_session", "run_synth", "SessionGroundTruth", "load_groundtruth",
    }  # fmt: skip
    for name in orscene.synth.__all__:
        assert hasattr(orscene.synth, name), name
