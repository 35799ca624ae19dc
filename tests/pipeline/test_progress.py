"""Frame-set progress reported by worker processes moves the main process's bar."""

import io
import multiprocessing
import time

from tqdm import tqdm

from orscene.pipeline import progress


def _worker(queue, name: str, n: int) -> None:
    progress.set_sink(queue)
    for _ in range(n):
        progress.report(name)


def test_frame_sets_reported_by_a_worker_process_move_the_bar():
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    with tqdm(total=10, file=io.StringIO()) as bar:
        tracker = progress.ChunkProgress(bar, queue, {"a": 6, "b": 4})
        p = ctx.Process(target=_worker, args=(queue, "a", 5))
        p.start()
        p.join(30)
        assert p.exitcode == 0
        for _ in range(200):  # the queue's feeder delivers shortly after
            if bar.n == 5:
                break
            time.sleep(0.01)
        assert bar.n == 5  # per frame-set, before chunk "a" is finished
        tracker.finished("a")
        assert bar.n == 6  # topped up to the chunk's length
        queue.put(("a", 3))  # late or excess reports of a finished chunk are ignored
        queue.put(("b", 9))  # beyond a chunk's length: clamped
        queue.put(("zzz", 2))  # an unknown chunk: ignored
        tracker.close()
        assert bar.n == 10
        tracker.finished("b")
        assert bar.n == 10


def test_report_without_a_sink_is_a_no_op():
    progress.set_sink(None)
    progress.report("a")  # nothing to send to, nothing raised
