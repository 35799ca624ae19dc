"""The per-view decision: how each face of one view is covered, and why.

:func:`decide_view` is that decision, a pure function: from the view's tracked people
(their poses, body fits and head statuses), what :func:`orscene.render.render_faces` made of
their faces in the view, the 2D skeletons and the face detectors' boxes, it returns one
:class:`FaceDecision` per face covered (and one per tracked person left uncovered in the
view), with the regions the 2D path must anonymize. ``process._anonymize_view`` renders,
decides, and anonymizes those regions; ``audit.json`` keeps every record
(:meth:`FaceDecision.to_dict`). Per view, in this order:

1. **3D path** — every settled track whose head was aligned to the point cloud
   (``HeadStatus.ALIGNED``, :func:`head_status_vouches`) in a calibrated camera: its face
   template is rendered with depth-based visibility and Poisson-blended (``render3d``). A
   face the render finds hidden by a nearer surface, turned away or out of the view needs
   no cover there (``uncovered``, with the render's reason).
2. **Projected heads** — every other track (no body fit, young, alignment skipped or
   rejected), and every track in a view where the 3D path cannot vouch (no depth, or a
   depth the render overruled, ``RenderedFacePatch.depth_doubt``: there the rendered face
   stays and the head is covered in 2D as well): the head sphere of the 3D skeleton
   projected into the view is anonymized in 2D (``head2d``; :func:`plan_view_regions`).
   An uncalibrated view has neither: only steps 3 and 4.
3. **2D skeletons** — a 2D skeleton in the view that no track explains (a person detected
   in 2D but not tracked in 3D): its head region is anonymized in 2D (``head2d``).
3b. **3D head tracks** -- every head that the head stage tracks (``orscene.heads``) and no
   tracked skeleton explains (a person BlazePose missed): its head sphere projected into
   every calibrated view where it may be visible, covered in 2D; its estimated face box
   reported where the face may point at the camera (``head3d``;
   ``orscene.pipeline.heads3d``).
4. **Face detectors** — the faces CenterFace and BlazeFace found in the view (on
   whole-image passes; in between, CenterFace's windows and the faces held from the
   nearest passes, ``orscene.pipeline.keyframes``): one that the masks so far do not cover
   is anonymized in 2D (``detector2d``); one inside a head region refines that region's
   reported face box.

The union of everything anonymized is the view's mask. The pipeline raises on any error:
the caller obscures or withholds the whole frame-set (fail closed; ``obscured``, with
:data:`Why.FAILED` or :data:`Why.UNREADABLE`).
"""

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from orscene import anonymize2d
from orscene.pipeline.fallback import FallbackConfig, HeadRegion, head_region_from_3d, head_regions_from_2d
from orscene.render import RenderedFaces, RenderOutcome, RenderStatus
from orscene.types import BodyFit, Camera, FaceBox, FaceSource, HeadAlignment, HeadStatus, Keypoints2D, PersonPose

if TYPE_CHECKING:
    from orscene.pipeline.heads3d import Head3DRegion

__all__ = [
    "ViewStatus", "ViewResult", "PersonRecord", "FramesetResult", "Why", "FaceDecision", "ViewDecision", "decide_view",
    "plan_view_regions", "head_status_vouches", "obscure_image", "covered_fraction",
]


class ViewStatus(enum.StrEnum):
    """How a view was written (its ``.value`` is what ``audit.json`` says)."""

    ANONYMIZED = "anonymized"
    OBSCURED = "obscured"
    """Written coarsely pixelated and darkened: its processing failed (fail closed)."""
    WITHHELD = "withheld"
    """Not written (a black frame in the MP4): its processing failed (``--on-error withhold``)."""


