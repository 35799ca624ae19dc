"""Optional 2D pose models exported to ONNX by mmpose / rtmlib (RTMPose, RTMO).

These are *not* bundled: the user points the config at local ``.onnx`` files. Loading a
missing file raises :class:`~orscene.errors.ModelFileError` naming it. Inference follows
the exporters' documented pre/post-processing; without the weights in this repository it
is untested (only the loading errors are covered by tests).

- **RTMPose** (top-down, SimCC head): input ``(1, 3, 256, 192)`` (h, w) BGR-mean/std
  normalised crop of one person box enlarged by 1.25 to aspect 3:4; outputs
  ``simcc_x (1, 17, 2*192)`` and ``simcc_y (1, 17, 2*256)``; a keypoint sits at the arg-max
  bin / 2 and its confidence is the smaller of the two maxima (clipped to ``[0, 1]``).
  Person boxes come from the bundled BlazePose detector.
- **RTMO** (one-stage): input ``(1, 3, 640, 640)`` letterboxed (pad 114); outputs
  ``dets (1, N, 5)`` (box + score) and ``keypoints (1, N, 17, 3)`` (x, y, score) in input
  pixels.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orscene._system import onnx_providers
from orscene.errors import ModelFileError

__all__ = ["OnnxPoseModel", "load_onnx_pose", "run_rtmpose", "run_rtmo"]

_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
_STD = np.array([58.395, 57.12, 57.375], np.float32)


@dataclass(frozen=True)
class OnnxPoseModel:
    """An onnxruntime session and the model's kind (``"rtmpose"`` or ``"rtmo"``)."""

    session: object
    kind: str
    path: Path
    input_hw: tuple[int, int]


def load_onnx_pose(path: str | Path, kind: str, device: str = "auto") -> OnnxPoseModel:
    """Load an RTMPose/RTMO ``.onnx`` file; ``ModelFileError`` if it is missing or unreadable."""
    p = Path(path).expanduser()
    if not str(path) or not p.is_file():
        raise ModelFileError(f"{kind} ONNX pose model not found (export one with mmpose/rtmlib and set its path)", p)
    import onnxruntime as ort

    providers = onnx_providers(device, ort.get_available_providers())
    try:
        sess = ort.InferenceSession(str(p), providers=providers)
    except Exception as e:  # onnxruntime raises its own exception types
        raise ModelFileError(f"cannot load {kind} ONNX model: {e}", p) from e
    shape = sess.get_inputs()[0].shape
    hw = (int(shape[2]), int(shape[3])) if all(isinstance(s, int) for s in shape[2:4]) else ((256, 192) if kind == "rtmpose" else (640, 640))
    return OnnxPoseModel(sess, kind, p, hw)


def _normalise(bgr: np.ndarray) -> np.ndarray:
    x = (bgr.astype(np.float32) - _MEAN) / _STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def run_rtmpose(model: OnnxPoseModel, rgb: np.ndarray, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-down RTMPose on each person box: ``(keypoints_px (P, 17, 2), confidence (P, 17))``."""
    h_in, w_in = model.input_hw
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    kps, confs = [], []
    for x0, y0, x1, y1 in np.asarray(boxes_xyxy, np.float64).reshape(-1, 4):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        w, h = (x1 - x0) * 1.25, (y1 - y0) * 1.25
        if w / h > w_in / h_in:
            h = w * h_in / w_in
        else:
            w = h * w_in / h_in
        s = w_in / w
        A = np.array([[s, 0, w_in / 2 - s * cx], [0, s, h_in / 2 - s * cy]])
        crop = cv2.warpAffine(bgr, A, (w_in, h_in), flags=cv2.INTER_LINEAR)
        simcc_x, simcc_y = model.session.run(None, {model.session.get_inputs()[0].name: _normalise(crop)})[:2]
        sx, sy = simcc_x[0], simcc_y[0]
        u = sx.argmax(-1) / (sx.shape[-1] / w_in)
        v = sy.argmax(-1) / (sy.shape[-1] / h_in)
        conf = np.minimum(sx.max(-1), sy.max(-1))
        kps.append(np.stack([(u - A[0, 2]) / s, (v - A[1, 2]) / s], -1))
        confs.append(np.clip(conf, 0, 1))
    if not kps:
        return np.zeros((0, 17, 2), np.float32), np.zeros((0, 17), np.float32)
    return np.stack(kps).astype(np.float32), np.stack(confs).astype(np.float32)


def run_rtmo(model: OnnxPoseModel, rgb: np.ndarray, min_score: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """One-stage RTMO: ``(keypoints_px (P, 17, 2), confidence (P, 17))``."""
    h_in, w_in = model.input_hw
    h, w = rgb.shape[:2]
    s = min(h_in / h, w_in / w)
    canvas = np.full((h_in, w_in, 3), 114, np.uint8)
    canvas[: round(h * s), : round(w * s)] = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), (round(w * s), round(h * s)))
    x = np.ascontiguousarray(canvas.astype(np.float32).transpose(2, 0, 1)[None])
    dets, kpts = model.session.run(None, {model.session.get_inputs()[0].name: x})[:2]
    keep = dets[0, :, 4] >= min_score
    k = kpts[0][keep]
    return (k[..., :2] / s).astype(np.float32), np.clip(k[..., 2], 0, 1).astype(np.float32)
