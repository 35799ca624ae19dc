"""Multi-person BlazePose from the TFLite files bundled with mediapipe 0.10.14.

mediapipe's own graph tracks one person; here the two bundled networks are driven
directly (with ``ai_edge_litert``) so that every person in an image gets a skeleton:

1. **Detector** (``pose_detection.tflite``, 224x224, RGB in ``[-1, 1]``, letterboxed).
   An SSD head with 2254 anchors. The anchors follow the published configuration of the
   pose detector: 5 layers, strides ``8, 16, 32, 32, 32``, one aspect ratio 1.0 plus one
   interpolated scale per layer, all with fixed size 1, centred at ``(i + 0.5) / n``.
   Each anchor regresses 12 numbers: a box ``(dx, dy, w, h)`` and 4 alignment keypoints
   (hip centre, a point on the full-body circle, shoulder centre, a point on the
   upper-body circle), all in input pixels relative to the anchor centre. Scores are
   logits (clipped to +-100, then a sigmoid). Overlapping detections are merged by
   weighted non-maximum suppression (IoU > ``nms_iou``).
2. **Region of interest**: centre = hip centre; side = 2 x |hip centre -> body-circle
   point| x ``roi_scale``; rotation ``theta = pi/2 - atan2(-(y1 - y0), x1 - x0)`` so that
   the body points up in the crop, clamped to ``max_roll_deg`` from upright.
3. **Landmarks** (``pose_landmark_full.tflite``, 256x256, RGB in ``[0, 1]``): the rotated
   square is cut out with ``cv2.warpAffine``; the network returns 39 x (x, y, z,
   visibility, presence) in crop pixels (the first 33 are the body landmarks), a
   pose-presence flag, a segmentation mask and heatmaps. Landmarks are mapped back with
   the inverse affine; a keypoint's confidence is
   ``sigmoid(visibility) * sigmoid(presence) * pose_flag``. Outputs 33 and 34 are the
   model's own alignment points: when the flag is low, a second region from them is tried
   (``refine_below``) and the better result kept.
   Following (:func:`track_blazepose`): given the regions of the people found in an
   earlier frame, the landmark model runs on them directly, and the detector only once on
   the whole image (no tiles) for people outside them, as mediapipe's own tracking skips
   detection while it holds a person.
4. Skeletons whose keypoint boxes overlap too much (the same person found twice) are
   reduced to the most confident one; the 33 landmarks are mapped to COCO-17.

Coordinates: the affine maps crop pixel *edges* to image pixel edges; the output follows
the repo convention (pixel centres at integers).
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from orscene._system import usable_cores
from orscene.errors import ModelFileError
from orscene.types import Box, nms, pairwise_iou

__all__ = [
    "BLAZEPOSE_TO_COCO17",
    "BlazePoseConfig",
    "BlazePoseModels",
    "load_blazepose",
    "blazepose_anchors",
    "detect_people",
    "estimate_blazepose",
    "track_blazepose",
    "PoseRegion",
]

log = logging.getLogger(__name__)

BLAZEPOSE_TO_COCO17: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
"""Index of the BlazePose landmark used for each COCO-17 joint (nose, eyes, ears, ...)."""

_DET_SIZE = 224
_LMK_SIZE = 256


@dataclass(frozen=True)
class BlazePoseConfig:
    """Options of the bundled multi-person BlazePose."""

    min_detection_score: float = 0.5
    """Detector score (after sigmoid) needed to keep a person proposal."""
    nms_iou: float = 0.3
    """Detections whose boxes overlap more than this IoU are merged (weighted NMS)."""
    max_people: int = 12
    """At most this many people per image (highest detection scores first)."""
    roi_scale: float = 1.25
    """Enlargement of the region of interest around the detector's body circle."""
    max_roll_deg: float = 45.0
    """Clamp the region's rotation to +-this from upright: cameras hang upright and the
    detector's alignment points of small or occluded people are often wildly rotated.
    Degrees; 180 = off."""
    refine_below: float = 0.8
    """If the pose flag is below this, run the landmarks again on the region given by the
    landmark model's own alignment points (as mediapipe's tracking does); keep the better."""
    min_pose_presence: float = 0.5
    """The landmark model's pose flag needed to keep a skeleton."""
    duplicate_iou: float = 0.6
    """Two skeletons whose keypoint boxes overlap more than this are the same person."""
    tile_grid: int = 2
    """Also run the detector on ``tile_grid x tile_grid`` overlapping tiles (in addition
    to the whole image) to find small people in large images (the detector sees an image
    at 224x224); 1 = whole image only."""
    num_threads: int = 0
    """CPU threads given to the TFLite interpreters; 0 = one per core this process may use
    (the pipeline gives each of its workers its share of the cores)."""


