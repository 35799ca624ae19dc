"""The worked example in docs/session_format.md is a valid session (manifest + calibration)."""

import re
from pathlib import Path

import numpy as np
import yaml

from orscene.recording.session import load_calibration, load_manifest

DOC = Path(__file__).resolve().parents[2] / "docs" / "session_format.md"


def _block(section: str, lang: str) -> str:
    text = DOC.read_text()
    part = text[text.index(section):]
    return re.search(rf"```{lang}\n(.*?)```", part, re.S).group(1)


def test_worked_example_validates(tmp_path):
    s = tmp_path / "OR_03"
    s.mkdir()
    (s / "session.yaml").write_text(_block("## Manifest", "yaml"))
    (s / "calibration.json").write_text(_block("## Calibration", "json"))
    m = load_manifest(s)
    assert m.name == "OR_03" and m.camera_names == ("cam0", "cam1", "cam2") and m.tolerance_ns == 11_000_000
    cal = load_calibration(s / "calibration.json")
    assert set(cal.cameras) == {"cam2"} and set(cal.poses_only) == {"cam0"}
    np.testing.assert_allclose(cal.poses_only["cam0"][:3, 3], [0.5, -2.0, 1.8])
    assert cal.cameras["cam2"].depth.width_px == 640 and cal.residuals["cam2"] == 0.41
    assert yaml.safe_load(_block("## Manifest", "yaml"))["annotations"]["faces"] == "annotations/faces.json"
