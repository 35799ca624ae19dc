"""Where the anny body model's data cache lives, and how it is built once.

anny builds its model data on first use (about 2-3 minutes on 2 cores, ~790 MB in three
files). Only the compact model file (~51 MB, ``build_compact_model_data_*.safetensors``)
is needed to create the default model; the two intermediate files are deleted after the
build. The cache lives in ``$ORSCENE_CACHE/anny`` (default ``~/.cache/orscene/anny``), so
clones share it. ``python -m orscene.body.anny_cache --ensure`` (run by ``make``) builds it
when absent; tests and the demo only ever load it.
"""

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from orscene.errors import ModelFileError, excerpt

__all__ = [
    "orscene_cache_dir", "anny_cache_dir", "configure_anny_cache", "ensure_anny_cache", "anny_cache_ready", "check_anny_cache_buildable",
    "check_anny_cache_files",
]  # fmt: skip

log = logging.getLogger(__name__)

_COMPACT_GLOB = "v*/build_compact_model_data_*.safetensors"
_INTERMEDIATE_GLOBS = ("v*/build_model_data_*.safetensors", "v*/load_data_*.safetensors")


def orscene_cache_dir() -> Path:
    """``$ORSCENE_CACHE`` or ``~/.cache/orscene``."""
    return Path(os.environ.get("ORSCENE_CACHE", Path.home() / ".cache" / "orscene")).expanduser()


def anny_cache_dir() -> Path:
    return orscene_cache_dir() / "anny"


def configure_anny_cache() -> Path:
    """Point anny at orscene's cache directory (call before creating a model)."""
    import anny.paths

    path = anny_cache_dir()
    anny.paths.set_anny_cache_path(path)
    return path


def anny_cache_ready() -> bool:
    return any(anny_cache_dir().glob(_COMPACT_GLOB))


def check_anny_cache_buildable() -> None:
    """Raise :class:`ModelFileError` (one line) when the cache is absent and its folder cannot
    be written (read-only ``ORSCENE_CACHE``, no permission): anny would build the model data
    there on first use and fail minutes later; or when it is present but a file of it is
    truncated or corrupt (:func:`check_anny_cache_files`). Cheap (one glob, file headers)."""
    if anny_cache_ready():
        check_anny_cache_files()
        return
    path = anny_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ModelFileError(
            f"the anny body model cache is not built and cannot be built here ({e.strerror}): make ORSCENE_CACHE a writable "
            "folder, or build the cache once with `python -m orscene.body.anny_cache --ensure`",
            path,
        ) from None


def check_anny_cache_files() -> None:
    """Raise :class:`ModelFileError` (one line, naming the file) when a compact model file in
    the cache is truncated or is not a readable safetensors file (anny would fail on it with
    a traceback). Reads only each file's header (a memory map): cheap. A file whose tensor
    bytes are damaged but whose size is right is not detected."""
    from safetensors import safe_open

    for path in sorted(anny_cache_dir().glob(_COMPACT_GLOB)):
        try:
            with safe_open(str(path), framework="pt") as f:
                if not list(f.keys()) or "metadata" not in (f.metadata() or {}):
                    raise ValueError("no tensors or no anny metadata")
        except Exception as e:  # noqa: BLE001 - safetensors raises its own error types (and OSError)
            reason = excerpt(str(e)) or type(e).__name__
            raise ModelFileError(
                f"the anny model cache file is truncated or corrupt ({reason}): delete it and rebuild the cache with "
                "`python -m orscene.body.anny_cache --ensure`",
                path,
            ) from None


def ensure_anny_cache() -> Path:
    """Build the compact anny model file if absent; keep only it. Returns the cache dir."""
    path = configure_anny_cache()
    if anny_cache_ready():
        return path
    import anny

    log.info("building the anny body model cache in %s (once, about 3 minutes)", path)
    t0 = time.perf_counter()
    anny.Anny()
    for pattern in _INTERMEDIATE_GLOBS:
        for f in path.glob(pattern):
            f.unlink()
    if not anny_cache_ready():
        raise RuntimeError(f"anny did not write its compact model file under {path}")
    log.info("anny cache built in %.0f s", time.perf_counter() - t0)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ensure", action="store_true", help="build the cache if it is absent")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.ensure:
        path = ensure_anny_cache()
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        print(f"anny cache ready: {path} ({size:.0f} MB)")
    else:
        print(f"anny cache {'ready' if anny_cache_ready() else 'absent'}: {anny_cache_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