@dataclass(frozen=True)
class BlazePoseModels:
    """The two loaded TFLite interpreters (load once, pass to :func:`estimate_blazepose`)."""

    detector: object
    landmarks: object
    detector_path: Path
    landmark_path: Path


def _bundled(rel: str) -> Path:
    try:
        root = resources.files("mediapipe")
    except ModuleNotFoundError as e:  # pragma: no cover - depends on the environment
        raise ModelFileError("mediapipe==0.10.14 is not installed; it ships the BlazePose .tflite files", rel) from e
    path = Path(str(root.joinpath(rel)))
    if not path.is_file():
        raise ModelFileError("bundled BlazePose model file is missing (mediapipe 0.10.14 expected)", path)
    return path


def load_blazepose(cfg: BlazePoseConfig = BlazePoseConfig()) -> BlazePoseModels:
    """Load the detector and the full landmark model bundled with mediapipe."""
    from ai_edge_litert.interpreter import Interpreter

    det_path = _bundled("modules/pose_detection/pose_detection.tflite")
    lmk_path = _bundled("modules/pose_landmark/pose_landmark_full.tflite")
    threads = cfg.num_threads if cfg.num_threads > 0 else usable_cores()
    from orscene._quiet import native_stderr_quiet

    with native_stderr_quiet():  # TFLite's "Created ... XNNPACK delegate" line
        det = Interpreter(model_path=str(det_path), num_threads=threads)
        det.allocate_tensors()
        lmk = Interpreter(model_path=str(lmk_path), num_threads=threads)
        lmk.allocate_tensors()
    return BlazePoseModels(det, lmk, det_path, lmk_path)


def blazepose_anchors() -> np.ndarray:
    """SSD anchor centres of the pose detector, ``(2254, 2)`` in ``[0, 1]`` (x, y).

    Configuration: ``num_layers=5``, ``strides=(8, 16, 32, 32, 32)``, ``aspect_ratios=(1,)``,
    ``interpolated_scale_aspect_ratio=1`` (2 anchors per layer and cell),
    ``anchor_offset=0.5``, ``fixed_anchor_size=True`` (width = height = 1), input 224.
    Consecutive layers with the same stride share one feature map.
    """
    strides = (8, 16, 32, 32, 32)
    out = []
    layer = 0
    while layer < len(strides):
        n_anchors = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            n_anchors += 2  # aspect ratio 1.0 + the interpolated scale
            last += 1
        n = math.ceil(_DET_SIZE / strides[layer])
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=-1)
        out.append(np.repeat(cells, n_anchors, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


_ANCHORS = blazepose_anchors()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def _run_detector(models: BlazePoseModels, rgb: np.ndarray, cfg: BlazePoseConfig, origin_xy: tuple[float, float] = (0.0, 0.0)):
    """Detector on one (sub)image: boxes xyxy and 4 keypoints in image pixel-edge coords."""
    h, w = rgb.shape[:2]
    scale = _DET_SIZE / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    pad_x, pad_y = (_DET_SIZE - nw) // 2, (_DET_SIZE - nh) // 2
    canvas = np.zeros((_DET_SIZE, _DET_SIZE, 3), np.float32)
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = resized.astype(np.float32) / 127.5 - 1.0
    det = models.detector
    det.set_tensor(det.get_input_details()[0]["index"], canvas[None])
    det.invoke()
    outs = {d["name"]: det.get_tensor(d["index"]) for d in det.get_output_details()}
    raw = outs["Identity"][0]  # (2254, 12)
    logits = outs["Identity_1"][0, :, 0]
    scores = _sigmoid(np.clip(logits, -100.0, 100.0))
    keep = np.nonzero(scores >= cfg.min_detection_score)[0]
    if keep.size == 0:
        return np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0)
    raw = raw[keep].astype(np.float64)
    anc = _ANCHORS[keep].astype(np.float64)
    cx = raw[:, 0] / _DET_SIZE + anc[:, 0]
    cy = raw[:, 1] / _DET_SIZE + anc[:, 1]
    bw = raw[:, 2] / _DET_SIZE
    bh = raw[:, 3] / _DET_SIZE
    boxes_n = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=-1)
    kps_n = raw[:, 4:12].reshape(-1, 4, 2) / _DET_SIZE + anc[:, None, :]

    # letterbox (normalised 224 frame) -> image pixel edges
    def to_img(xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy)
        out[..., 0] = (xy[..., 0] * _DET_SIZE - pad_x) / scale + origin_xy[0]
        out[..., 1] = (xy[..., 1] * _DET_SIZE - pad_y) / scale + origin_xy[1]
        return out

    boxes = to_img(boxes_n.reshape(-1, 2, 2)).reshape(-1, 4)
    return boxes, to_img(kps_n), scores[keep]


