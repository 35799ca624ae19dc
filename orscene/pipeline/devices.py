"""Which device each stage of a run uses, for the run summary (same resolution as the
stages: ``orscene._system.torch_device`` and ``onnx_providers``)."""

from orscene._system import onnx_providers, torch_device
from orscene.pipeline.config import PipelineConfig

__all__ = ["stage_devices"]

TFLITE = "tflite cpu"


def _onnx(device: str, available: list[str]) -> str:
    return "onnxruntime " + onnx_providers(device, available)[0]


def stage_devices(cfg: PipelineConfig, onnx_available: list[str] | None = None, cuda_available: bool | None = None) -> dict[str, str]:
    """Stage -> device ("torch cpu", "torch cuda", "onnxruntime CPUExecutionProvider",
    "tflite cpu", ...). ``onnx_available`` defaults to
    ``onnxruntime.get_available_providers()``, ``cuda_available`` to
    ``torch.cuda.is_available()``."""
    if onnx_available is None:
        import onnxruntime

        onnx_available = onnxruntime.get_available_providers()
    kind = str(getattr(cfg.pose.detector.kind, "value", cfg.pose.detector.kind))
    if kind == "blazepose":
        keypoints = TFLITE
    elif kind == "rtmpose":
        keypoints = f"{_onnx(cfg.pose.detector.device, onnx_available)} (person boxes: {TFLITE})"
    else:
        keypoints = _onnx(cfg.pose.detector.device, onnx_available)
    out = {
        "keypoints": keypoints,
        "pose_fusion": "torch " + torch_device(cfg.pose.fusion.device, cuda_available),
        "body_fit": "torch " + torch_device(cfg.body.device, cuda_available),
    }
    for d in cfg.detectors:
        name = str(getattr(d.name, "value", d.name))
        out[f"face_detector_{name}"] = _onnx("auto", onnx_available) if name == "centerface" else TFLITE
    return out
