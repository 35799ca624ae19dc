"""Face anonymization metrics: detection recall/precision/F1, holistic recall, coverage and
leaks, multi-view recall, and image quality of anonymized face crops.

Scoring unit is the *view*: one (frame, camera) of an annotated frame. Only frames listed
in the annotations' ``frames`` are scored (and, when predictions are given, only those
also listed in the predictions' ``frames``); predictions elsewhere are ignored.

Per view (:func:`score_view`):

* matching is one-to-one, greedy by descending prediction score (default: a prediction takes
  the unmatched non-ignored annotated box with the highest IoU >= ``iou_threshold``) or
  Hungarian (``MatchMode.HUNGARIAN``: most matches, then highest total IoU); failing
  that, a prediction overlapping an ``ignore`` box by IoU >= threshold, or lying mostly
  (>= 50 % of its area) inside one, is neither TP nor FP; otherwise it is a false positive;
* coverage of an annotated box = share of its pixels (those lying wholly inside the box,
  ``Box.pixel_range``) set in the view's anonymization mask (no mask = 0); a *leak* is
  coverage < ``leak_coverage`` (0.9);
* image quality: SSIM and PSNR (scikit-image, data range 255) between the original and the
  anonymized crop of each annotated box (lower SSIM = more of the face removed).

Summaries (:func:`summarize`):

* ``recall`` = matched / annotated faces (non-ignored); ``precision`` = TP / (TP + FP);
  ``f1``; the same per camera;
* ``holistic_recall``: a (frame, person) counts as found only if it is matched in every view
  where it is annotated and not ignored (person ``-1`` boxes count as their own group);
* ``multiview_recall_at``: CAMMA-style: a (frame, person) scores the minimum matched
  confidence over its annotated views (0 if any is missed); recall at score thresholds;
* ``leak_rate`` = leaked faces / annotated faces, ``framesets_with_leak``.
"""

import enum
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from orscene.errors import ShapeError
from orscene.recording.faces import FaceAnnotations
from orscene.types import Box, FaceBox, pairwise_ioa, pairwise_iou

__all__ = [
    "MatchMode",
    "MetricsConfig",
    "FaceOutcome",
    "ViewScore",
    "EvaluationResult",
    "match_view",
    "box_coverage",
    "score_view",
    "summarize",
    "evaluate_predictions",
    "scored_views",
]

ImageLookup = Callable[[int, str], "np.ndarray | None"]
"""(frame, camera) -> RGB uint8 image, or None when not available."""
MaskLookup = Callable[[int, str], "np.ndarray | None"]
"""(frame, camera) -> bool (H, W) anonymization mask, or None = nothing anonymized."""

MULTIVIEW_THRESHOLDS = (0.3, 0.5, 0.7, 0.9)


class MatchMode(enum.Enum):
    GREEDY = "greedy"
    """Predictions by descending score each take their best unmatched face."""
    HUNGARIAN = "hungarian"
    """Maximum number of matches (then maximum total IoU) over all one-to-one assignments."""


@dataclass(frozen=True)
class MetricsConfig:
    iou_threshold: float = 0.4
    """A prediction matches an annotated face at IoU >= this."""
    matching: MatchMode = MatchMode.GREEDY
    """One-to-one matching per view: greedy by score, or Hungarian."""
    leak_coverage: float = 0.9
    """An annotated face covered by the anonymization mask less than this share leaks."""
    min_crop_px: int = 7
    """Faces whose crop is smaller than this (either side) are left out of SSIM/PSNR."""
    psnr_cap_db: float = 100.0
    """PSNR of identical crops (infinite) is reported as this."""


@dataclass(frozen=True)
class FaceOutcome:
    """The evaluation of one annotated (non-ignored) face in one view."""

    frame: int
    camera: str
    person: int
    matched: bool
    score: float
    """Score of the matched prediction (0 when missed)."""
    iou: float
    coverage: float | None
    """Share of the box covered by the mask; None when masks were not evaluated."""
    ssim: float | None = None
    psnr: float | None = None
    source: str | None = None
    """Source of the matched prediction (render3d, head2d, detector2d, obscured); None when missed."""


