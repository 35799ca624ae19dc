"""Depth is evidence, not a veto: one camera's faulty depth does not hide the faces it shows.

A tiny synthetic session (3 cameras with depth, 6 frame-sets at 15 fps, 480x270) whose
cam1 depth frames are all replaced by a constant 400 mm (a wall "in front of" everything).
That view's depth is implausible as a whole: it is treated as RGB-only for each frame-set
(logged and recorded in the audit), so no face is "hidden" there: every tracked person's
head is covered in cam1 (rendered and covered in 2D, as in a view without depth), where
the faulty depth used to hide the settled, aligned people's faces and leave them raw.
(Renderer-level cases: tests/render/test_render_faces.py::test_depth_is_evidence_not_a_veto.)
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from orscene.pipeline.config import OutputFormat
from orscene.pipeline.run import ProcessConfig, process_session
from orscene.synth.generate import Scenario, SynthConfig, generate_session

pytestmark = pytest.mark.slow

BAD = "cam1"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("rec")
    session = generate_session(
        SynthConfig(session="WALL", recordings=root, scenario=Scenario.EASY, seconds=6 / 15, fps=15, seed=11, cameras=3, width=480, height=270)
    )
    for png in sorted((session / BAD / "depth").glob("*.png")):
        d = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(png), np.full_like(d, 400))
    out = tmp_path_factory.mktemp("out") / "WALL"
    process_session(ProcessConfig(session=session.name, recordings=root, out=out, format=OutputFormat.IMAGES))
    return session, out


def test_implausible_depth_makes_the_view_rgb_only_and_is_recorded(run):
    _, out = run
    audit = json.loads((out / "audit.json").read_text())
    assert len(audit["framesets"]) == 6
    for e in audit["framesets"]:
        assert "error" not in e
        # only the faulty camera, on every frame-set where its depth was read
        assert set(e.get("depth_ignored", {})) <= {BAD}
    assert any(BAD in e.get("depth_ignored", {}) for e in audit["framesets"])


def test_the_constant_400_mm_camera_hides_no_face(run):
    _, out = run
    audit = json.loads((out / "audit.json").read_text())
    vouched = 0
    for e in audit["framesets"]:
        covered = {f["person"] for f in e["views"][BAD]["faces"] if f["source"] == "head2d"}
        for p in e["persons"]:
            assert p["track"] in covered, (e["frame"], p)  # fail closed in the RGB-only view
            vouched += p["settled"] and p["head"] == "aligned"
        # the other cameras' depth still vouches: no head region where the 3D path drew
        for cam in ("cam0", "cam2"):
            assert "depth_ignored" not in e or cam not in e["depth_ignored"]
    assert vouched > 0  # the 3D path did vouch for people (who the faulty depth used to hide)
