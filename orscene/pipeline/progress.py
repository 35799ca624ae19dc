"""Frame-set progress of chunks that run in other processes.

A chunk is the executor's unit of work, but a chunk of 75 frame-sets takes a worker a
minute or more: a bar that moves once per chunk shows no ETA worth reading. Workers
therefore report each frame-set as they finish it (:func:`report`, through a queue the
pipeline hands them at start, :func:`set_sink`), and :class:`ChunkProgress` moves the main
process's bar from that queue. When a chunk's result arrives the bar is topped up to the
chunk's length, so the count is exact whatever the queue lost or delivers late (a worker
may leave without flushing it).
"""

import threading
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["set_sink", "report", "ChunkProgress"]


class _Sink(Protocol):
    def put(self, item: Any) -> None: ...


_SINK: _Sink | None = None


def set_sink(sink: _Sink | None) -> None:
    """Where :func:`report` sends this process's progress (None: nowhere)."""
    global _SINK
    _SINK = sink


def report(chunk_name: str, n: int = 1) -> None:
    """``n`` more frame-sets of chunk ``chunk_name`` are done (a no-op without a sink)."""
    if _SINK is not None:
        _SINK.put((chunk_name, n))


class _Bar(Protocol):
    def update(self, n: int) -> Any: ...


class ChunkProgress:
    """Moves ``bar`` by the frame-sets reported on ``queue`` for the chunks of
    ``lengths`` (name -> frame-sets it owns); :meth:`finished` tops a chunk up to its length.
    Reports of a finished chunk, or beyond its length, are ignored."""

    def __init__(self, bar: _Bar, queue: Any, lengths: dict[str, int]) -> None:
        self._bar, self._queue = bar, queue
        self._left = dict(lengths)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="progress", daemon=True)
        self._thread.start()

    def _advance(self, name: str, n: int) -> None:
        with self._lock:
            n = min(n, self._left.get(name, 0))
            if n > 0:
                self._left[name] -= n
                self._bar.update(n)

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._advance(*item)

    def finished(self, chunk_names: Iterable[str] | str) -> None:
        for name in [chunk_names] if isinstance(chunk_names, str) else chunk_names:
            self._advance(name, self._left.get(name, 0))
            with self._lock:
                self._left[name] = 0

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
