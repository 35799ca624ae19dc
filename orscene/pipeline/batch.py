"""``cli.py process --sessions 'OR_*'``: many sessions on one executor.

The workers (local processes or Ray actors) start once and load their models once; the
sessions matching the glob run one after the other on them, each with its own progress
bars, output folder and summary line. A session that fails is reported in one line and the
others go on; the exit code is the number of sessions that failed (at most
:data:`MAX_EXIT_CODE`).
"""

import dataclasses
import fnmatch
import logging
import sys
from pathlib import Path

from orscene.errors import ConfigError, OrsceneError
from orscene.recording.session import MANIFEST_NAME, default_outputs_dir

__all__ = ["match_sessions", "run_sessions", "MAX_EXIT_CODE"]

log = logging.getLogger(__name__)

MAX_EXIT_CODE = 100
"""Exit codes stay below the shell's reserved ones (126 and up)."""


def match_sessions(recordings: Path, pattern: str) -> list[str]:
    """Names of the session folders (those holding a manifest) under ``recordings`` that
    match the glob ``pattern``, sorted."""
    if not recordings.is_dir():
        raise ConfigError("recordings root not found", recordings)
    names = sorted(p.name for p in recordings.iterdir() if p.is_dir() and fnmatch.fnmatchcase(p.name, pattern) and (p / MANIFEST_NAME).is_file())
    if not names:
        raise ConfigError(f"no session matches {pattern!r}", recordings)
    return names


def run_sessions(cfg) -> int:
    """Process every session matching ``cfg.sessions`` (a :class:`~orscene.pipeline.run.ProcessConfig`);
    prints one line per session and returns the number that failed (capped)."""
    from orscene.pipeline.run import open_pool, process_session

    if cfg.mkv:
        raise ConfigError("--sessions and --mkv cannot be combined")
    names = match_sessions(cfg.recordings, cfg.sessions)
    log.info("%d sessions match %r: %s", len(names), cfg.sessions, ", ".join(names))
    if cfg.executor == "ray":  # before the workers start: Ray is an optional extra
        from orscene.pipeline.ray_executor import import_ray

        import_ray()
    pool = open_pool(cfg)
    failed = 0
    try:
        for name in names:
            out = cfg.out / name if cfg.out is not None else default_outputs_dir(name)
            one = dataclasses.replace(cfg, session=name, sessions=None, out=out)
            try:
                s = process_session(one, pool)
            except (OrsceneError, OSError, ValueError, RuntimeError) as e:  # this session only
                failed += 1
                line = f"{name}: FAILED: {' '.join(str(e).split())}"
                if not isinstance(e, OrsceneError):  # a worker's crash may have taken the pool with it
                    log.debug("%s failed", name, exc_info=True)
                    pool.close()
                    pool = open_pool(cfg)
            else:
                line = (f"{name}: {s['framesets']} frame-sets, {s['views']} views, {s['faces']} faces, "
                        f"{s['views_obscured_or_withheld']} views obscured/withheld -> {out}")  # fmt: skip
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    finally:
        pool.close()
    sys.stdout.write(f"{len(names) - failed} of {len(names)} sessions done, {failed} failed\n")
    return min(failed, MAX_EXIT_CODE)