class Why(enum.Enum):
    """Why a face of a view is covered the way it is (or, for a tracked person, not at all)."""

    RENDERED = "rendered"
    """``render3d``: the face template was drawn over the face."""
    NO_BODY_FIT = "no_body_fit"
    """``head2d``: the track has no body fit on this frame-set (none carried to it)."""
    NOT_SETTLED = "not_settled"
    """``head2d``: the track is too young for the 3D path to vouch for it."""
    NOT_ALIGNED = "not_aligned"
    """``head2d``: the head was not aligned to the point cloud (``HeadStatus`` keypoints_only or rejected)."""
    NO_DEPTH = "no_depth"
    """``head2d``: the view has no depth (or it was ignored): the render cannot tell hidden
    from visible, the rendered face (if any) stays and the head is covered in 2D as well."""
    DEPTH_DOUBTED = "depth_doubted"
    """``head2d``: the render overruled the view's depth for this face (drawn whole): the
    head is covered in 2D as well."""
    NOT_RENDERED = "not_rendered"
    """``head2d``: the 3D path could vouch but did not render the face in this view."""
    UNTRACKED_SKELETON = "untracked_skeleton"
    """``head2d``: a 2D skeleton of the view that no track explains."""
    HEAD_TRACK = "head_track"
    """``head3d``: a 3D head track (lifted faces, depth people, keypoints) that no tracked
    skeleton explains, its head covered where it may be visible (``orscene.pipeline.heads3d``)."""
    DETECTED = "detected"
    """``detector2d``: a face detector's box that the regions so far do not cover."""
    FAILED = "failed"
    """``obscured``: processing the frame-set or view failed (fail closed)."""
    UNREADABLE = "unreadable"
    """``obscured``: the view's file could not be read."""
    HIDDEN = "hidden"
    """Uncovered: the 3D path vouches and the render found the face hidden by a nearer surface."""
    TURNED_AWAY = "turned_away"
    """Uncovered: the 3D path vouches and the face is turned away from the camera."""
    OUT_OF_VIEW = "out_of_view"
    """Uncovered: the 3D path vouches and the face is behind the camera or outside the image."""
    HEAD_OUT_OF_VIEW = "head_out_of_view"
    """Uncovered: not vouched for, and the projected head is not in the view."""
    NO_CALIBRATION = "no_calibration"
    """Uncovered: the view's camera is not calibrated (no 3D path, no projected heads)."""


_UNCOVERED_BY_RENDER = {RenderStatus.HIDDEN: Why.HIDDEN, RenderStatus.TURNED_AWAY: Why.TURNED_AWAY, RenderStatus.OUT_OF_VIEW: Why.OUT_OF_VIEW}


@dataclass(frozen=True)
class FaceDecision:
    """How one face of one view is covered (``face``), or one tracked person is not
    (``face`` None), and why, with the facts the decision read."""

    person: int
    """Track id; -1 for a face no track explains (2D skeleton, detector box, obscured view)."""
    why: Why
    face: FaceBox | None = None
    """The face as written to ``faces.json``; None for a tracked person left uncovered."""
    settled: bool | None = None
    """Whether the track is settled (None: no track)."""
    head: HeadStatus | None = None
    """The body fit's head status (None: no body fit)."""
    fit_residual_m: float | None = None
    """The body fit's keypoint residual (None: no body fit)."""
    alignment: HeadAlignment | None = None
    """The head alignment's diagnostics (None: none ran for this fit)."""
    render: RenderOutcome | None = None
    """What the render made of the face in this view (None: not rendered)."""
    vouched: bool = False
    """The 3D path vouches for this person in this view (no 2D head region needed)."""
    refined: bool = False
    """A ``head2d`` face whose reported box is a detector's box found inside the head region."""
    evidence: tuple[int, ...] = ()
    """The frame-sets the evidence came from when not seen on this frame-set (the keyframes
    of a carried body, an interpolated track or borrowed skeletons; the whole-image passes
    of a held detector box); empty for a face found on the frame-set itself."""

    def to_dict(self) -> dict:
        """The audit record: ``person``, ``source``, ``box`` and ``evidence`` (when any) as
        before, then ``why`` and the facts (only those known)."""
        out: dict = {"person": self.person}
        if self.face is not None:
            out["source"] = self.face.source.value
            out["box"] = [round(x, 1) for x in self.face.box_xyxy_px]
        if self.evidence:
            out["evidence"] = list(self.evidence)
        out["why"] = self.why.value
        if self.settled is not None:
            out["settled"] = self.settled
        if self.head is not None:
            out["head"] = self.head.value
        if self.fit_residual_m is not None:
            out["fit_residual_m"] = round(float(self.fit_residual_m), 4)
        if self.alignment is not None:
            a = self.alignment
            out["alignment"] = {"points": a.n_points, "fitness": round(a.fitness, 3), "rmse_m": round(a.rmse_m, 4),
                                "translation_m": round(a.translation_m, 4), "rotation_deg": round(a.rotation_deg, 2)}  # fmt: skip
        if self.render is not None:
            r = self.render
            out["render"] = r.status.value
            if r.reason:
                out["render_reason"] = r.reason
            if r.status in (RenderStatus.RENDERED, RenderStatus.HIDDEN):
                out["visible_fraction"] = round(r.visible_fraction, 3)
            if r.depth_doubt:
                out["depth_doubt"] = r.depth_doubt
        if self.person >= 0:
            out["vouched"] = self.vouched
        if self.refined:
            out["refined"] = True
        return out


