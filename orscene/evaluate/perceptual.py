"""LPIPS and FID of anonymized face crops, only with networks the user points to.

orscene never downloads weights. The user passes TorchScript files (``torch.jit.save``) or ``torch.export`` archives (``.pt2``):

* LPIPS: ``model(a, b)`` with ``a, b`` float32 ``(N, 3, 64, 64)`` in ``[-1, 1]`` returns
  ``(N,)`` (or ``(N, 1, 1, 1)``) distances; reported as their mean.
* FID: ``model(x)`` with ``x`` float32 ``(N, 3, 299, 299)`` in ``[-1, 1]`` returns ``(N, D)``
  features; FID = ``|mu_o - mu_a|^2 + tr(S_o + S_a - 2 (S_o S_a)^(1/2))`` between the
  original and the anonymized crops' features.

A path that does not exist or does not load raises :class:`ModelFileError`.
"""

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from orscene.errors import ModelFileError
from orscene.recording.faces import FaceAnnotations

__all__ = ["load_torchscript", "face_crop_pairs", "lpips_distance", "frechet_distance", "perceptual_metrics"]

log = logging.getLogger(__name__)


def load_torchscript(path: str | Path):
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError("network file not found (orscene never downloads weights)", path)
    try:
        if path.suffix == ".pt2":  # torch.export archive
            model = torch.export.load(str(path)).module()
        else:
            model = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:  # torch raises RuntimeError/ValueError with long messages
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"not a loadable TorchScript file: {first}", path) from None
    if hasattr(model, "eval"):
        model.eval()
    return model


def face_crop_pairs(
    annotations: FaceAnnotations,
    views: Sequence[tuple[int, str]],
    originals: Callable,
    anonymized: Callable,
    size: int,
    min_px: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """(original, anonymized) crops of every non-ignored annotated face, resized to size x size."""
    by = annotations.by_frame_camera()
    a, b = [], []
    for frame, cam in views:
        boxes = [f for f in by.get((frame, cam), []) if not f.ignore]
        if not boxes:
            continue
        o, n = originals(frame, cam), anonymized(frame, cam)
        if o is None or n is None or o.shape != n.shape:
            continue
        h, w = o.shape[:2]
        for f in boxes:
            c0, r0, c1, r1 = f.box_xyxy_px.pixel_range(w, h)
            if c1 - c0 < min_px or r1 - r0 < min_px:
                continue
            a.append(cv2.resize(o[r0:r1, c0:c1], (size, size), interpolation=cv2.INTER_LINEAR))
            b.append(cv2.resize(n[r0:r1, c0:c1], (size, size), interpolation=cv2.INTER_LINEAR))
    empty = np.zeros((0, size, size, 3), np.uint8)
    return (np.stack(a) if a else empty), (np.stack(b) if b else empty)


def _to_tensor(x: np.ndarray):
    import torch

    return torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2).contiguous()


def lpips_distance(model, originals: np.ndarray, anonymized: np.ndarray, batch: int = 32) -> float | None:
    import torch

    if len(originals) == 0:
        return None
    out = []
    with torch.no_grad():
        for i in range(0, len(originals), batch):
            d = model(_to_tensor(originals[i : i + batch]), _to_tensor(anonymized[i : i + batch]))
            out.append(d.reshape(d.shape[0], -1).mean(1).double().numpy())
    return float(np.concatenate(out).mean())


def frechet_distance(feat_a: np.ndarray, feat_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets."""
    from scipy import linalg

    mu_a, mu_b = feat_a.mean(0), feat_b.mean(0)
    s_a = np.atleast_2d(np.cov(feat_a, rowvar=False))
    s_b = np.atleast_2d(np.cov(feat_b, rowvar=False))
    covmean, _ = linalg.sqrtm(s_a @ s_b, disp=False)
    covmean = np.real(covmean)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2.0 * covmean))


def _features(model, crops: np.ndarray, batch: int = 16) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            out.append(model(_to_tensor(crops[i : i + batch])).reshape(len(crops[i : i + batch]), -1).double().numpy())
    return np.concatenate(out)


def perceptual_metrics(
    annotations: FaceAnnotations,
    views: Sequence[tuple[int, str]],
    originals: Callable | None,
    anonymized: Callable | None,
    lpips_path: str | None,
    fid_path: str | None,
) -> dict:
    """``{"lpips": .., "fid": ..}`` for the networks given; {} when none is given."""
    out: dict = {}
    if lpips_path is None and fid_path is None:
        return out
    lp = load_torchscript(lpips_path) if lpips_path else None
    fd = load_torchscript(fid_path) if fid_path else None
    if originals is None or anonymized is None:
        log.warning("LPIPS/FID need original and anonymized images; skipped")
        return out
    if lp is not None:
        a, b = face_crop_pairs(annotations, views, originals, anonymized, 64)
        out["lpips"] = lpips_distance(lp, a, b)
    if fd is not None:
        a, b = face_crop_pairs(annotations, views, originals, anonymized, 299)
        out["fid"] = frechet_distance(_features(fd, a), _features(fd, b)) if len(a) >= 2 else None
    return out
