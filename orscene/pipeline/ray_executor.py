"""Run chunks on a Ray cluster (``cli.py process --executor ray``).

The same two-method interface as :class:`~orscene.pipeline.chunks.LocalExecutor`: ``run``
yields ``(chunk, result)`` as chunks finish, ``close`` ends the workers. Each worker is a
long-lived Ray actor that runs the pipeline's initializer once (it loads the models, as a
local pool worker does) and then runs whole chunks, one at a time. At most two chunks are
queued per actor, so results stream back and memory stays bounded.

A worker lost mid-chunk (its process killed, its node gone) is restarted by Ray
(``max_restarts``) and the driver submits the chunk again, to the least busy worker; every
resubmission is kept in :attr:`RayExecutor.retries` (the run writes them into audit.json
and summary.json). A chunk writes its outputs atomically, so a retried chunk leaves the
same bytes as an uninterrupted one.

Ray is an optional dependency (``pip install 'orscene[ray]'``); inputs and outputs must be
on storage every node mounts (:meth:`RayExecutor.check_visible`; docs/cluster.md).
"""

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from orscene.errors import ConfigError, OrsceneError
from orscene.pipeline.chunks import Chunk

__all__ = ["RayExecutor", "import_ray", "RAY_INSTALL_HINT", "ChunkLostError"]

log = logging.getLogger(__name__)

RAY_INSTALL_HINT = "--executor ray needs Ray: pip install 'orscene[ray]' (or pip install -r requirements-ray.txt)"

MAX_ATTEMPTS = 3
"""Times a chunk is submitted before a lost worker fails the run."""

START_TIMEOUT_S = 900.0
"""How long the driver waits for every worker to start (models loaded) and answer."""

_ENV_PASSED = ("ORSCENE_CACHE", "ORSCENE_VERBOSE", "ORSCENE_LOG", "ORSCENE_RECORDINGS")
"""Environment the workers get from the driver (model cache, verbosity)."""


class ChunkLostError(OrsceneError):
    """A chunk's worker was lost more than :data:`MAX_ATTEMPTS` times."""


def import_ray():
    """The ``ray`` module, or a one-line :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_INSTALL_HINT) from None
    return ray


def _connect(ray, address: str | None, num_cpus: int | None = None) -> bool:
    """Connect to ``address`` (``auto``, ``HOST:PORT``) or, without one, to ``$RAY_ADDRESS``,
    else start Ray on this machine with ``num_cpus``; True when this call connected (so
    :meth:`RayExecutor.close` disconnects)."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True, "configure_logging": False}
    if address is None and not os.environ.get("RAY_ADDRESS"):  # a Ray of its own, never one found running
        address, kwargs["num_cpus"] = "local", num_cpus
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as e:
        cause = e.__cause__
        if cause is not None and type(cause).__name__ == "AuthenticationError":
            raise ConfigError(
                f"cannot connect to the Ray cluster at {address}: it wants its authentication token "
                "(RAY_AUTH_MODE=token, and the head node's ~/.ray/auth_token here or RAY_AUTH_TOKEN; docs/cluster.md)"
            ) from None
        raise ConfigError(f"cannot connect to the Ray cluster at {address}: {_one_line(e)}") from None
    return True


def _code_path() -> str:
    """The folder that holds the ``orscene`` package this driver imports (for workers that
    run from a checkout rather than an installed package)."""
    import orscene

    return str(Path(orscene.__file__).resolve().parents[1])


class _QueueByName:
    """The progress queue as a worker sees it: the named queue actor, looked up at the first
    report; reports are not waited for (progress may arrive late or, from a lost worker,
    not at all: the bar is topped up when a chunk's result arrives)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._actor = None

    def __getstate__(self) -> dict:
        return {"name": self.name, "_actor": None}

    def put(self, item: Any) -> None:
        if self._actor is None:
            import ray

            self._actor = ray.get_actor(self.name)
        self._actor.put_nowait.remote(item)


class _Worker:
    """One Ray actor: the initializer once, then chunks (the body of ``ray.remote``)."""

    def __init__(self, initializer: Callable[..., None] | None, initargs: tuple) -> None:
        if initializer is not None:
            initializer(*initargs)

    def run(self, fn: Callable[[Chunk], Any], chunk: Chunk) -> Any:
        return fn(chunk)

    def stat(self, paths: Sequence[str]) -> tuple[str, list[tuple[int, int] | None]]:
        """The node's address and ``(size, mtime_ns)`` of each path (None: not there)."""
        import ray

        out: list[tuple[int, int] | None] = []
        for p in paths:
            try:
                st = os.stat(p)
                out.append((st.st_size, st.st_mtime_ns))
            except OSError:
                out.append(None)
        return ray.util.get_node_ip_address(), out


