import hashlib
import json
import shutil
from pathlib import Path

import pytest
from pycocotools.coco import COCO

from orscene.cli import main
from orscene.curate.release import ReleaseConfig, release_session
from orscene.curate.state import CurateError, append_decision, load_run_outputs
from orscene.evaluate.run import EvaluateConfig, evaluate_session
from orscene.recording.faces import load_faces

pytestmark = pytest.mark.slow


def _md5(p: Path) -> str:
    return hashlib.md5(p.read_bytes()).hexdigest()


def _accept_all(out: Path) -> None:
    run = load_run_outputs(out)
    for f in run.flagged_frames:
        append_decision(out, run.session, {"action": "accept", "frame": f, "user": "test"})


def test_release_refuses_an_unreviewed_session(curate_session, outputs_copy, tmp_path, capsys):
    assert load_run_outputs(outputs_copy).flagged_frames  # the forced miss is flagged
    to = tmp_path / "pkg"
    with pytest.raises(CurateError, match="flagged for review are neither accepted nor fixed"):
        release_session(ReleaseConfig(to=to, session="CUR", outputs=outputs_copy, recordings=curate_session.parent))
    assert not to.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".pkg")]
    rc = main(["release", "--session", "CUR", "--recordings", str(curate_session.parent), "--outputs", str(outputs_copy), "--to", str(to)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "--accept-unreviewed" in err[0]
    # accepting all but one flagged frame-set is not enough
    run = load_run_outputs(outputs_copy)
    for f in run.flagged_frames[1:]:
        append_decision(outputs_copy, "CUR", {"action": "accept", "frame": f})
    with pytest.raises(CurateError, match=f"1 of {len(run.flagged_frames)} frame-sets"):
        release_session(ReleaseConfig(to=to, session="CUR", outputs=outputs_copy, recordings=curate_session.parent))
    # the override is recorded, with the frame-set left unreviewed
    release_session(ReleaseConfig(to=to, session="CUR", outputs=outputs_copy, recordings=curate_session.parent, accept_unreviewed=True))
    manifest = json.loads((to / "manifest.json").read_text())
    assert manifest["accept_unreviewed"] is True and manifest["review"]["unresolved"] == [run.flagged_frames[0]]


def test_release_package_reads_back(curate_session, outputs_copy, tmp_path):
    _accept_all(outputs_copy)
    to = tmp_path / "pkg"
    assert main(["release", "--session", "CUR", "--recordings", str(curate_session.parent), "--outputs", str(outputs_copy), "--to", str(to)]) == 0
    manifest = json.loads((to / "manifest.json").read_text())
    assert manifest["accept_unreviewed"] is False and manifest["review"]["unresolved"] == []
    # every file but the manifest and SHA256SUMS is listed with its sha256, and nothing else
    files = {p.relative_to(to).as_posix() for p in to.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {"manifest.json", "SHA256SUMS"}
    for rel, entry in manifest["files"].items():
        assert hashlib.sha256((to / rel).read_bytes()).hexdigest() == entry["sha256"]
    assert not any(".state" in f or f.startswith(".") for f in files)
    # the outputs are packaged as written
    for rel in ("faces.json", "masks/cam0/000000.png", "images/cam1/000002.jpg", "video/cam0.mp4"):
        assert _md5(to / rel) == _md5(outputs_copy / rel)
    # no file in the package has the md5 of an input image
    inputs = {_md5(p) for p in curate_session.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png")}
    assert inputs and not inputs & {_md5(to / f) for f in files}

    # cli.py evaluate scores the package exactly as it scores the output folder
    cfg = dict(session="CUR", recordings=str(curate_session.parent), baselines=(), quality=False)
    a = evaluate_session(EvaluateConfig(predictions=str(outputs_copy), **cfg))
    b = evaluate_session(EvaluateConfig(predictions=str(to), **cfg))
    assert a["recall"] is not None and (a["recall"], a["leak_rate"], a["leaks"]) == (b["recall"], b["leak_rate"], b["leaks"])

    # pycocotools reads the COCO export: one image per written view, one box per face region
    coco = COCO(str(to / "annotations" / "coco.json"))
    faces = load_faces(to / "faces.json")
    regions = [f for f in faces.faces if f.source.value != "obscured"]
    assert len(coco.getAnnIds()) == len(regions) > 0
    assert len(coco.getImgIds()) == len(faces.frames) * len(faces.cameras)
    for img in coco.loadImgs(coco.getImgIds()):
        assert (to / img["file_name"]).is_file()
        assert img["obscured"] == (img["frame"] == 1)  # the forced failure
    f0 = regions[0]
    (img,) = [i for i in coco.loadImgs(coco.getImgIds()) if (i["frame"], i["camera"]) == (f0.frame, f0.camera)]
    boxes = [a["bbox"] for a in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))]
    x0, y0, x1, y1 = f0.box_xyxy_px
    want = [max(0, x0 + 0.5), max(0, y0 + 0.5)]
    assert any(abs(b[0] - want[0]) < 0.02 and abs(b[1] - want[1]) < 0.02 for b in boxes)
    # WIDER FACE text: file, count, boxes, for every image
    lines = (to / "annotations" / "wider_face.txt").read_text().splitlines()
    assert lines[0] == coco.loadImgs(1)[0]["file_name"] and int(lines[1]) == len(coco.getAnnIds(imgIds=[1]))
    assert sum(1 for line in lines if line.startswith("images/")) == len(coco.getImgIds())
    readme = (to / "README.md").read_text()
    assert "frame-sets: 4" in readme and "3: cam0 (480x270)" in readme
    assert json.loads((to / "calibration.json").read_text())["cameras"].keys() == {"cam0", "cam1", "cam2"}


def test_release_never_packages_an_original(curate_session, outputs_copy, tmp_path):
    _accept_all(outputs_copy)
    original = sorted((curate_session / "cam0").rglob("*.jpg"))[0]
    shutil.copyfile(original, outputs_copy / "images" / "cam0" / "000003.jpg")  # as if the run had left it untouched
    with pytest.raises(CurateError, match="checksum of the input file"):
        release_session(ReleaseConfig(to=tmp_path / "pkg", session="CUR", outputs=outputs_copy, recordings=curate_session.parent))
    assert not (tmp_path / "pkg").exists() and not list(tmp_path.glob(".pkg*"))
