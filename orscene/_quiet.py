"""Quiet by default: third-party banners and notices are hidden unless ``-v``.

``orscene -v`` (or ``ORSCENE_VERBOSE=1``, which worker processes inherit) shows them:
Warp's start-up banner and its CUDA-driver warning, TFLite's "Created TensorFlow Lite
XNNPACK delegate" line, anny's cache messages. Some of these are printed by native code
straight to the process's stderr, so :func:`native_stderr_quiet` silences file
descriptor 2 itself for the few milliseconds a model takes to load.
"""

import contextlib
import logging
import os
import sys

__all__ = ["verbose", "native_stderr_quiet", "quiet_third_party", "quiet_warp"]

_THIRD_PARTY_LOGGERS = ("anny", "warp")


def verbose() -> bool:
    """True when the user asked for third-party output (``-v`` / ``ORSCENE_VERBOSE=1``)."""
    return os.environ.get("ORSCENE_VERBOSE", "").lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def native_stderr_quiet():
    """Send what native code writes to stderr (fd 2) to /dev/null inside the block, unless
    verbose. Python's own stderr is flushed first and restored after."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_third_party() -> None:
    """Third-party loggers (anny's cache lines) at WARNING unless verbose."""
    if not verbose():
        for name in _THIRD_PARTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def quiet_warp() -> None:
    """Initialize Warp (used by anny's skinning) without its banner and, on machines
    without a CUDA driver, without its native CUDA warning; no-op when verbose or when
    Warp is not installed."""
    if verbose():
        return
    try:
        import warp
    except ImportError:
        return
    warp.config.log_level = warp.LOG_WARNING
    with native_stderr_quiet():
        warp.init()