@dataclass(frozen=True)
class ViewDecision:
    """:func:`decide_view`'s answer for one view."""

    faces: tuple[FaceDecision, ...]
    """One per face covered, in the order written (render3d, detector2d, head2d)."""
    regions: tuple[tuple[float, float, float, float], ...]
    """Boxes to anonymize in 2D (pixel-edge convention): head regions, then detector boxes."""
    uncovered: tuple[FaceDecision, ...] = ()
    """One per tracked person with no face covered in the view, with why."""

    @property
    def counts(self) -> dict[str, int]:
        """Faces covered per path (``render3d``, ``head2d``, ``detector2d``, and ``head3d``
        where a head track was covered)."""
        out = {"render3d": 0, "head2d": 0, "detector2d": 0}
        for d in self.faces:
            out[d.face.source.value] = out.get(d.face.source.value, 0) + 1
        return out


@dataclass(frozen=True)
class ViewResult:
    camera: str
    rgb: np.ndarray | None
    """Anonymized image, or None when withheld."""
    mask: np.ndarray
    """(H, W) bool: pixels anonymized."""
    faces: tuple[FaceBox, ...]
    status: ViewStatus
    reason: str = ""
    counts: Mapping[str, int] = field(default_factory=dict)
    decisions: tuple[FaceDecision, ...] = ()
    """Per face (in ``faces``' order), how and why it was covered (its ``evidence`` among
    them); then, beyond ``len(faces)``, the tracked people left uncovered in the view."""
    file: str = ""
    """The input file that could not be read, when that is why the view is not anonymized."""

    def __post_init__(self) -> None:
        if len(self.decisions) < len(self.faces):
            raise ValueError(f"ViewResult[{self.camera}]: {len(self.faces)} faces but {len(self.decisions)} decisions")


@dataclass(frozen=True)
class PersonRecord:
    """One tracked person of a frame-set, as ``audit.json`` keeps it (``persons``)."""

    track: int
    settled: bool
    head: HeadStatus
    fitted: int
    """The keyframe its body was fitted on (the frame-set itself on a keyframe)."""

    def to_dict(self) -> dict:
        return {"track": self.track, "settled": self.settled, "head": self.head.value, "fitted": self.fitted}


@dataclass(frozen=True)
class FramesetResult:
    index: int
    timestamp_ns: int
    views: Mapping[str, ViewResult]
    persons: tuple[PersonRecord, ...] = ()
    error: str = ""
    depth_ignored: Mapping[str, str] = field(default_factory=dict)
    """Views whose depth was implausible as a whole, with why: RGB-only for this frame-set."""


