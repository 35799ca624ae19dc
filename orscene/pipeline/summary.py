"""The honest end of a run: what went through which path, what was uncertain, what to review.

Pure: from the audit records that :mod:`orscene.pipeline.process` writes per frame-set
(``audit.json``'s ``framesets``) to a typed :class:`RunReview`, its ``review.json`` form,
and the lines ``cli.py process`` ends with. A run is "all clear" only when nothing was
uncertain; otherwise review is recommended and the frame-sets to look at are ranked.

What counts as uncertain in a frame-set:

- a view obscured or withheld because its processing failed;
- a head alignment rejected (registration ran, its result was implausible);
- a head tracked in 3D without a face pose (too little depth near it, or no depth);
- a face seen in one view only: anonymized from a 2D skeleton or a 2D face detector that
  no 3D track explains, so no other view confirms it (and other views may miss it).

Heads of tracks not yet settled go through the 2D head path by design; they are counted
in the faces per path but are not, alone, a reason for review.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FramesetReview", "RunReview", "review_run", "review_lines"]

PATHS = ("render3d", "head2d", "head3d", "detector2d", "obscured")
"""Face paths in the order they are reported (:class:`orscene.types.FaceSource` values)."""

_OBSCURED_WEIGHT = 3.0
"""A view obscured or withheld weighs this many other uncertain items in the ranking."""


@dataclass(frozen=True)
class FramesetReview:
    """One frame-set worth a second look, and why."""

    frame: int
    score: float
    """Obscured views x 3 + rejected alignments + heads without a face pose + one-view faces."""
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RunReview:
    """Counts over a whole run, and the frame-sets to review (most uncertain first)."""

    framesets: int
    faces_by_path: Mapping[str, int]
    """Face boxes per path over every view (render3d, head2d, detector2d, obscured)."""
    heads_aligned: int
    """Head alignments accepted (one per person and keyframe)."""
    heads_rejected: int
    """Head alignments rejected: the skeleton's head pose stands, the 2D path covers the head."""
    heads_without_face_pose: int
    """Heads tracked in 3D without a face pose: too little depth near them for alignment."""
    faces_one_view: int
    """Faces no 3D track explains (a 2D skeleton or a face detector in one view)."""
    views_obscured: int
    """Views obscured or withheld because their frame-set failed."""
    review: tuple[FramesetReview, ...]

    @property
    def review_recommended(self) -> bool:
        return bool(self.review)

    def to_dict(self) -> dict:
        """The ``review.json`` form (also kept in ``summary.json`` without the list)."""
        return {
            "review_recommended": self.review_recommended,
            "framesets": self.framesets,
            "framesets_to_review": len(self.review),
            "faces_by_path": dict(self.faces_by_path),
            "heads_aligned": self.heads_aligned,
            "heads_rejected": self.heads_rejected,
            "heads_without_face_pose": self.heads_without_face_pose,
            "faces_one_view": self.faces_one_view,
            "views_obscured": self.views_obscured,
            "review": [{"frame": r.frame, "score": r.score, "reasons": list(r.reasons)} for r in self.review],
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "RunReview":
        items = tuple(FramesetReview(int(r["frame"]), float(r["score"]), tuple(r["reasons"])) for r in d.get("review", ()))
        return cls(
            int(d["framesets"]), dict(d["faces_by_path"]), int(d["heads_aligned"]), int(d["heads_rejected"]),
            int(d["heads_without_face_pose"]), int(d["faces_one_view"]), int(d["views_obscured"]), items,
        )


def review_run(framesets: Iterable[Mapping]) -> RunReview:
    """Summarize a run from its audit records (``audit.json["framesets"]``).

    Each record: ``{"frame", "persons": [{"track", "settled", "head", "fitted"}, ...],
    "views": {camera: {"status", "faces": [{"person", "source", ...}, ...]}}}``. A head
    status repeats on every frame-set between two keyframes; it is counted once per person
    and keyframe (``fitted``).
    """
    by_path = dict.fromkeys(PATHS, 0)
    heads: dict[tuple[int, int], str] = {}
    one_view = obscured = n = 0
    items: list[FramesetReview] = []
    for rec in framesets:
        n += 1
        reasons: list[str] = []
        score = 0.0
        n_obscured = 0
        n_one_view = 0
        for view in rec.get("views", {}).values():
            if view.get("status", "anonymized") != "anonymized":
                n_obscured += 1
            for face in view.get("faces", ()):
                src = face.get("source", "")
                by_path[src] = by_path.get(src, 0) + 1
                if src in ("head2d", "detector2d") and int(face.get("person", -1)) < 0:
                    n_one_view += 1
        if n_obscured:
            reasons.append(f"{n_obscured} view{'s' * (n_obscured > 1)} obscured or withheld ({rec.get('error', 'processing failed')})")
            score += _OBSCURED_WEIGHT * n_obscured
        rejected = sorted(int(p["track"]) for p in rec.get("persons", ()) if p.get("head") == "rejected")
        no_pose = sorted(int(p["track"]) for p in rec.get("persons", ()) if p.get("head") == "keypoints_only")
        if rejected:
            reasons.append("head alignment rejected: person " + ", ".join(map(str, rejected)))
            score += len(rejected)
        if no_pose:
            reasons.append("head without a face pose: person " + ", ".join(map(str, no_pose)))
            score += len(no_pose)
        if n_one_view:
            reasons.append(f"{n_one_view} face{'s' * (n_one_view > 1)} seen in one view only")
            score += n_one_view
        for p in rec.get("persons", ()):
            heads[(int(p["track"]), int(p.get("fitted", rec.get("frame", -1))))] = str(p.get("head", ""))
        one_view += n_one_view
        obscured += n_obscured
        if reasons:
            items.append(FramesetReview(int(rec.get("frame", n - 1)), score, tuple(reasons)))
    status = list(heads.values())
    items.sort(key=lambda r: (-r.score, r.frame))
    return RunReview(
        framesets=n,
        faces_by_path=by_path,
        heads_aligned=status.count("aligned"),
        heads_rejected=status.count("rejected"),
        heads_without_face_pose=status.count("keypoints_only"),
        faces_one_view=one_view,
        views_obscured=obscured,
        review=tuple(items),
    )


def review_lines(r: RunReview, review_path: Path | str | None = None) -> list[str]:
    """The last lines of ``cli.py process``: faces per path, uncertain items, the verdict."""
    paths = ", ".join(f"{r.faces_by_path.get(k, 0)} {k}" for k in PATHS)
    extra = ", ".join(f"{v} {k}" for k, v in r.faces_by_path.items() if k not in PATHS)
    lines = [
        f"faces by path: {paths}{', ' + extra if extra else ''}",
        f"head alignments: {r.heads_aligned} accepted, {r.heads_rejected} rejected; "
        f"{r.heads_without_face_pose} heads tracked without a face pose",
        f"faces seen in one view only: {r.faces_one_view}; views obscured or withheld: {r.views_obscured}",
    ]
    if r.review_recommended:
        where = f": ranked in {review_path}" if review_path is not None else ""
        lines.append(f"review recommended: {len(r.review)} of {r.framesets} frame-sets had uncertain faces{where}")
    else:
        lines.append("all clear: every head aligned, every face tracked in 3D, no view obscured")
    return lines
