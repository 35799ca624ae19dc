"""``cli.py evaluate``: score an anonymization run and the 2D baselines against face annotations.

Inputs:

* annotations: the project face format (default: the session manifest's
  ``annotations.faces``), or any file an importer reads (dlib imglab XML, CMU Panoptic
  ``faces_gt.json``, MVOR COCO; ``--annotation-format`` or detected from the content);
* predictions (``cli.py process`` output, default ``outputs/<SESSION>``)::

      <pred>/faces.json                      boxes in the project face format
      <pred>/masks/<camera>/<frame:06d>.png  uint8 0/255 anonymization mask (missing = nothing anonymized)
      <pred>/images/<camera>/<frame:06d>.jpg anonymized colour (for SSIM/PSNR)

* original images: from the session (``orscene.recording.reader.open_session``), or, for
  imported data sets that name their image files (imglab, Panoptic), from those files.

Without predictions only the baselines are evaluated, and the output says so. Each baseline
(CenterFace, BlazeFace full-range) runs per image, single view, at its default threshold;
its mask is its boxes grown by ``baseline_margin`` and blurred (61x61).
"""

import enum
import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from orscene.anonymize2d import Anonymize2DConfig, AnonymizeMethod, FaceDetectorConfig, FaceDetectorKind, load_face_detector
from orscene.errors import AnnotationError, ConfigError, ModelFileError, RecordingError
from orscene.evaluate.baselines import run_baseline
from orscene.evaluate.importers import MvorBoxKind, load_imglab_xml, load_mvor_coco, load_panoptic_faces_json
from orscene.evaluate.metrics import EvaluationResult, MatchMode, MetricsConfig, evaluate_predictions, scored_views
from orscene.evaluate.perceptual import perceptual_metrics
from orscene.recording.faces import FaceAnnotations, load_faces
from orscene.recording.folder import read_color_image
from orscene.recording.session import (
    atomic_write_text,
    default_outputs_dir,
    default_recordings_root,
    load_manifest,
    session_dir,
)

__all__ = [
    "AnnotationFormat",
    "EvaluateConfig",
    "run_evaluate",
    "evaluate_session",
    "load_annotations",
    "format_table",
    "prediction_lookups",
    "SessionImages",
]

log = logging.getLogger(__name__)


class AnnotationFormat(enum.Enum):
    AUTO = "auto"
    ORSCENE = "orscene"
    IMGLAB = "imglab"
    PANOPTIC = "panoptic"
    MVOR = "mvor"


@dataclass(frozen=True)
class EvaluateConfig:
    session: str | None = None
    """Session name (folder under the recordings root); optional when the annotations name their images (imglab, Panoptic)."""
    recordings: str | None = None
    """Recordings root; default $ORSCENE_RECORDINGS or ./recordings."""
    annotations: str | None = None
    """Face annotation file; default: the session manifest's annotations.faces."""
    annotation_format: AnnotationFormat = AnnotationFormat.AUTO
    """Format of the annotation file (auto: detected from its content)."""
    mvor_boxes: MvorBoxKind = MvorBoxKind.HEAD
    """MVOR only: score against head boxes derived from keypoints, or MVOR's person boxes."""
    predictions: str | None = None
    """Output folder of `cli.py process` (faces.json, masks/, images/); default outputs/<SESSION>. Missing default = baselines only."""
    json: str | None = None
    """Write the full result (metrics, per camera, baselines, misses, leaks) to this JSON file."""
    iou_threshold: float = 0.4
    """A box matches an annotated face at IoU >= this."""
    leak_coverage: float = 0.9
    """An annotated face covered by less than this share of the anonymization mask leaks."""
    matching: MatchMode = MatchMode.GREEDY
    """One-to-one box matching per view: greedy by score, or Hungarian."""
    baselines: tuple[FaceDetectorKind, ...] = (FaceDetectorKind.CENTERFACE, FaceDetectorKind.BLAZEFACE)
    """2D baselines to run on the original images (none: --baselines with no value)."""
    baseline_method: AnonymizeMethod = AnonymizeMethod.BLUR
    """How the baselines anonymize their boxes (for coverage and SSIM/PSNR)."""
    baseline_margin: float = 0.15
    """Baseline boxes grow by this fraction of their size on each side (deface's default mask scale 1.3)."""
    max_frames: int | None = None
    """Score only the first N annotated frame-sets."""
    quality: bool = True
    """Compute SSIM/PSNR of face crops (needs the original and anonymized images)."""
    lpips_model: str | None = None
    """TorchScript LPIPS network file: (a, b) as (N,3,64,64) in [-1,1] -> (N,) distances. Never downloaded."""
    fid_model: str | None = None
    """TorchScript feature network file for FID: (N,3,299,299) in [-1,1] -> (N,D) features. Never downloaded."""
    threads: int = 1
    """CPU threads for the baseline detectors."""