def detect_people(models: BlazePoseModels, rgb: np.ndarray, cfg: BlazePoseConfig = BlazePoseConfig()) -> list[tuple[Box, np.ndarray, float]]:
    """Person detections ``[(box, alignment_keypoints (4, 2), score), ...]``, best first.

    ``box`` is a :class:`orscene.types.Box` (pixel centres at integers, as everywhere); the
    alignment keypoints stay in the detector's image pixel-edge coordinates (the top-left
    pixel spans ``[0, 1]``, i.e. ``x + 0.5``), which the region-of-interest maths uses.
    Overlapping detections are merged by weighted NMS (:func:`orscene.types.nms`).
    """
    h, w = rgb.shape[:2]
    parts = [_run_detector(models, rgb, cfg)]
    if cfg.tile_grid > 1:
        n = cfg.tile_grid
        tw, th = 2 * w / (n + 1), 2 * h / (n + 1)  # tiles overlap by half
        for iy in range(n):
            for ix in range(n):
                x0, y0 = round(ix * tw / 2), round(iy * th / 2)
                x1, y1 = min(w, round(x0 + tw)), min(h, round(y0 + th))
                parts.append(_run_detector(models, np.ascontiguousarray(rgb[y0:y1, x0:x1]), cfg, (x0, y0)))
    boxes = np.concatenate([p[0] for p in parts])
    kps = np.concatenate([p[1] for p in parts])
    scores = np.concatenate([p[2] for p in parts])
    if scores.size == 0:
        return []
    merged, merged_scores, merged_kps = nms(boxes, scores, cfg.nms_iou, weighted=True, attached=kps)
    return [(Box(*(merged[i] - 0.5)), merged_kps[i], float(merged_scores[i])) for i in range(min(len(merged), cfg.max_people))]


def _roi_from_alignment(kps: np.ndarray, scale: float) -> tuple[float, float, float, float]:
    """Rotated square ROI ``(cx, cy, side, theta_rad)`` from hip centre and body-circle point."""
    (x0, y0), (x1, y1) = kps[0], kps[1]
    side = 2.0 * math.hypot(x1 - x0, y1 - y0) * scale
    theta = math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0)
    theta = (theta + math.pi) % (2 * math.pi) - math.pi
    return float(x0), float(y0), float(side), float(theta)


def _clamp_roll(roi: tuple[float, float, float, float], max_roll_deg: float) -> tuple[float, float, float, float]:
    lim = math.radians(max_roll_deg)
    return roi[0], roi[1], roi[2], float(min(max(roi[3], -lim), lim))


def _crop_affine(cx: float, cy: float, side: float, theta: float, size: int) -> np.ndarray:
    """2x3 affine mapping image pixel-edge coords to crop pixel-edge coords."""
    c, s = math.cos(theta), math.sin(theta)
    # crop point (a, b) in [0, size] -> image: centre + R(theta) @ ((a, b)/size - 0.5) * side
    img_from_crop = np.array(
        [[c * side / size, -s * side / size, 0.0], [s * side / size, c * side / size, 0.0], [0, 0, 1.0]]
    )
    img_from_crop[:2, 2] = np.array([cx, cy]) - img_from_crop[:2, :2] @ np.array([size / 2, size / 2])
    return np.linalg.inv(img_from_crop)[:2]


def _edge_affine_to_center(A: np.ndarray) -> np.ndarray:
    """Convert an edge-convention affine (x_e = x_c + 0.5) to one for cv2 (pixel centres)."""
    M = np.vstack([A, [0, 0, 1]])
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
    unshift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1.0]])
    return (unshift @ M @ shift)[:2]