def covered_fraction(mask: np.ndarray, box: Sequence[float]) -> float:
    """Share of the pixels of ``box`` (pixel-edge convention) set in ``mask``."""
    h, w = mask.shape
    x0, y0 = max(0, int(np.ceil(box[0] + 0.5 - 1e-6))), max(0, int(np.ceil(box[1] + 0.5 - 1e-6)))
    x1, y1 = min(w, int(np.floor(box[2] + 0.5 + 1e-6))), min(h, int(np.floor(box[3] + 0.5 + 1e-6)))
    if x1 <= x0 or y1 <= y0:
        return 1.0
    return float(mask[y0:y1, x0:x1].mean())


def obscure_image(rgb: np.ndarray, block_frac: float = 1 / 20) -> np.ndarray:
    """Fully obscure a view: coarse pixelation (blocks of ``block_frac`` of the long side,
    so that a face spans at most a few blocks), darkened."""
    import cv2

    h, w = rgb.shape[:2]
    block = max(8, int(max(h, w) * block_frac))
    small = cv2.resize(rgb, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    return (out.astype(np.uint16) * 3 // 5).astype(np.uint8)


@dataclass(frozen=True)
class RegionPlan:
    """What to anonymize in 2D in one view, with the records to report."""

    regions: tuple[HeadRegion, ...]
    sources: tuple[FaceSource, ...]
    persons: tuple[int, ...]


def plan_view_regions(
    camera_name: str,
    camera: Camera | None,
    width: int,
    height: int,
    poses: Sequence[PersonPose],
    vouched: Mapping[int, bool],
    keypoints: Keypoints2D | None,
    cfg: FallbackConfig,
) -> RegionPlan:
    """Head regions of steps 2 and 3 for one view (see the module docstring).

    ``vouched[track_id]`` is True when the 3D path renders that person's face in this view.
    """
    regions: list[HeadRegion] = []
    sources: list[FaceSource] = []
    persons: list[int] = []
    projected: list[HeadRegion] = []
    if camera is not None:
        for pose in poses:
            reg = head_region_from_3d(pose, camera, cfg)
            if reg is None:
                continue
            projected.append(reg)
            if not vouched.get(pose.track_id, False):
                regions.append(reg)
                sources.append(FaceSource.HEAD_2D)
                persons.append(pose.track_id)
    if keypoints is not None:
        for reg in head_regions_from_2d(keypoints, width, height, cfg):
            explained = any(
                np.hypot(reg.center_px[0] - p.center_px[0], reg.center_px[1] - p.center_px[1]) <= cfg.match_distance * max(p.radius_px, 4.0)
                for p in projected
            )
            if not explained:
                regions.append(reg)
                sources.append(FaceSource.HEAD_2D)
                persons.append(-1)
    return RegionPlan(tuple(regions), tuple(sources), tuple(persons))


def head_status_vouches(status: HeadStatus, settled: bool) -> bool:
    """The 3D path vouches for a face only for a settled track with an aligned head."""
    return settled and status is HeadStatus.ALIGNED


def with_head_regions(plan: RegionPlan, regions: Sequence["Head3DRegion"], match_distance: float = 1.5) -> tuple[RegionPlan, set[int]]:
    """``plan`` with the head-track regions inserted after the tracked skeletons' and
    before the 2D skeletons' (source ``HEAD_3D``, person = head track id; a face detector's
    box refines the first region that holds it), and the indices of the new plan's regions
    whose face box is not to be reported (unless a detector's box refines it): a head
    facing away, and a 2D skeleton's head (person -1) that a reported head-track region
    explains (its face is reported once, from the head track)."""
    if not regions:
        return plan, set()
    cut = next((k for k, p in enumerate(plan.persons) if p == -1), len(plan.persons))
    regs = plan.regions[:cut] + tuple(r.region for r in regions) + plan.regions[cut:]
    srcs = plan.sources[:cut] + (FaceSource.HEAD_3D,) * len(regions) + plan.sources[cut:]
    pers = plan.persons[:cut] + tuple(r.track_id for r in regions) + plan.persons[cut:]
    silent = {cut + j for j, r in enumerate(regions) if not r.report}
    for k in range(cut + len(regions), len(regs)):
        reg = regs[k]
        for r in regions:
            if r.report and np.hypot(reg.center_px[0] - r.region.center_px[0], reg.center_px[1] - r.region.center_px[1]) <= match_distance * max(r.region.radius_px, 4.0):
                silent.add(k)
                break
    return RegionPlan(regs, srcs, pers), silent


def decide_view(
    frame: int,
    camera_name: str,
    camera: Camera | None,
    size_wh: tuple[int, int],
    has_depth: bool,
    poses: Sequence[PersonPose],
    fits: Mapping[int, BodyFit],
    rendered: RenderedFaces | None,
    render_mask: np.ndarray,
    keypoints: Keypoints2D | None,
    detected: Sequence[tuple[Sequence[float], float]],
    cfg: FallbackConfig,
    detector_cover_threshold: float,
    borrowed: Sequence[int] = (),
    held: Sequence[Sequence[int]] | None = None,
    head3d: Sequence["Head3DRegion"] = (),
) -> ViewDecision:
    """How each face of one view is covered, and why (see the module docstring).

    ``fits``: the body fits by track id; ``rendered``: :func:`orscene.render.render_faces`'
    answer for the faces the 3D path rendered in this view (None: none); ``render_mask``:
    the pixels the blended faces cover; ``has_depth``: the view's depth was used for
    visibility; ``detected``: the detectors' ``(box, score)`` on this view; ``borrowed``:
    the keyframes a non-keyframe's bodies and skeletons come from (empty on a keyframe);
    ``held``: per detection, the passes a held box comes from; ``head3d``: the head tracks
    no tracked skeleton explains, to cover in this view
    (:func:`orscene.pipeline.heads3d.view_head_regions`). Pure: the same inputs give the
    same records.
    """
    w, h = size_wh
    outcomes = {o.track_id: o for o in rendered.outcomes} if rendered is not None else {}
    patches = list(rendered.patches) if rendered is not None else []
    settled = {p.track_id: p.settled for p in poses}
    # a person is vouched for (no 2D head region) only where the view's own depth decided
    # visibility: in a view without depth, or where the render overruled that depth
    # (depth_doubt), the rendered face stands and the 2D path covers the head as well
    vouched = {t: has_depth and not o.depth_doubt for t, o in outcomes.items()}

    def facts(track: int, why: Why, face: FaceBox | None = None, **kw) -> FaceDecision:
        f = fits.get(track)
        return FaceDecision(
            track, why, face, settled.get(track), None if f is None else f.head_status, None if f is None else f.fit_residual_m,
            None if f is None else f.alignment, outcomes.get(track), vouched.get(track, False), **kw,
        )  # fmt: skip

    # 1. the 3D path's drawn faces
    drawn = [p for p in patches if p.mask.any()]
    rendered_faces = [
        facts(p.track_id, Why.RENDERED, _patch_face_box(frame, camera_name, p), evidence=tuple(borrowed)) for p in drawn
    ]

    # 2 + 3. projected heads, head tracks no skeleton explains, untracked 2D skeletons
    plan = plan_view_regions(camera_name, camera, w, h, poses, vouched, keypoints, cfg)
    plan, silent = with_head_regions(plan, head3d, cfg.match_distance)
    regions = [r.head_box_xyxy_px for r in plan.regions]
    head_faces = [
        FaceBox(frame, camera_name, person, reg.face_box_xyxy_px, 1.0, 1.0, False, src)
        for reg, src, person in zip(plan.regions, plan.sources, plan.persons)
    ]
    refined = [False] * len(head_faces)

    # 4. face detectors (on the original image): any face not yet covered is anonymized; a
    # face inside a head region refines that region's reported face box (a detector box is
    # tighter than a face box estimated from a skeleton)
    held_by_box: dict[tuple, list[int]] = {}
    for d, frames in zip(detected, held or []):
        held_by_box.setdefault(tuple(d[0]), frames)
    planned = render_mask | _box_mask(regions, h, w)
    detector_faces = []
    for box, score in sorted(detected, key=lambda d: -d[1]):
        if covered_fraction(planned, box) >= detector_cover_threshold:
            cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
            for k, reg in enumerate(plan.regions):
                x0, y0, x1, y1 = reg.head_box_xyxy_px
                if not refined[k] and x0 <= cx <= x1 and y0 <= cy <= y1:
                    head_faces[k] = FaceBox(frame, camera_name, head_faces[k].person, tuple(box), float(score), 1.0, False, head_faces[k].source)
                    refined[k] = True
                    break
            continue
        planned |= _box_mask([box], h, w)
        regions.append(tuple(box))
        face = FaceBox(frame, camera_name, -1, tuple(box), float(score), 1.0, False, FaceSource.DETECTOR_2D)
        detector_faces.append(FaceDecision(-1, Why.DETECTED, face, evidence=tuple(held_by_box.get(tuple(box), []))))

    # a head-track region facing away (or a 2D skeleton's head that a reported head track
    # explains) is covered but not reported, unless a detector's box refined it
    kept = [k for k in range(len(head_faces)) if k not in silent or refined[k]]
    heads = [_head_decision(head_faces[k], refined[k], facts, fits, settled, has_depth, outcomes, borrowed) for k in kept]
    covered = {d.person for d in (*rendered_faces, *heads)}
    uncovered = tuple(facts(p.track_id, _why_uncovered(p.track_id, camera, vouched, outcomes)) for p in poses if p.track_id not in covered)
    return ViewDecision((*rendered_faces, *detector_faces, *heads), tuple(regions), uncovered)


def _head_decision(face: FaceBox, refined: bool, facts, fits, settled, has_depth: bool, outcomes, borrowed: Sequence[int]) -> FaceDecision:
    """The record of a head region's face: a 3D head track, a tracked skeleton's projected
    head, or an untracked 2D skeleton."""
    if face.source is FaceSource.HEAD_3D:
        return FaceDecision(face.person, Why.HEAD_TRACK, face, refined=refined, evidence=tuple(borrowed))
    if face.person >= 0:
        return facts(face.person, _why_head2d(face.person, fits, settled, has_depth, outcomes), face, refined=refined, evidence=tuple(borrowed))
    return FaceDecision(-1, Why.UNTRACKED_SKELETON, face, refined=refined, evidence=tuple(borrowed))


def _patch_face_box(frame: int, camera_name: str, patch) -> FaceBox:
    """The face a rendered patch covers, as ``faces.json`` lists it."""
    return FaceBox(frame, camera_name, patch.track_id, patch.box_xyxy_px, 1.0, float(patch.visible_fraction), False, FaceSource.RENDER_3D)


def _why_head2d(track: int, fits: Mapping[int, BodyFit], settled: Mapping[int, bool], has_depth: bool, outcomes: Mapping[int, RenderOutcome]) -> Why:
    """Why the 3D path does not vouch for a tracked person's face (its head is covered in 2D)."""
    fit = fits.get(track)
    if fit is None:
        return Why.NO_BODY_FIT
    if not settled.get(track, False):
        return Why.NOT_SETTLED
    if fit.head_status is not HeadStatus.ALIGNED:
        return Why.NOT_ALIGNED
    if not has_depth:
        return Why.NO_DEPTH
    if track in outcomes and outcomes[track].depth_doubt:
        return Why.DEPTH_DOUBTED
    return Why.NOT_RENDERED


def _why_uncovered(track: int, camera: Camera | None, vouched: Mapping[int, bool], outcomes: Mapping[int, RenderOutcome]) -> Why:
    """Why a tracked person has no face covered in a view."""
    if camera is None:
        return Why.NO_CALIBRATION
    if vouched.get(track, False):
        return _UNCOVERED_BY_RENDER.get(outcomes[track].status, Why.HIDDEN)  # drawn with an empty mask: hidden
    return Why.HEAD_OUT_OF_VIEW


def _box_mask(boxes, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    for box in boxes:
        m |= anonymize2d.box_to_mask(box, h, w)
    return m