@dataclass(frozen=True)
class ViewScore:
    frame: int
    camera: str
    faces: tuple[FaceOutcome, ...]
    tp: int
    fp: int
    n_predictions: int


@dataclass(frozen=True)
class EvaluationResult:
    recall: float | None
    precision: float | None
    f1: float | None
    holistic_recall: float | None
    leak_rate: float | None
    """None when no anonymization masks were evaluated."""
    framesets_with_leak: int | None
    coverage_mean: float | None
    ssim: float | None
    psnr: float | None
    n_faces: int
    n_groups: int
    n_framesets: int
    n_views: int
    tp: int
    fp: int
    per_camera: dict = field(default_factory=dict)
    multiview_recall_at: dict = field(default_factory=dict)
    matched_by_source: dict = field(default_factory=dict)
    """Matched faces per prediction source (which path found them)."""
    misses: tuple = ()
    """(frame, camera, person) of every missed face."""
    leaks: tuple = ()
    """(frame, camera, person, coverage) of every leaked face."""
    extra: dict = field(default_factory=dict)
    """Optional metrics (lpips, fid) and notes."""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["misses"] = [list(m) for m in self.misses]
        d["leaks"] = [list(m) for m in self.leaks]
        return _json_safe(d)


def _json_safe(x):
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return None if not math.isfinite(v) else round(v, 6)
    if isinstance(x, np.integer):
        return int(x)
    return x


def match_view(
    gt: Sequence[FaceBox],
    ignored: Sequence[FaceBox],
    preds: Sequence[FaceBox],
    iou_threshold: float,
    mode: MatchMode = MatchMode.GREEDY,
) -> tuple[list[int], list[float], list[float], int]:
    """One-to-one matching in one view (greedy by score, or Hungarian).

    Returns (for each gt box: index of its prediction or -1; its IoU; its prediction's
    score; number of false positives)."""
    assign = [-1] * len(gt)
    ious = [0.0] * len(gt)
    scores = [0.0] * len(gt)
    if not preds:
        return assign, ious, scores, 0
    p = np.array([f.box_xyxy_px for f in preds], dtype=np.float64)
    order = np.argsort(-np.array([f.score for f in preds]), kind="stable")
    iou = pairwise_iou(p, [g.box_xyxy_px for g in gt])
    if ignored:
        ig = [g.box_xyxy_px for g in ignored]
        ign_hit = (pairwise_iou(p, ig) >= iou_threshold).any(1) | (pairwise_ioa(p, ig) >= 0.5).any(1)
    else:
        ign_hit = np.zeros(len(preds), dtype=bool)
    taken = np.zeros(len(gt), dtype=bool)
    fp = 0
    if mode is MatchMode.HUNGARIAN:
        from scipy.optimize import linear_sum_assignment

        ok = iou >= iou_threshold
        if ok.any():
            # each valid pair is worth 1 + IoU: first the most matches, then the best overlap
            rows, cols = linear_sum_assignment(np.where(ok, 1.0 + iou, 0.0), maximize=True)
            for i, j in zip(rows, cols):
                if ok[i, j]:
                    taken[j] = True
                    assign[j], ious[j], scores[j] = int(i), float(iou[i, j]), float(preds[i].score)
        used = set(assign)
        fp = sum(1 for i in range(len(preds)) if i not in used and not ign_hit[i])
        return assign, ious, scores, fp
    for i in order:
        cand = np.where(~taken & (iou[i] >= iou_threshold))[0] if len(gt) else np.zeros(0, dtype=int)
        if cand.size:
            j = int(cand[np.argmax(iou[i, cand])])
            taken[j] = True
            assign[j], ious[j], scores[j] = int(i), float(iou[i, j]), float(preds[i].score)
        elif not ign_hit[i]:
            fp += 1
    return assign, ious, scores, fp


