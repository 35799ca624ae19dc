"""What a finished ``cli.py process`` run left, and what its reviewers decided since.

A run's output folder (:mod:`orscene.pipeline.outputs`) holds ``summary.json`` (written
last: its presence means the run finished), ``review.json`` (the frame-sets flagged for
review, most uncertain first: :mod:`orscene.pipeline.summary`), ``audit.json`` and
``faces.json``. Review decisions go to ``review_log.json`` beside them::

    {"format": "orscene-review-log", "version": 1, "session": "OR_03",
     "decisions": [
       {"action": "accept", "frame": 12, "user": "ana", "time_utc": "2026-12-08T01:02:03Z"},
       {"action": "add_face", "frame": 40, "camera": "cam1", "box": [x0, y0, x1, y1],
        "user": "ana", "time_utc": "...", "lifted": "depth", "head_world_m": [x, y, z],
        "covered": {"40": {"cam0": [x0, y0, x1, y1], ...}, "41": {...}}}
     ]}

A flagged frame-set is *resolved* when a decision accepts it or marks a face in it
(``add_face`` at that frame: a reviewer looked at it and fixed what was missing). Frame-sets
that a marked face only propagated to do not count as reviewed.
"""

import datetime
import getpass
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orscene.errors import OrsceneError
from orscene.recording.session import atomic_write_text

__all__ = ["CurateError", "RunOutputs", "ReviewLog", "load_run_outputs", "load_review_log", "append_decision", "unresolved_frames", "reviewer"]

REVIEW_LOG_NAME = "review_log.json"


class CurateError(OrsceneError):
    """A process output folder cannot be curated (unfinished, malformed), or a release is refused."""


@dataclass(frozen=True)
class RunOutputs:
    """The JSON files of a finished run (the images, masks and videos stay on disk)."""

    root: Path
    summary: Mapping
    review: Mapping
    """``review.json``: counts and the ranked ``review`` list."""
    audit: Mapping
    """``audit.json``: inputs with their sha256, config, run options, per frame-set records."""

    @property
    def session(self) -> str:
        return str(self.summary.get("session") or self.audit.get("session", ""))

    @property
    def cameras(self) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for rec in self.audit.get("framesets", ()):
            names.update(dict.fromkeys(rec.get("views", {})))
        return tuple(names)

    @property
    def flagged_frames(self) -> tuple[int, ...]:
        """Frame-sets flagged for review, most uncertain first."""
        return tuple(int(r["frame"]) for r in self.review.get("review", ()))


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CurateError(f"{what} not found (is this a finished `cli.py process` output folder?)", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise CurateError(f"cannot read {what}: {e}", path) from None
    except json.JSONDecodeError as e:
        raise CurateError(f"malformed JSON in {what}: {e.msg} (line {e.lineno})", path) from None
    if not isinstance(data, dict):
        raise CurateError(f"{what} is not a JSON object", path)
    return data


def load_run_outputs(root: str | Path) -> RunOutputs:
    """The JSON files of a finished run; one-line :class:`CurateError` when the folder is
    missing, unfinished (no ``summary.json``) or a file is malformed."""
    root = Path(root)
    if not root.is_dir():
        raise CurateError("output folder not found", root)
    summary = _read_json(root / "summary.json", "summary.json")
    review = _read_json(root / "review.json", "review.json")
    audit = _read_json(root / "audit.json", "audit.json")
    for key in ("framesets", "review"):
        if key not in review:
            raise CurateError(f"review.json has no {key!r}", root / "review.json")
    if not isinstance(audit.get("framesets"), list):
        raise CurateError("audit.json has no 'framesets' list", root / "audit.json")
    return RunOutputs(root, summary, review, audit)


@dataclass(frozen=True)
class ReviewLog:
    decisions: tuple[Mapping, ...] = ()

    def accepted(self) -> set[int]:
        return {int(d["frame"]) for d in self.decisions if d.get("action") == "accept"}

    def fixed(self) -> set[int]:
        return {int(d["frame"]) for d in self.decisions if d.get("action") == "add_face"}

    def not_faces(self) -> list[tuple[int, str, tuple[float, ...]]]:
        """(frame, camera, box) of the regions marked as not a face."""
        return [(int(d["frame"]), str(d["camera"]), tuple(float(v) for v in d["box"])) for d in self.decisions if d.get("action") == "not_face"]


def load_review_log(root: str | Path) -> ReviewLog:
    path = Path(root) / REVIEW_LOG_NAME
    if not path.exists():
        return ReviewLog()
    data = _read_json(path, REVIEW_LOG_NAME)
    if data.get("format") != "orscene-review-log" or not isinstance(data.get("decisions"), list):
        raise CurateError("not an orscene review log (format 'orscene-review-log' with a 'decisions' list)", path)
    for i, d in enumerate(data["decisions"]):
        if not isinstance(d, dict) or "action" not in d or "frame" not in d:
            raise CurateError(f"decision {i} has no 'action' or 'frame'", path)
    return ReviewLog(tuple(data["decisions"]))


def reviewer() -> str:
    """Who decides: ``$ORSCENE_REVIEWER``, else the login name."""
    name = os.environ.get("ORSCENE_REVIEWER")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container without passwd entry)
        return "unknown"


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def append_decision(root: str | Path, session: str, decision: Mapping) -> dict:
    """Add one decision (with ``user`` and ``time_utc`` filled in when absent) to the log,
    atomically; returns the decision as written."""
    root = Path(root)
    log = load_review_log(root)
    d = {**decision}
    d.setdefault("user", reviewer())
    d.setdefault("time_utc", now_utc())
    doc = {"format": "orscene-review-log", "version": 1, "session": session, "decisions": [*log.decisions, d]}
    atomic_write_text(root / REVIEW_LOG_NAME, json.dumps(doc, indent=1))
    return d


def unresolved_frames(run: RunOutputs, log: ReviewLog) -> tuple[int, ...]:
    """Flagged frame-sets that no decision accepted or fixed, most uncertain first."""
    done = log.accepted() | log.fixed()
    return tuple(f for f in run.flagged_frames if f not in done)