# ----------------------------------------------------------------------------- inputs


def _detect_format(path: Path) -> AnnotationFormat:
    if path.suffix.lower() == ".xml":
        return AnnotationFormat.IMGLAB
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise AnnotationError("annotation file not found", path) from None
    except json.JSONDecodeError as e:
        raise AnnotationError(f"malformed JSON: {e.msg} (line {e.lineno})", path) from None
    if isinstance(data, dict):
        if data.get("format") == "orscene-faces":
            return AnnotationFormat.ORSCENE
        if "multiview_images" in data:
            return AnnotationFormat.MVOR
        if "images" in data and "faces" in data:
            return AnnotationFormat.PANOPTIC
    raise AnnotationError("cannot tell the annotation format; pass --annotation-format", path)


def load_annotations(
    path: str | Path, fmt: AnnotationFormat = AnnotationFormat.AUTO, mvor_boxes: MvorBoxKind = MvorBoxKind.HEAD
) -> tuple[FaceAnnotations, dict[tuple[int, str], Path]]:
    """Annotations and (for formats that name them) the image file of each (frame, camera)."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError("annotation file not found", path)
    fmt = _detect_format(path) if fmt is AnnotationFormat.AUTO else fmt
    if fmt is AnnotationFormat.ORSCENE:
        return load_faces(path), {}
    if fmt is AnnotationFormat.IMGLAB:
        return load_imglab_xml(path)
    if fmt is AnnotationFormat.PANOPTIC:
        return load_panoptic_faces_json(path)
    return load_mvor_coco(path, mvor_boxes), {}


def _read_rgb(path: Path) -> np.ndarray | None:
    """An image as RGB, or None when the file does not exist (nothing written there)."""
    return read_color_image(path) if path.is_file() else None


class SessionImages:
    """(frame, camera) -> original RGB from a session, one frame-set cached at a time."""

    def __init__(self, session_path: Path) -> None:
        from orscene.recording.reader import open_session

        self.reader = open_session(session_path)
        self._frame: int | None = None
        self._views: dict[str, np.ndarray] = {}

    def __call__(self, frame: int, camera: str) -> np.ndarray | None:
        if frame != self._frame:
            self._views = {}
            self._frame = frame
            if 0 <= frame < self.reader.n_framesets:
                for fs in self.reader.framesets(frame, frame + 1):
                    self._views = {name: v.rgb for name, v in fs.views.items()}
        return self._views.get(camera)


def prediction_lookups(pred_dir: Path) -> tuple[Callable, Callable]:
    """(masks, anonymized) lookups on a ``cli.py process`` output folder."""

    def masks(frame: int, camera: str) -> np.ndarray | None:
        p = pred_dir / "masks" / camera / f"{frame:06d}.png"
        if not p.is_file():
            return None
        m = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if m is None:
            raise RecordingError("cannot decode mask image", p)
        return m > 127

    def anonymized(frame: int, camera: str) -> np.ndarray | None:
        return _read_rgb(pred_dir / "images" / camera / f"{frame:06d}.jpg")

    return masks, anonymized


# ----------------------------------------------------------------------------- output


def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{digits}f}"


def format_table(results: dict[str, EvaluationResult | None], title: str = "") -> str:
    """A plain-text table, one row per method (None = not evaluated)."""
    cols = ["method", "recall", "holistic", "precision", "F1", "leak rate", "leaky sets", "SSIM", "PSNR", "faces", "TP", "FP"]
    rows = []
    for name, r in results.items():
        if r is None:
            rows.append([name, "(not evaluated)"] + [""] * (len(cols) - 2))
            continue
        rows.append(
            [
                name,
                _fmt(r.recall),
                _fmt(r.holistic_recall),
                _fmt(r.precision),
                _fmt(r.f1),
                _fmt(r.leak_rate),
                "-" if r.framesets_with_leak is None else str(r.framesets_with_leak),
                _fmt(r.ssim),
                _fmt(r.psnr, 1),
                str(r.n_faces),
                str(r.tp),
                str(r.fp),
            ]
        )
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    out = [title] if title else []
    out += [line(cols), line(["-" * w for w in widths])]
    out += [line(r) if r[1] != "(not evaluated)" else f"{r[0].ljust(widths[0])}  (not evaluated)" for r in rows]
    return "\n".join(out)


def _per_camera_table(r: EvaluationResult) -> str:
    lines = ["per camera: " + ", ".join(f"{cam} recall {_fmt(v['recall'])} precision {_fmt(v['precision'])}" for cam, v in r.per_camera.items())]
    if r.matched_by_source:
        lines.append("faces found by: " + ", ".join(f"{k} {n}" for k, n in r.matched_by_source.items()))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def _check_options(cfg: EvaluateConfig) -> None:
    if not 0.0 < cfg.iou_threshold <= 1.0:
        raise ConfigError(f"--iou-threshold must be in (0, 1], got {cfg.iou_threshold}")
    if not 0.0 < cfg.leak_coverage <= 1.0:
        raise ConfigError(f"--leak-coverage must be in (0, 1], got {cfg.leak_coverage}")
    for p in (cfg.lpips_model, cfg.fid_model):
        if p is not None and not Path(p).is_file():
            raise ModelFileError("perceptual-metric network file not found (orscene never downloads weights)", p)


def _annotation_path(cfg: EvaluateConfig) -> tuple[Path, Path | None]:
    """``(annotation file, session folder or None)``: ``--annotations``, else the session
    manifest's ``annotations.faces``."""
    sess_path = None
    if cfg.session is not None:
        root = Path(cfg.recordings) if cfg.recordings else default_recordings_root()
        sess_path = session_dir(root, cfg.session)
    if cfg.annotations is not None:
        return Path(cfg.annotations), sess_path
    if sess_path is None:
        raise ConfigError("give --session or --annotations")
    manifest = load_manifest(sess_path)
    rel = manifest.annotations.get("faces")
    if rel is None:
        raise AnnotationError("session manifest names no 'faces' annotations; pass --annotations", sess_path / "session.yaml")
    return (Path(rel) if Path(rel).is_absolute() else sess_path / rel), sess_path