def box_coverage(box_xyxy_px: Sequence[float], mask: np.ndarray | None) -> float:
    """Share of the box's pixels (:meth:`Box.pixel_range`, clipped to the image) set in ``mask``.

    A box entirely outside the image counts as covered (nothing of it is visible)."""
    if mask is None:
        return 0.0
    h, w = mask.shape
    c0, r0, c1, r1 = Box.of(box_xyxy_px).pixel_range(w, h)
    if c1 <= c0 or r1 <= r0:
        return 1.0
    return float(mask[r0:r1, c0:c1].mean())


def _crop_quality(box, original: np.ndarray, anonymized: np.ndarray, cfg: MetricsConfig) -> tuple[float | None, float | None]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    h, w = original.shape[:2]
    c0, r0, c1, r1 = Box.of(box).pixel_range(w, h)
    if c1 - c0 < cfg.min_crop_px or r1 - r0 < cfg.min_crop_px:
        return None, None
    a = original[r0:r1, c0:c1]
    b = anonymized[r0:r1, c0:c1]
    side = min(a.shape[:2])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return None, None
    ssim = float(structural_similarity(a, b, channel_axis=2, data_range=255, win_size=win))
    if np.array_equal(a, b):
        psnr = cfg.psnr_cap_db
    else:
        psnr = min(cfg.psnr_cap_db, float(peak_signal_noise_ratio(a, b, data_range=255)))
    return ssim, psnr


