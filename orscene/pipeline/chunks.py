"""Time chunks and the executor that runs them.

A session is cut into consecutive chunks of frame-sets. Each chunk is processed on its
own, from a read window that overlaps its neighbours (so that tracking and smoothing are
continuous across chunk borders), and writes only the frame-sets it owns. Chunks are
therefore independent units of work: an executor may run them in any order, in parallel,
on one machine (:class:`LocalExecutor`) or on a Ray cluster
(:class:`orscene.pipeline.ray_executor.RayExecutor`, the same two-method interface).

A worker never outlives the process that started it: it asks the kernel for SIGKILL when
its parent dies (``prctl(PR_SET_PDEATHSIG)`` on Linux) and watches its parent's pid as well
(the only way elsewhere, and a fallback), so a killed run leaves no worker computing or
writing into the output folder.
"""

import ctypes
import ctypes.util
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Chunk", "plan_chunks", "ChunkExecutor", "SerialExecutor", "LocalExecutor", "make_executor", "die_with_parent"]

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


_PR_SET_PDEATHSIG = 1
"""``prctl`` option (linux/prctl.h): the signal this process gets when its parent dies."""


def die_with_parent(parent_pid: int, poll_s: float = 0.5) -> None:
    """End this process with SIGKILL as soon as ``parent_pid``, its parent, is gone.

    On Linux the kernel sends the signal (``PR_SET_PDEATHSIG``; it fires when the thread
    that started this process ends, so the pool must be driven from a thread that lives as
    long as the pool: here, the main thread). A daemon thread also polls ``os.getppid()``
    every ``poll_s`` (a dead parent's children are re-parented), which covers other systems
    and a parent that died before this call."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
                log.debug("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
        except (OSError, AttributeError) as e:  # no libc or no prctl: the watch below remains
            log.debug("prctl unavailable: %s", e)
    if os.getppid() != parent_pid:  # the parent died before the kernel was told
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_watch_parent, args=(parent_pid, poll_s), name="watch-parent", daemon=True).start()


def _watch_parent(parent_pid: int, poll_s: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(poll_s)
    os.kill(os.getpid(), signal.SIGKILL)


def _init_pool_worker(parent_pid: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    die_with_parent(parent_pid)
    if initializer is not None:
        initializer(*initargs)


class LocalExecutor:
    """Runs chunks in ``workers`` processes on this machine (spawned, so each worker loads
    its models once in ``initializer``). At most ``2 * workers`` chunks are in flight, so
    results stream back and memory stays bounded whatever the session's length. The workers
    die with this process (:func:`die_with_parent`), however it ends."""

    def __init__(self, workers: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_pool_worker,
            initargs=(os.getpid(), initializer, initargs),
        )  # fmt: skip

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
