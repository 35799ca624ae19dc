"""2D baselines scored by the same code as orscene: a face detector applied per image,
single view, at its default threshold; its anonymization mask is its boxes (expanded by
``Anonymize2DConfig.margin``), anonymized with the chosen 2D method (blur by default)."""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm import tqdm

from orscene.anonymize2d import Anonymize2DConfig, AnonymizeMethod, FaceDetector, anonymize_regions
from orscene.evaluate.metrics import EvaluationResult, ImageLookup, MetricsConfig, score_view, scored_views, summarize
from orscene.recording.faces import FaceAnnotations, merge_faces
from orscene.types import FaceBox, FaceSource

__all__ = ["BaselineRun", "run_baseline", "detect_views"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaselineRun:
    result: EvaluationResult
    predictions: FaceAnnotations
    seconds_per_view: float
    """Mean detection time per image (this machine, current load)."""
    framesets_per_s: float | None = None
    """Frame-sets per second for detection + anonymization of all views (no decoding, no scoring)."""


def detect_views(detector: FaceDetector, views: Sequence[tuple[int, str]], originals: ImageLookup, session: str = "") -> FaceAnnotations:
    """Run a detector on every view; views without an image are skipped."""
    faces = []
    cams = []
    for frame, cam in views:
        rgb = originals(frame, cam)
        if rgb is None:
            continue
        cams.append(cam)
        for d in detector.detect(rgb):
            faces.append(FaceBox(frame, cam, -1, d.box_xyxy_px, score=d.score, source=FaceSource.DETECTOR_2D))
    return merge_faces(session, list(dict.fromkeys(cams)), {f for f, _ in views}, faces)


def run_baseline(
    detector: FaceDetector,
    annotations: FaceAnnotations,
    originals: ImageLookup,
    cfg: MetricsConfig = MetricsConfig(),
    anonymize_cfg: Anonymize2DConfig = Anonymize2DConfig(margin=0.0),
    method: AnonymizeMethod = AnonymizeMethod.BLUR,
    max_frames: int | None = None,
    quality: bool = True,
) -> BaselineRun:
    """Detect, anonymize and score every annotated view that has an image.

    Views whose original image is missing are left out (logged)."""
    ann_by = annotations.by_frame_camera()
    scores = []
    faces: list[FaceBox] = []
    t_det = 0.0
    t_all = 0.0
    n_img = 0
    missing = 0
    for frame, cam in tqdm(scored_views(annotations, None, max_frames), desc=f"baseline {detector.cfg.name.value}", unit="view", disable=None, leave=False):
        rgb = originals(frame, cam)
        if rgb is None:
            missing += 1
            continue
        t0 = time.perf_counter()
        dets = detector.detect(rgb)
        t_det += time.perf_counter() - t0
        n_img += 1
        preds = [FaceBox(frame, cam, -1, d.box_xyxy_px, score=d.score, source=FaceSource.DETECTOR_2D) for d in dets]
        faces += preds
        anon, mask = anonymize_regions(rgb, [p.box_xyxy_px for p in preds], anonymize_cfg, method=method)
        t_all += time.perf_counter() - t0
        scores.append(
            score_view(frame, cam, ann_by.get((frame, cam), []), preds, cfg, mask, rgb if quality else None, anon if quality else None)
        )
    if missing:
        log.warning("%s baseline: %d annotated views have no image and were not scored", detector.cfg.name.value, missing)
    result = summarize(scores, cfg, annotations.cameras)
    preds_ann = merge_faces(annotations.session, annotations.cameras, sorted({v.frame for v in scores}), faces)
    fps = result.n_framesets / t_all if t_all > 0 else None
    return BaselineRun(result, preds_ann, t_det / max(1, n_img), fps)