def score_view(
    frame: int,
    camera: str,
    annotated: Sequence[FaceBox],
    preds: Sequence[FaceBox],
    cfg: MetricsConfig,
    mask: np.ndarray | None = None,
    original: np.ndarray | None = None,
    anonymized: np.ndarray | None = None,
    with_coverage: bool = True,
) -> ViewScore:
    """Score one view. ``annotated`` holds its annotation boxes (ignored ones included)."""
    gt = [f for f in annotated if not f.ignore]
    ignored = [f for f in annotated if f.ignore]
    if mask is not None:
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ShapeError(f"mask[{frame},{camera}]", "(H, W)", mask.shape)
        mask = mask.astype(bool, copy=False)
    if original is not None and anonymized is not None and original.shape != anonymized.shape:
        raise ShapeError(f"anonymized[{frame},{camera}]", f"shape {original.shape}", anonymized.shape)
    assign, ious, scores, fp = match_view(gt, ignored, preds, cfg.iou_threshold, cfg.matching)
    outcomes = []
    for j, g in enumerate(gt):
        cov = box_coverage(g.box_xyxy_px, mask) if with_coverage else None
        ssim = psnr = None
        if original is not None and anonymized is not None:
            ssim, psnr = _crop_quality(g.box_xyxy_px, original, anonymized, cfg)
        src = preds[assign[j]].source.value if assign[j] >= 0 else None
        outcomes.append(FaceOutcome(frame, camera, g.person, assign[j] >= 0, scores[j], ious[j], cov, ssim, psnr, src))
    tp = sum(a >= 0 for a in assign)
    return ViewScore(frame, camera, tuple(outcomes), tp, fp, len(preds))


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den > 0 else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _mean(values: Iterable[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def summarize(views: Sequence[ViewScore], cfg: MetricsConfig, cameras: Sequence[str] | None = None) -> EvaluationResult:
    faces = [f for v in views for f in v.faces]
    tp = sum(v.tp for v in views)
    fp = sum(v.fp for v in views)
    n = len(faces)
    recall = _ratio(tp, n)
    precision = _ratio(tp, tp + fp)

    # holistic and CAMMA multi-view recall over (frame, person) groups
    groups: dict[tuple, list[FaceOutcome]] = {}
    for k, f in enumerate(faces):
        key = (f.frame, f.person) if f.person >= 0 else (f.frame, "anon", f.camera, k)
        groups.setdefault(key, []).append(f)
    found = [all(f.matched for f in g) for g in groups.values()]
    min_conf = [min(f.score if f.matched else 0.0 for f in g) for g in groups.values()]
    holistic = _ratio(sum(found), len(groups))
    mv = {f"{t:.1f}": _ratio(sum(s >= t and ok for s, ok in zip(min_conf, found)), len(groups)) for t in MULTIVIEW_THRESHOLDS}

    has_cov = any(f.coverage is not None for f in faces)
    leaks = [f for f in faces if f.coverage is not None and f.coverage < cfg.leak_coverage]
    per_camera = {}
    cams = list(cameras) if cameras is not None else sorted({v.camera for v in views})
    for cam in cams:
        cv = [v for v in views if v.camera == cam]
        cf = [f for v in cv for f in v.faces]
        ctp, cfp = sum(v.tp for v in cv), sum(v.fp for v in cv)
        cr, cp = _ratio(ctp, len(cf)), _ratio(ctp, ctp + cfp)
        per_camera[cam] = {
            "recall": cr,
            "precision": cp,
            "f1": _f1(cp, cr),
            "n_faces": len(cf),
            "tp": ctp,
            "fp": cfp,
            "leak_rate": _ratio(sum(f in leaks for f in cf), len(cf)) if has_cov else None,
            "n_views": len(cv),
        }
    return EvaluationResult(
        recall=recall,
        precision=precision,
        f1=_f1(precision, recall),
        holistic_recall=holistic,
        leak_rate=_ratio(len(leaks), n) if has_cov else None,
        framesets_with_leak=len({f.frame for f in leaks}) if has_cov else None,
        coverage_mean=_mean(f.coverage for f in faces) if has_cov else None,
        ssim=_mean(f.ssim for f in faces),
        psnr=_mean(f.psnr for f in faces),
        n_faces=n,
        n_groups=len(groups),
        n_framesets=len({v.frame for v in views}),
        n_views=len(views),
        tp=tp,
        fp=fp,
        per_camera=per_camera,
        multiview_recall_at=mv,
        matched_by_source={k: sum(f.source == k for f in faces) for k in sorted({f.source for f in faces if f.source})},
        misses=tuple((f.frame, f.camera, f.person) for f in faces if not f.matched),
        leaks=tuple((f.frame, f.camera, f.person, round(float(f.coverage), 4)) for f in leaks),
    )


def scored_views(annotations: FaceAnnotations, predictions: FaceAnnotations | None = None, max_frames: int | None = None) -> list[tuple[int, str]]:
    """The (frame, camera) views to score, in frame order: annotated frames (also listed in
    the predictions when given), every annotated camera."""
    frames = sorted(set(annotations.frames))
    if predictions is not None:
        frames = [f for f in frames if f in set(predictions.frames)]
    if max_frames is not None:
        frames = frames[: max(0, int(max_frames))]
    return [(fr, cam) for fr in frames for cam in annotations.cameras]


def evaluate_predictions(
    annotations: FaceAnnotations,
    predictions: FaceAnnotations,
    masks: MaskLookup | None = None,
    originals: ImageLookup | None = None,
    anonymized: ImageLookup | None = None,
    cfg: MetricsConfig = MetricsConfig(),
    max_frames: int | None = None,
) -> EvaluationResult:
    """Score predictions (boxes, and optionally masks and anonymized images) against annotations.

    ``masks`` None skips coverage and leaks (they come back None); a lookup returning None
    for a view means nothing was anonymized there. SSIM/PSNR need both image lookups."""
    ann_by = annotations.by_frame_camera()
    pred_by = predictions.by_frame_camera()
    views = []
    for frame, cam in tqdm(scored_views(annotations, predictions, max_frames), desc="score orscene", unit="view", disable=None, leave=False):
        mask = masks(frame, cam) if masks is not None else None
        orig = originals(frame, cam) if originals is not None else None
        anon = anonymized(frame, cam) if (anonymized is not None and orig is not None) else None
        views.append(
            score_view(frame, cam, ann_by.get((frame, cam), []), pred_by.get((frame, cam), []), cfg, mask, orig, anon, masks is not None)
        )
    return summarize(views, cfg, annotations.cameras)
