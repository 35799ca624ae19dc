"""What the machine gives this process."""

import functools
import os
from collections.abc import Sequence

from orscene.errors import ConfigError

__all__ = ["usable_cores", "torch_device", "onnx_providers"]

_CUDA_EP, _CPU_EP = "CUDAExecutionProvider", "CPUExecutionProvider"


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@functools.cache
def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def torch_device(name: str, cuda_available: bool | None = None) -> str:
    """The torch device a stage's ``device`` setting names: ``"auto"`` is ``"cuda"`` when
    CUDA is available, else ``"cpu"``; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` are kept.
    ``cuda_available`` defaults to ``torch.cuda.is_available()``. ``ConfigError`` for a
    CUDA device without CUDA, or a name torch does not know."""
    available = _cuda_available() if cuda_available is None else cuda_available
    if name == "auto":
        return "cuda" if available else "cpu"
    import torch

    try:
        kind = torch.device(name).type
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {name!r} is not a torch device (auto, cpu, cuda, cuda:N)") from None
    if kind == "cuda" and not available:
        raise ConfigError(f"device {name!r} asks for CUDA, which this torch build or machine does not have (use auto or cpu)")
    return name


def onnx_providers(device: str, available: Sequence[str]) -> list[str]:
    """onnxruntime execution providers for ``device`` (``auto``, ``cpu``, ``cuda``,
    ``cuda:N``), given the providers this onnxruntime has
    (``onnxruntime.get_available_providers()``): CUDA first when asked for or, with
    ``auto``, when available; CPU always last. ``ConfigError`` for CUDA it lacks."""
    if device == "cpu":
        return [_CPU_EP]
    if device == "auto":
        return [_CUDA_EP, _CPU_EP] if _CUDA_EP in available else [_CPU_EP]
    if device == "cuda" or device.startswith("cuda:"):
        if _CUDA_EP not in available:
            raise ConfigError(f"device {device!r} asks for onnxruntime's CUDA provider, which this onnxruntime lacks "
                              "(install onnxruntime-gpu, or use auto or cpu)")  # fmt: skip
        return [_CUDA_EP, _CPU_EP]
    raise ConfigError(f"device {device!r} is not an onnxruntime device (auto, cpu, cuda, cuda:N)")