def _original_images(files: dict[tuple[int, str], Path], sess_path: Path | None) -> Callable | None:
    """(frame, camera) -> original RGB: the files the annotations name, else the session's
    frames, else None (no images)."""
    if files:
        return lambda f, c: _read_rgb(files[(f, c)]) if (f, c) in files else None
    if sess_path is not None:
        return SessionImages(sess_path)
    return None


def _load_predictions(cfg: EvaluateConfig, annotations: FaceAnnotations, notes: list[str]) -> tuple[Path | None, FaceAnnotations | None]:
    """``(predictions folder, its faces.json)``; the faces are None when there is no such
    file (then only the baselines run). What is not scored is added to ``notes``."""
    pred_dir = Path(cfg.predictions) if cfg.predictions else (default_outputs_dir(cfg.session) if cfg.session else None)
    if cfg.predictions and not (pred_dir / "faces.json").is_file():
        raise ConfigError(f"predictions folder has no faces.json: {pred_dir}")
    if pred_dir is None or not (pred_dir / "faces.json").is_file():
        notes.append("no predictions found: only the baselines were evaluated")
        return pred_dir, None
    predictions = load_faces(pred_dir / "faces.json")
    unscored = sorted(set(annotations.frames) - set(predictions.frames))
    if unscored:
        notes.append(f"{len(unscored)} annotated frame-sets are not in the predictions (first {unscored[:3]}): orscene not scored there")
    missing_cams = sorted(set(annotations.cameras) - set(predictions.cameras))
    if missing_cams:
        notes.append(f"cameras {missing_cams} are annotated but absent from the predictions: their faces count as missed")
    return pred_dir, predictions


def _evaluate_orscene(
    cfg: EvaluateConfig, annotations: FaceAnnotations, predictions: FaceAnnotations, pred_dir: Path, originals, mcfg: MetricsConfig, notes: list[str]
) -> EvaluationResult:
    """Score the run's boxes, masks and (with ``quality``) images, perceptual metrics included."""
    masks, anonymized = prediction_lookups(pred_dir)
    if not (pred_dir / "masks").is_dir():
        notes.append("predictions have no masks/ folder: every view counts as not anonymized (coverage 0)")
    if not (pred_dir / "images").is_dir() and cfg.quality:
        notes.append("predictions have no images/ folder: SSIM/PSNR not computed for orscene")
    result = evaluate_predictions(
        annotations,
        predictions,
        masks,
        originals if cfg.quality else None,
        anonymized if cfg.quality else None,
        mcfg,
        cfg.max_frames,
    )
    extra = perceptual_metrics(annotations, scored_views(annotations, predictions, cfg.max_frames), originals, anonymized, cfg.lpips_model, cfg.fid_model)
    if extra:
        result = EvaluationResult(**{**result.__dict__, "extra": {**result.extra, **extra}})
    return result