class RayExecutor:
    """Runs chunks on ``workers`` Ray actors, each reserving ``cpus_per_worker`` CPUs.

    ``address``: ``auto`` (the cluster this machine belongs to), ``HOST:PORT`` (its head
    node), or None: connect to an already initialised Ray, else start one on this machine
    with ``workers * cpus_per_worker`` CPUs. The workers start with :meth:`start` (after
    :meth:`progress_queue`, when they report progress)."""

    def __init__(self, workers: int, address: str | None = None, cpus_per_worker: int = 1) -> None:
        ray = self._ray = import_ray()
        self.workers, self.cpus_per_worker = workers, cpus_per_worker
        self.retries: list[dict] = []
        self._actors: list = []
        self._dead: set[int] = set()
        self._queue = None
        self._owns_ray = _connect(ray, address, workers * cpus_per_worker)

    def progress_queue(self):
        """A queue the workers report frame-set progress into (an actor on the driver's
        node, with the ``put``/``get`` of the local pool's queue)."""
        from ray.util.queue import Queue

        if self._queue is None:
            self._queue_name = f"orscene-progress-{uuid.uuid4().hex}"
            self._queue = Queue(actor_options={"num_cpus": 0, "name": self._queue_name})
        return self._queue

    def start(self, initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> "RayExecutor":
        """Start the workers; each runs ``initializer(*initargs)`` once. The progress queue,
        when among ``initargs``, reaches them by name (an actor handle as a constructor
        argument would make a restarted worker depend on the driver's copy of it)."""
        if self._queue is not None:
            initargs = tuple(_QueueByName(self._queue_name) if a is self._queue else a for a in initargs)
        ray = self._ray
        env = {k: os.environ[k] for k in _ENV_PASSED if k in os.environ}
        env["PYTHONPATH"] = os.pathsep.join([_code_path(), *filter(None, [os.environ.get("PYTHONPATH")])])
        cls = ray.remote(_Worker).options(
            num_cpus=self.cpus_per_worker, max_restarts=MAX_ATTEMPTS, max_task_retries=0, runtime_env={"env_vars": env}
        )  # fmt: skip
        self._actors = [cls.remote(initializer, initargs) for _ in range(self.workers)]
        have = ray.cluster_resources().get("CPU", 0)
        if have < self.workers * self.cpus_per_worker:
            log.warning("the Ray cluster has %g CPUs: of %d workers of %d CPUs each, some wait until it has more", have, self.workers, self.cpus_per_worker)
        return self

    def check_visible(self, paths: Sequence[Path]) -> None:
        """Fail with one line unless every worker sees each of ``paths`` as this driver
        does (same size and modification time: the same file, on shared storage)."""
        ray = self._ray
        mine = [(st.st_size, st.st_mtime_ns) for st in map(os.stat, paths)]
        try:
            seen = ray.get([a.stat.remote([str(p) for p in paths]) for a in self._actors], timeout=START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            have = ray.cluster_resources().get("CPU", 0)
            raise ConfigError(
                f"the Ray workers did not start within {START_TIMEOUT_S:.0f} s ({self.workers} workers of {self.cpus_per_worker} CPUs; the cluster has {have:g} CPUs)"
            ) from None
        except ray.exceptions.RayError as e:
            raise ConfigError(f"a Ray worker failed to start: {_one_line(e)}") from None
        for node, stats in seen:
            for path, theirs, ours in zip(paths, stats, mine):
                if theirs != ours:
                    what = "does not see" if theirs is None else "sees another file at"
                    raise ConfigError(
                        f"the Ray worker on node {node} {what} {path}: inputs and outputs must be on storage every node mounts at the same path (docs/cluster.md)"
                    )

    def run(self, fn: Callable[[Chunk], Any], chunks: Iterable[Chunk]) -> Iterator[tuple[Chunk, Any]]:
        ray = self._ray
        lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError)
        fn_ref = ray.put(fn)  # shipped once, not with every chunk
        task = getattr(getattr(fn, "fn", fn), "__name__", "").lstrip("_")
        load = {i: 0 for i in range(len(self._actors)) if i not in self._dead}
        pending: dict[Any, tuple[Chunk, int, int]] = {}  # ref -> (chunk, actor, attempt)

        def submit(chunk: Chunk, attempt: int) -> None:
            if not load:
                raise ChunkLostError(f"{chunk.name}: every Ray worker is lost (each restarted {MAX_ATTEMPTS} times)")
            i = min(load, key=lambda k: load[k])
            load[i] += 1
            pending[self._actors[i].run.remote(fn_ref, chunk)] = (chunk, i, attempt)

        it = iter(chunks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * len(load):
                chunk = next(it, None)
                if chunk is None:
                    exhausted = True
                    break
                submit(chunk, 1)
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            chunk, i, attempt = pending.pop(ref)
            if i in load:
                load[i] -= 1
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # the chunk itself raised: as in the local pool
                cause = getattr(e, "cause", None)
                if isinstance(cause, BaseException):
                    raise cause from None
                raise
            except lost as e:
                if attempt >= MAX_ATTEMPTS:
                    raise ChunkLostError(f"{chunk.name}: its Ray worker was lost {attempt} times, last: {_one_line(e)}") from None
                self.retries.append({"chunk": chunk.name, "task": task, "attempt": attempt + 1, "reason": _one_line(e, 200)})
                log.warning("%s: its Ray worker was lost (%s); running it again", chunk.name, type(e).__name__)
                if i in load and not self._wait_restarted(i):
                    del load[i]
                submit(chunk, attempt + 1)
                continue
            yield chunk, result

    def _wait_restarted(self, i: int, timeout_s: float = 600.0) -> bool:
        """Wait until worker ``i``, lost, answers again (Ray restarts it: its initializer
        runs again); False when Ray gave it up (restarted too often) or it did not come back."""
        ray = self._ray
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                ray.get(self._actors[i].stat.remote([]), timeout=max(1.0, deadline - time.monotonic()))
                return True
            except ray.exceptions.ActorUnavailableError:  # restarting
                time.sleep(0.5)
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as e:
                log.warning("a Ray worker is gone for good (%s); going on with the others", type(e).__name__)
                break
        self._dead.add(i)
        return False

    def close(self) -> None:
        ray = self._ray
        for a in self._actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception as e:  # noqa: BLE001 - a worker already gone
                log.debug("killing a Ray worker: %s", e)
        self._actors = []
        if self._queue is not None:
            self._queue.shutdown(force=True)
            self._queue = None
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()


def _one_line(e: BaseException, limit: int = 300) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


