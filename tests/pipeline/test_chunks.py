import pytest

from orscene.pipeline.chunks import LocalExecutor, SerialExecutor, plan_chunks


def test_plan_chunks_covers_session_once():
    chunks = plan_chunks(95, 30, 3)
    assert [(c.start, c.stop) for c in chunks] == [(0, 30), (30, 60), (60, 90), (90, 95)]
    assert [(c.read_start, c.read_stop) for c in chunks] == [(0, 33), (27, 63), (57, 93), (87, 95)]
    owned = [i for c in chunks for i in range(c.start, c.stop)]
    assert owned == list(range(95))
    assert chunks[1].name == "chunk_000030_000060"


def test_plan_chunks_rejects_bad_sizes():
    with pytest.raises(ValueError):
        plan_chunks(10, 0, 0)
    with pytest.raises(ValueError):
        plan_chunks(10, 5, -1)
    assert plan_chunks(0, 5, 1) == []


def _square_len(chunk):
    return len(chunk) ** 2


def test_serial_and_local_executors_agree():
    chunks = plan_chunks(23, 5, 0)
    serial = dict(SerialExecutor().run(_square_len, chunks))
    ex = LocalExecutor(2)
    try:
        local = dict(ex.run(_square_len, chunks))
    finally:
        ex.close()
    assert serial == local == {c: len(c) ** 2 for c in chunks}


def test_workers_give_automatic_runtimes_their_share_of_the_cores():
    from dataclasses import replace

    from orscene.anonymize2d import FaceDetectorConfig
    from orscene.pipeline.config import PipelineConfig
    from orscene.pipeline.run import _with_threads

    cfg = replace(PipelineConfig(), detectors=(FaceDetectorConfig(name="centerface"), FaceDetectorConfig(name="blazeface", num_threads=3)))
    out = _with_threads(cfg, 2)
    assert out.pose.detector.blazepose.num_threads == 2
    assert [d.num_threads for d in out.detectors] == [2, 3]  # an explicit count stays
    assert out.pose.fusion == cfg.pose.fusion and out.body == cfg.body