def _run_baselines(
    cfg: EvaluateConfig, annotations: FaceAnnotations, predictions: FaceAnnotations | None, originals, mcfg: MetricsConfig, notes: list[str]
) -> tuple[dict[str, EvaluationResult | None], dict[str, dict]]:
    """``(result per baseline or None when not run, JSON entry per baseline run)``; with
    predictions, the baselines are scored on exactly the frame-sets orscene is scored on."""
    if predictions is not None:
        keep = set(predictions.frames)
        annotations = FaceAnnotations(
            annotations.session,
            annotations.cameras,
            tuple(f for f in annotations.frames if f in keep),
            tuple(f for f in annotations.faces if f.frame in keep),
        )
    results: dict[str, EvaluationResult | None] = {}
    entries: dict[str, dict] = {}
    for kind in dict.fromkeys(cfg.baselines):
        if originals is None:
            notes.append(f"{kind.value}: no images to run on (give --session)")
            results[kind.value] = None
            continue
        det = load_face_detector(FaceDetectorConfig(name=kind, num_threads=cfg.threads))
        run = run_baseline(
            det, annotations, originals, mcfg, Anonymize2DConfig(margin=cfg.baseline_margin), cfg.baseline_method, cfg.max_frames, cfg.quality
        )
        results[kind.value] = run.result
        entries[kind.value] = {
            **run.result.to_dict(),
            "seconds_per_image": round(run.seconds_per_view, 4),
            "framesets_per_s": None if run.framesets_per_s is None else round(run.framesets_per_s, 3),
        }
    return results, entries


def evaluate_session(cfg: EvaluateConfig) -> dict:
    """Evaluate predictions (if any) and the baselines; returns the JSON-ready result
    (with its printable table under ``_table``)."""
    _check_options(cfg)
    ann_path, sess_path = _annotation_path(cfg)
    annotations, files = load_annotations(ann_path, cfg.annotation_format, cfg.mvor_boxes)
    originals = _original_images(files, sess_path)
    notes: list[str] = []
    pred_dir, predictions = _load_predictions(cfg, annotations, notes)
    mcfg = MetricsConfig(iou_threshold=cfg.iou_threshold, leak_coverage=cfg.leak_coverage, matching=cfg.matching)
    results: dict[str, EvaluationResult | None] = {}
    main_result = None
    if predictions is not None:
        main_result = results["orscene"] = _evaluate_orscene(cfg, annotations, predictions, pred_dir, originals, mcfg, notes)
    baseline_results, baselines = _run_baselines(cfg, annotations, predictions, originals, mcfg, notes)
    results.update(baseline_results)
    if not results:
        notes.append("nothing evaluated: no predictions and no baselines")

    out = main_result.to_dict() if main_result is not None else {
        k: None for k in ("recall", "precision", "f1", "holistic_recall", "leak_rate", "framesets_with_leak", "per_camera")
    }
    out.update(
        {
            "baselines": baselines,
            "notes": notes,
            "annotations": str(ann_path),
            "predictions": str(pred_dir) if predictions is not None else None,
            "session": cfg.session,
            "n_annotated_frames": len(annotations.frames),
            "config": _jsonable(asdict(cfg)),
        }
    )
    out["_table"] = format_table(results, title=f"face anonymization vs {ann_path.name} (IoU >= {cfg.iou_threshold})")
    if main_result is not None:
        out["_table"] += "\n" + _per_camera_table(main_result)
    if notes:
        out["_table"] += "\n" + "\n".join(f"note: {n}" for n in notes)
    return out


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, enum.Enum):
        return x.value
    return x


def run_evaluate(cfg: EvaluateConfig) -> int:
    """CLI entry: evaluate, print the table, write the JSON. Exit code 0."""
    out = evaluate_session(cfg)
    table = out.pop("_table")
    if cfg.json:
        atomic_write_text(Path(cfg.json), json.dumps(out, indent=1))
        log.info("wrote %s", cfg.json)
    print(table)  # stdout is this CLI function's job
    return 0
