"""The public Python API: ``orscene.process``, ``orscene.evaluate``, ``orscene.open_session``.

The same work as the ``orscene process`` / ``orscene evaluate`` commands, called from
Python: a session is given by its folder (or by name under ``recordings``), the command's
options are keyword arguments with the same names (``workers=2``, ``format="mp4"``), and
the result is the run summary / evaluation result as a dict. ``import orscene`` stays
light: this module, and the stages behind it, load on the first call.

The examples run as doctests (``tests/test_public_api.py``) on a tiny synthetic session
``session_path`` (two cameras, two frame-sets) and an output folder ``out_path``.
"""

import dataclasses
import enum
import typing
from pathlib import Path

__all__ = ["process", "evaluate", "open_session"]


def _session_args(session: str | Path, recordings: str | Path | None) -> tuple[str, Path | None]:
    """``(name, recordings root)`` from a session folder, or a name under ``recordings``."""
    path = Path(session)
    if recordings is None and (path.is_dir() or len(path.parts) > 1):
        return path.name, path.parent
    return str(session), None if recordings is None else Path(recordings)


def _config(cls, **options):
    """``cls(**options)`` with enum options given by value (``format="mp4"``)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; the options are {sorted(names)}")
    out = {}
    for name, value in options.items():
        hint = hints[name]
        args = typing.get_args(hint)
        if isinstance(hint, type) and issubclass(hint, enum.Enum) and not isinstance(value, hint):
            value = hint(value)
        elif typing.get_origin(hint) is tuple and args and isinstance(args[0], type) and issubclass(args[0], enum.Enum):
            value = tuple(v if isinstance(v, args[0]) else args[0](v) for v in value)
        out[name] = value
    return cls(**out)


def open_session(session_path: str | Path):
    """Open a session folder (``session.yaml``, calibration, one source per camera) for
    reading its synchronized frame-sets; see :class:`orscene.recording.SessionReader`.

    >>> import orscene
    >>> reader = orscene.open_session(session_path)
    >>> reader.camera_names
    ('cam0', 'cam1')
    >>> reader.n_framesets
    2
    >>> fs = next(iter(reader.framesets(0, 1)))
    >>> sorted(fs.views), fs.views["cam0"].rgb.shape
    (['cam0', 'cam1'], (180, 320, 3))
    """
    from orscene.recording.reader import open_session as _open

    return _open(session_path)


def process(session: str | Path, *, recordings: str | Path | None = None, out: str | Path | None = None, **options) -> dict:
    """Anonymize every face in every view of a session (``orscene process``); returns the
    run summary (also written to ``out/summary.json``). ``session``: a session folder, or
    a session name under ``recordings``. ``options``: those of ``orscene process --help``,
    by field name (``workers=2``, ``format="mp4"``, ``pipeline=PipelineConfig(...)``).

    >>> import orscene
    >>> summary = orscene.process(session_path, out=out_path, format="images")
    >>> summary["framesets"], summary["views"]
    (2, 4)
    >>> sorted(p.name for p in (out_path / "images" / "cam0").iterdir())
    ['000000.jpg', '000001.jpg']
    >>> summary["review"]["framesets_to_review"] == len(json.loads((out_path / "review.json").read_text())["review"])
    True
    """
    from orscene.pipeline.run import ProcessConfig, process_session

    name, root = _session_args(session, recordings)
    kw = dict(options)
    if root is not None:
        kw["recordings"] = root
    if out is not None:
        kw["out"] = Path(out)
    return process_session(_config(ProcessConfig, session=name, **kw))


def evaluate(session: str | Path, *, recordings: str | Path | None = None, predictions: str | Path | None = None, **options) -> dict:
    """Score anonymization against a session's face annotations (``orscene evaluate``):
    recall, holistic recall, leak rate, per camera, and 2D baselines. ``predictions``: the
    output folder of :func:`process` (default ``outputs/<session>``); ``options``: those of
    ``orscene evaluate --help`` by field name (``baselines=()`` to skip the baselines).

    >>> import orscene
    >>> result = orscene.evaluate(session_path, predictions=out_path, baselines=(), quality=False)
    >>> result["n_annotated_frames"]
    2
    >>> 0.0 <= result["recall"] <= 1.0 and 0.0 <= result["leak_rate"] <= 1.0
    True
    """
    from orscene.evaluate.run import EvaluateConfig, evaluate_session

    name, root = _session_args(session, recordings)
    kw = dict(options)
    if root is not None:
        kw["recordings"] = str(root)
    if predictions is not None:
        kw["predictions"] = str(predictions)
    result = evaluate_session(_config(EvaluateConfig, session=name, **kw))
    result.pop("_table", None)
    return result
