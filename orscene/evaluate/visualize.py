"""Pictures of an evaluation: annotated faces, predictions and the anonymization mask on a view.

``draw_evaluation(rgb, annotated, predictions, mask)`` returns a new RGB image: the mask
tinted blue, annotated faces green (matched), red (missed) or grey (ignore), predictions
as thin yellow boxes with their source's initial (r = render3d, h = head2d, d = detector2d).
"""

from collections.abc import Sequence

import cv2
import numpy as np

from orscene.errors import ShapeError
from orscene.types import pairwise_iou
from orscene.types import FaceBox

__all__ = ["draw_evaluation"]

GREEN, RED, GREY, YELLOW = (0, 200, 0), (230, 0, 0), (150, 150, 150), (255, 220, 0)


def _rect(img: np.ndarray, box: Sequence[float], color: tuple[int, int, int], thickness: int) -> None:
    x0, y0, x1, y1 = (int(round(v)) for v in (box[0] + 0.5, box[1] + 0.5, box[2] - 0.5, box[3] - 0.5))
    cv2.rectangle(img, (x0, y0), (x1, y1), color, thickness)


def draw_evaluation(
    rgb: np.ndarray,
    annotated: Sequence[FaceBox],
    predictions: Sequence[FaceBox] = (),
    mask: np.ndarray | None = None,
    iou_threshold: float = 0.4,
    thickness: int = 1,
) -> np.ndarray:
    if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8):
        raise ShapeError("rgb", "(H, W, 3) uint8", (getattr(rgb, "shape", None), getattr(rgb, "dtype", None)))
    out = rgb.copy()
    if mask is not None:
        m = np.asarray(mask).astype(bool)
        if m.shape != rgb.shape[:2]:
            raise ShapeError("mask", f"{rgb.shape[:2]}", m.shape)
        out[m] = (0.6 * out[m] + 0.4 * np.array([40, 90, 255])).astype(np.uint8)
    pred_boxes = [p.box_xyxy_px for p in predictions]
    for f in annotated:
        if f.ignore:
            color = GREY
        else:
            hit = bool(pred_boxes) and pairwise_iou([f.box_xyxy_px], pred_boxes).max() >= iou_threshold
            color = GREEN if hit else RED
        _rect(out, f.box_xyxy_px, color, thickness + 1)
    for p in predictions:
        _rect(out, p.box_xyxy_px, YELLOW, thickness)
        x0, y0 = int(round(p.box_xyxy_px[0])), int(round(p.box_xyxy_px[1]))
        cv2.putText(out, p.source.value[0], (max(0, x0), max(8, y0 - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, YELLOW, 1)
    return out
