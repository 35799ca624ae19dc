"""orscene.evaluate: face-anonymization metrics, annotation importers, 2D baselines and
``cli.py evaluate``."""

import sys as _sys
import types as _types

from orscene.evaluate.baselines import BaselineRun, detect_views, run_baseline
from orscene.evaluate.importers import MvorBoxKind, load_imglab_xml, load_mvor_coco, load_panoptic_faces_json
from orscene.evaluate.metrics import (
    EvaluationResult,
    FaceOutcome,
    MatchMode,
    MetricsConfig,
    ViewScore,
    box_coverage,
    evaluate_predictions,
    match_view,
    score_view,
    summarize,
)
from orscene.evaluate.perceptual import perceptual_metrics
from orscene.evaluate.visualize import draw_evaluation
from orscene.evaluate.run import AnnotationFormat, EvaluateConfig, evaluate_session, format_table, load_annotations, run_evaluate

__all__ = [
    "BaselineRun",
    "detect_views",
    "run_baseline",
    "MvorBoxKind",
    "load_imglab_xml",
    "load_mvor_coco",
    "load_panoptic_faces_json",
    "EvaluationResult",
    "FaceOutcome",
    "MatchMode",
    "MetricsConfig",
    "ViewScore",
    "box_coverage",
    "evaluate_predictions",
    "match_view",
    "score_view",
    "summarize",
    "perceptual_metrics",
    "AnnotationFormat",
    "EvaluateConfig",
    "evaluate_session",
    "format_table",
    "load_annotations",
    "run_evaluate",
    "draw_evaluation",
]


class _CallableEvaluate(_types.ModuleType):
    """``orscene.evaluate`` names this package and the public API function: calling the
    package runs :func:`orscene.api.evaluate` (``orscene.evaluate(session, ...)``)."""

    def __call__(self, *args, **kwargs):
        from orscene.api import evaluate

        return evaluate(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableEvaluate
