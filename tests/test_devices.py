"""Device selection: ``auto`` resolves to what this machine has (CPU here), an explicit
CUDA device without CUDA is a one-line error, onnxruntime providers follow what
onnxruntime reports; the run summary names each stage's device."""

import dataclasses

import onnxruntime
import pytest
import torch

from orscene._system import onnx_providers, torch_device
from orscene.anonymize2d import FaceDetectorConfig
from orscene.body import BodyModelConfig, FitConfig
from orscene.errors import ConfigError
from orscene.pipeline.config import PipelineConfig
from orscene.pipeline.devices import stage_devices
from orscene.pose import FusionConfig, KeypointDetectorConfig

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
HAS_CUDA = torch.cuda.is_available()


def test_every_torch_stage_defaults_to_auto():
    assert BodyModelConfig().device == FitConfig().device == FusionConfig().device == KeypointDetectorConfig().device == "auto"


def test_auto_is_what_this_machine_has():
    assert torch_device("auto") == ("cuda" if HAS_CUDA else "cpu")
    assert torch_device("auto", cuda_available=False) == "cpu"
    assert torch_device("auto", cuda_available=True) == "cuda"
    assert torch_device("cpu") == "cpu" and torch_device("cuda:1", cuda_available=True) == "cuda:1"


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_one_line_error():
    with pytest.raises(ConfigError) as e:
        torch_device("cuda")
    assert "'cuda'" in str(e.value) and "auto or cpu" in str(e.value) and "\n" not in str(e.value)


def test_unknown_device_is_a_config_error():
    with pytest.raises(ConfigError, match="not a torch device"):
        torch_device("gpu0")
    with pytest.raises(ConfigError, match="not an onnxruntime device"):
        onnx_providers("gpu0", [CPU])


def test_onnx_providers_follow_what_onnxruntime_reports():
    real = onnxruntime.get_available_providers()
    assert onnx_providers("auto", real) == ([CUDA, CPU] if CUDA in real else [CPU])
    assert onnx_providers("auto", ["AzureExecutionProvider", CPU]) == [CPU]
    assert onnx_providers("auto", [CUDA, CPU]) == [CUDA, CPU]
    assert onnx_providers("cpu", [CUDA, CPU]) == [CPU]
    assert onnx_providers("cuda", [CUDA, CPU]) == [CUDA, CPU]
    with pytest.raises(ConfigError, match="onnxruntime-gpu"):
        onnx_providers("cuda", [CPU])


def test_centerface_session_uses_the_selected_providers():
    from orscene.anonymize2d.detectors import load_face_detector

    det = load_face_detector(FaceDetectorConfig(name="centerface"))
    assert det.runner.get_providers()[0] == onnx_providers("auto", onnxruntime.get_available_providers())[0]


def test_summary_names_each_stage_device():
    cfg = PipelineConfig()
    assert stage_devices(cfg, [CPU], cuda_available=False) == {
        "keypoints": "tflite cpu",
        "pose_fusion": "torch cpu",
        "body_fit": "torch cpu",
        "face_detector_centerface": "onnxruntime CPUExecutionProvider",
        "face_detector_blazeface": "tflite cpu",
    }
    gpu = stage_devices(cfg, [CUDA, CPU], cuda_available=True)
    assert gpu["pose_fusion"] == gpu["body_fit"] == "torch cuda" and gpu["face_detector_centerface"] == "onnxruntime CUDAExecutionProvider"
    rtmo = dataclasses.replace(cfg, pose=dataclasses.replace(cfg.pose, detector=KeypointDetectorConfig(kind="rtmo", device="cpu")))
    assert stage_devices(rtmo, [CUDA, CPU], cuda_available=True)["keypoints"] == "onnxruntime CPUExecutionProvider"
    with pytest.raises(ConfigError):
        stage_devices(dataclasses.replace(cfg, body=FitConfig(device="cuda")), [CPU], cuda_available=False)
