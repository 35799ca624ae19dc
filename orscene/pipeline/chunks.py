"""Time chunks and the executor that runs them.

A session is cut into consecutive chunks of frame-sets. Each chunk is processed on its
own, from a read window that overlaps its neighbours (so that tracking and smoothing are
continuous across chunk borders), and writes only the frame-sets it owns. Chunks are
therefore independent units of work: an executor may run them in any order, in parallel,
on one machine (:class:`LocalExecutor`) or, later, on a cluster engine that implements the
same two-method interface.
"""

import logging
import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Chunk", "plan_chunks", "ChunkExecutor", "SerialExecutor", "LocalExecutor", "make_executor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    """Frame-sets ``[start, stop)`` owned by this chunk, read from ``[read_start, read_stop)``."""

    index: int
    start: int
    stop: int
    read_start: int
    read_stop: int

    @property
    def name(self) -> str:
        return f"chunk_{self.start:06d}_{self.stop:06d}"

    def __len__(self) -> int:
        return self.stop - self.start


def plan_chunks(n_framesets: int, chunk_size: int, overlap: int) -> list[Chunk]:
    """Cut ``[0, n_framesets)`` into chunks of ``chunk_size`` with ``overlap`` frame-sets of
    context read on each side (clipped to the session)."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    chunks = []
    for i, start in enumerate(range(0, n_framesets, chunk_size)):
        stop = min(start + chunk_size, n_framesets)
        chunks.append(Chunk(i, start, stop, max(0, start - overlap), min(n_framesets, stop + overlap)))
    return chunks


class ChunkExecutor(Protocol):
    """Runs ``fn(chunk)`` for every chunk and yields ``(chunk, result)`` as each finishes."""

    def run(self, fn: Callable[[Chunk], Any], chunks: Iterable[Chunk]) -> Iterator[tuple[Chunk, Any]]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs chunks one after the other in this process (``--workers 1``)."""

    def __init__(self, initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> None:
        if initializer is not None:
            initializer(*initargs)

    def run(self, fn: Callable[[Chunk], Any], chunks: Iterable[Chunk]) -> Iterator[tuple[Chunk, Any]]:
        for chunk in chunks:
            yield chunk, fn(chunk)

    def close(self) -> None:
        pass


class LocalExecutor:
    """Runs chunks in ``workers`` processes on this machine (spawned, so each worker loads
    its models once in ``initializer``). At most ``2 * workers`` chunks are in flight, so
    results stream back and memory stays bounded whatever the session's length."""

    def __init__(self, workers: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=mp.get_context("spawn"), initializer=initializer, initargs=initargs
        )

    def run(self, fn: Callable[[Chunk], Any], chunks: Iterable[Chunk]) -> Iterator[tuple[Chunk, Any]]:
        pending: dict[Any, Chunk] = {}
        it = iter(chunks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * self.workers:
                try:
                    chunk = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending[self._pool.submit(fn, chunk)] = chunk
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_executor(workers: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> ChunkExecutor:
    if workers <= 1:
        return SerialExecutor(initializer, initargs)
    return LocalExecutor(workers, initializer, initargs)