def _run_landmarks(models: BlazePoseModels, rgb: np.ndarray, roi: tuple[float, float, float, float]):
    A = _crop_affine(*roi, _LMK_SIZE)
    crop = cv2.warpAffine(
        rgb, _edge_affine_to_center(A), (_LMK_SIZE, _LMK_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    lmk = models.landmarks
    lmk.set_tensor(lmk.get_input_details()[0]["index"], (crop.astype(np.float32) / 255.0)[None])
    lmk.invoke()
    outs = {d["name"]: lmk.get_tensor(d["index"]) for d in lmk.get_output_details()}
    raw = outs["Identity"][0].reshape(39, 5)
    flag = float(np.clip(outs["Identity_1"].ravel()[0], 0.0, 1.0))
    img_from_crop = np.linalg.inv(np.vstack([A, [0, 0, 1]]))
    xy = raw[:, :2].astype(np.float64) @ img_from_crop[:2, :2].T + img_from_crop[:2, 2]
    conf = _sigmoid(raw[:33, 3].astype(np.float64)) * _sigmoid(raw[:33, 4].astype(np.float64)) * flag
    # xy[33:35]: the model's own alignment points (hip centre, body-circle point), edge coords
    return xy[:33] - 0.5, conf, flag, xy[33:35]  # pixel edges -> pixel centres


def _keypoint_box(xy: np.ndarray, conf: np.ndarray) -> Box:
    """Box around a skeleton's confident landmarks (all of them when fewer than 3 are)."""
    good = conf > 0.3
    pts = xy[good] if good.sum() >= 3 else xy
    return Box(*pts.min(0), *pts.max(0))


PoseRegion = tuple[float, float, float, float]
"""A rotated square region of one person: ``(cx, cy, side, theta_rad)`` in image pixel
edges, as cut out for the landmark model."""


def estimate_blazepose(models: BlazePoseModels, rgb: np.ndarray, cfg: BlazePoseConfig = BlazePoseConfig()) -> tuple[np.ndarray, np.ndarray]:
    """All people in an RGB uint8 image: ``(keypoints_px (P, 17, 2), confidence (P, 17))``
    in COCO-17 order, float32, pixel centres at integers."""
    kp, cf, _ = track_blazepose(models, rgb, (), cfg)
    return kp, cf


def track_blazepose(
    models: BlazePoseModels,
    rgb: np.ndarray,
    regions: Sequence[PoseRegion] = (),
    cfg: BlazePoseConfig = BlazePoseConfig(),
) -> tuple[np.ndarray, np.ndarray, tuple[PoseRegion, ...]]:
    """People in an RGB uint8 image, followed from ``regions`` and searched for.

    Without ``regions``: the detector on the whole image and its tiles, then landmarks on
    every detection (:func:`estimate_blazepose`). With ``regions`` (those returned for an
    earlier frame of the same camera), as in mediapipe's own tracking: the landmark model
    runs on each region, and the detector runs once on the whole image (no tiles) only to
    find people outside them; a detection whose body centre falls inside a followed
    person's keypoint box is not looked at again. The landmark model's alignment points
    give each person's region for the next frame. People that only the tiles find are
    found again when the caller next passes no regions.

    Returns ``(keypoints_px (P, 17, 2), confidence (P, 17), regions)``: COCO-17, float32,
    pixel centres at integers; one region per returned person, for the next frame.
    """
    h, w = rgb.shape[:2]
    people = []

    def landmarks(roi: PoseRegion, score: float) -> None:
        if roi[2] < 8:
            return
        xy, conf, flag, align = _run_landmarks(models, rgb, roi)
        if flag < cfg.refine_below:
            roi2 = _clamp_roll(_roi_from_alignment(align, cfg.roi_scale), cfg.max_roll_deg)
            if roi2[2] >= 8:
                xy2, conf2, flag2, align2 = _run_landmarks(models, rgb, roi2)
                if flag2 > flag:
                    xy, conf, flag, align = xy2, conf2, flag2, align2
        if flag < cfg.min_pose_presence:
            return
        # landmarks outside the image are not observations
        inside = (xy[:, 0] >= -0.5) & (xy[:, 0] <= w - 0.5) & (xy[:, 1] >= -0.5) & (xy[:, 1] <= h - 0.5)
        conf = np.where(inside, conf, 0.0)
        people.append((xy, conf, score * flag, _clamp_roll(_roi_from_alignment(align, cfg.roi_scale), cfg.max_roll_deg)))

    for roi in regions[: cfg.max_people]:
        landmarks(tuple(roi), 1.0)
    followed = [_keypoint_box(p[0], p[1]) for p in people]
    dets = detect_people(models, rgb, replace(cfg, tile_grid=1) if regions else cfg)
    for _box, kps, score in dets:
        hx, hy = kps[0] - 0.5  # hip centre, pixel edges -> centres (keypoint boxes are in centres)
        if any(b.contains(hx, hy) for b in followed):
            continue
        landmarks(_clamp_roll(_roi_from_alignment(kps, cfg.roi_scale), cfg.max_roll_deg), score)
    # the same person found from two detections (or two regions): keep the more confident skeleton
    people.sort(key=lambda p: -p[2])
    kept: list[tuple[np.ndarray, np.ndarray, PoseRegion, Box]] = []
    for xy, conf, _s, roi in people:
        box = _keypoint_box(xy, conf)
        if kept and pairwise_iou([box], [k[3] for k in kept]).max() > cfg.duplicate_iou:
            continue
        kept.append((xy, conf, roi, box))
    if not kept:
        return np.zeros((0, 17, 2), np.float32), np.zeros((0, 17), np.float32), ()
    idx = list(BLAZEPOSE_TO_COCO17)
    kp = np.stack([k[0][idx] for k in kept]).astype(np.float32)
    cf = np.stack([k[1][idx] for k in kept]).astype(np.float32)
    return kp, np.clip(cf, 0.0, 1.0), tuple(k[2] for k in kept)
