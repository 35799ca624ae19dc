import numpy as np
import pytest
import torch

from orscene.errors import ModelFileError
from orscene.evaluate.perceptual import frechet_distance, load_torchscript, perceptual_metrics
from orscene.recording.faces import FaceAnnotations
from orscene.types import FaceBox


class _L1(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).abs().mean(dim=(1, 2, 3))


class _Pool(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def test_frechet_known_answers(rng):
    a = rng.normal(size=(500, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + np.array([2.0, 0.0, 0.0])) == pytest.approx(4.0, abs=1e-6)


def test_missing_or_bad_network_file(tmp_path):
    with pytest.raises(ModelFileError, match="never downloads"):
        load_torchscript(tmp_path / "lpips.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError):
        load_torchscript(bad)


def test_user_torchscript_networks(tmp_path, rng):
    torch.jit.save(torch.jit.script(_L1()), str(tmp_path / "l1.pt"))
    torch.jit.save(torch.jit.script(_Pool()), str(tmp_path / "pool.pt"))
    orig = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    anon = orig.copy()
    anon[0:20, 0:20] = 0
    faces = (
        FaceBox(0, "a", 1, (-0.5, -0.5, 19.5, 19.5)),
        FaceBox(0, "a", 2, (19.5, 19.5, 39.5, 39.5)),
        FaceBox(0, "a", 3, (19.5, -0.5, 39.5, 19.5)),
    )
    ann = FaceAnnotations("S", ("a",), (0,), faces)
    out = perceptual_metrics(ann, [(0, "a")], lambda f, c: orig, lambda f, c: anon, str(tmp_path / "l1.pt"), str(tmp_path / "pool.pt"))
    # only face 1 changed: its mean |x/127.5| over [-1, 1] units, the others 0
    crop = orig[0:20, 0:20].astype(np.float64) / 127.5
    assert out["lpips"] == pytest.approx(crop.mean() / 3, rel=0.05)
    assert out["fid"] > 0
    assert perceptual_metrics(ann, [(0, "a")], None, None, None, None) == {}
