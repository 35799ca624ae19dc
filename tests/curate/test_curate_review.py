"""Scriptable review: a face marked in one view is covered in every view and the
neighbouring frame-sets that show it; nothing else changes; decisions are logged."""

import hashlib
import json
from pathlib import Path

import pytest

from orscene.cli import main
from orscene.curate.release import ReleaseConfig, release_session
from orscene.curate.state import load_review_log, load_run_outputs
from orscene.evaluate.run import EvaluateConfig, evaluate_session
from orscene.recording.faces import load_faces

pytestmark = pytest.mark.slow
FAIL = 1


def _evaluate(session: Path, out: Path) -> dict:
    return evaluate_session(EvaluateConfig(session=session.name, recordings=str(session.parent), predictions=str(out), baselines=(), quality=False))


def _md5s(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.md5(p.read_bytes()).hexdigest() for d in ("images", "masks") for p in (out / d).rglob("*") if p.is_file()}


def test_marked_face_is_covered_in_every_view_and_nothing_else_changes(curate_session, outputs_copy, capsys):
    before = _evaluate(curate_session, outputs_copy)
    gt = load_faces(curate_session / "annotations" / "faces.json")
    leaks = [tuple(x[:3]) for x in before["leaks"] if x[0] != FAIL]
    if not leaks:
        pytest.fail("the synthetic session has no leaked face to mark: pick another seed in conftest.py")
    # the leaked face whose person leaks in the most views of its frame-set
    frame, cam, person = max(leaks, key=lambda k: (sum(1 for x in leaks if (x[0], x[2]) == (k[0], k[2])), -k[0]))
    (box,) = [f.box_xyxy_px for f in gt.faces if (f.frame, f.camera, f.person) == (frame, cam, person)]
    md5_before = _md5s(outputs_copy)
    videos_before = {p.name: p.read_bytes() for p in (outputs_copy / "video").glob("*.mp4")}
    args = ["review", "--session", "CUR", "--recordings", str(curate_session.parent), "--outputs", str(outputs_copy), "--user", "tester"]
    assert main([*args, "--add-face", str(frame), cam, *(f"{v:.1f}" for v in box)]) == 0
    print(capsys.readouterr().out)

    after = _evaluate(curate_session, outputs_copy)
    left = {tuple(x[:3]) for x in after["leaks"]}
    # the marked face and the same person's other views at that frame-set no longer leak
    assert (frame, cam, person) not in left
    assert not [k for k in left if (k[0], k[2]) == (frame, person)]
    assert len(after["leaks"]) < len(before["leaks"])
    assert not left - {tuple(x[:3]) for x in before["leaks"]}  # nothing new leaks

    (d,) = load_review_log(outputs_copy).decisions
    assert d["action"] == "add_face" and d["user"] == "tester" and d["time_utc"].endswith("Z") and d["lifted"] in ("depth", "size_prior")
    covered = {(int(f), c) for f, views in d["covered"].items() for c in views}
    assert (frame, cam) in covered and len({c for _, c in covered}) >= 2  # carried to other views
    # only the covered views' images and masks changed
    md5_after = _md5s(outputs_copy)
    changed = {k for k in md5_before if md5_before[k] != md5_after[k]}
    assert changed and all((int(Path(k).stem), Path(k).parent.name) in covered for k in changed)
    # the covered cameras' MP4s were re-encoded with every frame kept; the others are untouched
    import av

    for name, data in videos_before.items():
        now = (outputs_copy / "video" / name).read_bytes()
        assert (now != data) == (Path(name).stem in {c for _, c in covered})
        with av.open(str(outputs_copy / "video" / name)) as v:
            assert sum(1 for _ in v.decode(video=0)) == 4
    faces = load_faces(outputs_copy / "faces.json")
    assert {(f.frame, f.camera) for f in faces.faces if f.source.value == "review"} == covered
    # the report lists the review
    assert "faces added in review: 1" in (outputs_copy / "report" / "index.html").read_text()


def test_accept_resolves_flagged_framesets_for_release(curate_session, outputs_copy, tmp_path, capsys):
    run = load_run_outputs(outputs_copy)
    args = ["review", "--session", "CUR", "--outputs", str(outputs_copy), "--accept", *map(str, run.flagged_frames)]
    assert main(args) == 0
    log = load_review_log(outputs_copy)
    assert log.accepted() == set(run.flagged_frames) and all(d["user"] and d["time_utc"] for d in log.decisions)
    # a region marked as not a face stays anonymized but leaves the released annotations
    faces = load_faces(outputs_copy / "faces.json")
    region = next(f for f in faces.faces if f.source.value not in ("obscured", "review"))
    mask_before = (outputs_copy / "masks" / region.camera / f"{region.frame:06d}.png").read_bytes()
    assert main(["review", "--outputs", str(outputs_copy), "--not-face", str(region.frame), region.camera, *map(str, region.box_xyxy_px)]) == 0
    assert (outputs_copy / "masks" / region.camera / f"{region.frame:06d}.png").read_bytes() == mask_before
    release_session(ReleaseConfig(to=tmp_path / "pkg", session="CUR", outputs=outputs_copy, recordings=curate_session.parent))
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    assert manifest["review"]["unresolved"] == [] and manifest["review"]["accepted"] == len(run.flagged_frames)
    assert manifest["review"]["not_faces"] == 1
    coco = json.loads((tmp_path / "pkg" / "annotations" / "coco.json").read_text())
    n_regions = sum(1 for f in faces.faces if f.source.value != "obscured")
    (img,) = [i for i in coco["images"] if (i["frame"], i["camera"]) == (region.frame, region.camera)]
    x0, y0 = region.box_xyxy_px[0] + 0.5, region.box_xyxy_px[1] + 0.5
    assert not [a for a in coco["annotations"] if a["image_id"] == img["id"] and abs(a["bbox"][0] - max(0, x0)) < 0.02 and abs(a["bbox"][1] - max(0, y0)) < 0.02]
    assert n_regions - len(coco["annotations"]) >= 1
    assert main(["review", "--outputs", str(outputs_copy), "--accept", "99"]) != 0
    assert "not processed" in capsys.readouterr().err
