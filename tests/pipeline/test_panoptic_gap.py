"""Issue 16, "Done when": the two real Panoptic frame-sets give the same result processed
alone as inside a longer sequence whose other frame-sets lie minutes away.

The longer session is the imported one with a copy of its second frame-set two and a
half minutes before the first and a copy of its first two minutes after the second: the
same people at the same places, so anything carried, held, tracked or interpolated across
a gap (a body, a head, a detector hold, a window around a neighbouring pass's faces)
would change the original frame-sets' faces or images. Both runs write images only (no
MP4: the comparison is on the images and faces.json).
"""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from orscene.pipeline.config import OutputFormat
from orscene.pipeline.run import ProcessConfig, process_session
from orscene.recording.importers import ImportConfig, ImportKind, run_import

pytestmark = pytest.mark.slow

BEFORE_NS = 150 * 10**9
"""The copy of frame-set 1 placed this long before frame-set 0 (at 0 ns: Panoptic's
frame-set 0 lies at ~150 s)."""
AFTER_NS = 120 * 10**9


def _longer(alone: Path, dest: Path) -> Path:
    """``alone``'s 2 frame-sets as frame-sets 1-2 of a 4-frame-set session:
    [copy of 1 at t0 - 150 s, 0, 1, copy of 0 at t1 + 120 s]."""
    shutil.copytree(alone, dest)
    manifest = yaml.safe_load((dest / "session.yaml").read_text())
    manifest.pop("annotations", None)  # the ground truth names frames 0-1 of the short one
    (dest / "session.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    for cam in manifest["cameras"]:
        folder = dest / cam["path"]
        head, *rows = (folder / "timestamps.csv").read_text().splitlines()
        t = [int(r.split(",")[1]) for r in rows]
        assert len(t) == 2 and t[0] >= BEFORE_NS
        src = {k: folder / "color" / f"{k:06d}.jpg" for k in (0, 1)}
        data = {k: p.read_bytes() for k, p in src.items()}
        order = [(1, t[0] - BEFORE_NS), (0, t[0]), (1, t[1]), (0, t[1] + AFTER_NS)]
        for p in src.values():
            p.unlink()
        for k, (orig, ts) in enumerate(order):
            (folder / "color" / f"{k:06d}.jpg").write_bytes(data[orig])
        (folder / "timestamps.csv").write_text("\n".join([head, *(f"{k},{ts}" for k, (_, ts) in enumerate(order))]) + "\n")
    return dest


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory) -> dict[str, Path]:
    rec = tmp_path_factory.mktemp("rec")
    assert run_import(ImportConfig(ImportKind.panoptic, shared_data / "panoptic", session="PAN", recordings=rec)) == 0
    _longer(rec / "PAN", rec / "PANLONG")
    outs = {}
    for name in ("PAN", "PANLONG"):
        outs[name] = tmp_path_factory.mktemp("out") / name
        process_session(ProcessConfig(session=name, recordings=rec, out=outs[name], format=OutputFormat.IMAGES))
    return outs


def _faces(out: Path, frame_offset: int) -> dict[tuple[int, str], list[tuple[str, tuple[float, ...]]]]:
    """(frame of the short session, camera) -> sorted (source, box) of the faces found."""
    data = json.loads((out / "faces.json").read_text())
    faces: dict = {}
    for f in data["faces"]:
        k = f["frame"] - frame_offset
        if k in (0, 1):
            faces.setdefault((k, f["camera"]), []).append((f["source"], tuple(round(v, 1) for v in f["box"])))
    return {k: sorted(v) for k, v in faces.items()}


def test_panoptic_frames_alone_and_inside_a_gapped_sequence_agree(runs):
    alone, longer = runs["PAN"], runs["PANLONG"]
    assert json.loads((longer / "summary.json").read_text())["framesets"] == 4
    faces_alone, faces_longer = _faces(alone, 0), _faces(longer, 1)
    assert sum(len(v) for v in faces_alone.values()) >= 10  # people found in both frame-sets
    assert faces_longer == faces_alone
    cams = sorted(p.name for p in (alone / "images").iterdir())
    assert len(cams) == 5
    for cam in cams:
        for k in (0, 1):
            a = cv2.imread(str(alone / "images" / cam / f"{k:06d}.jpg")).astype(np.int16)
            b = cv2.imread(str(longer / "images" / cam / f"{k + 1:06d}.jpg")).astype(np.int16)
            # the same faces obscured the same way: the images agree up to JPEG noise
            assert a.shape == b.shape and float(np.abs(a - b).mean()) < 0.05, (cam, k)
