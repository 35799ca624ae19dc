"""End to end on a tiny synthetic session: fail closed, resume, no-op re-run, CLI errors.

One session (3 cameras, one without depth, 4 frame-sets, 480x270) is generated once; the
pipeline runs on it a few times. These are the suite's slow tests: keep them few.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from orscene.pipeline.config import PipelineConfig
from orscene.pipeline.frameset import obscure_image
from orscene.pipeline.run import ProcessConfig, process_session
from orscene.recording.faces import load_faces
from orscene.synth.generate import Scenario, SynthConfig, generate_session

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

FAIL = 1  # the frame-set whose processing is made to raise


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rec")
    return generate_session(
        SynthConfig(session="E2E", recordings=root, scenario=Scenario.HARD, seconds=0.8, fps=5, seed=5, cameras=3, rgb_only=1, width=480, height=270)
    )


# the session runs at 5 fps; the schedule's bounds in seconds are stretched so that these
# 4 frame-sets still exercise keyframes 0 and 3 and passes 0 and 3 (test_keyframes.py)
STRIDED = PipelineConfig(keyframe_max_s=1.0, pose_follow_max_s=1.0, detector_max_s=1.0)


def _cfg(session: Path, out: Path, **kw) -> ProcessConfig:
    return ProcessConfig(session=session.name, recordings=session.parent, out=out, chunk_size=2, fail_frames=(FAIL,), pipeline=STRIDED, **kw)


@pytest.fixture(scope="module")
def finished(session, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "E2E"
    process_session(_cfg(session, out))
    return out


def _outputs(out: Path) -> dict[str, bytes]:
    files = [p for p in out.rglob("*") if p.is_file() and ".state" not in p.parts and p.name not in ("summary.json", "audit.json")]
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(files)}


def test_every_view_is_written_with_its_mask(session, finished):
    summary = json.loads((finished / "summary.json").read_text())
    assert summary["framesets"] == 4 and summary["views"] == 12
    import torch

    torch_dev = "torch cuda" if torch.cuda.is_available() else "torch cpu"  # device: auto
    assert summary["devices"]["pose_fusion"] == summary["devices"]["body_fit"] == torch_dev
    assert summary["devices"]["keypoints"] == summary["devices"]["face_detector_blazeface"] == "tflite cpu"
    for cam in ("cam0", "cam1", "cam2"):
        assert sorted(p.name for p in (finished / "images" / cam).iterdir()) == [f"{i:06d}.jpg" for i in range(4)]
        assert len(list((finished / "masks" / cam).iterdir())) == 4
        assert (finished / "video" / f"{cam}.mp4").stat().st_size > 0
    # the MP4s, joined from the two chunks' segments: one frame per frame-set at its time
    import av

    from orscene.recording.reader import open_session
    from orscene.recording.writers import MP4_TIME_BASE

    stamps = open_session(session).frameset_timestamps_ns
    with av.open(str(finished / "video" / "cam2.mp4")) as c:
        frames = [(float(f.pts * MP4_TIME_BASE), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    np.testing.assert_allclose([t for t, _ in frames], (stamps - stamps[0]) / 1e9, atol=1e-4)
    jpg = cv2.cvtColor(cv2.imread(str(finished / "images" / "cam2" / "000003.jpg")), cv2.COLOR_BGR2RGB)
    assert np.abs(frames[3][1].astype(int) - jpg[: frames[3][1].shape[0], : frames[3][1].shape[1]]).mean() < 4
    assert not (finished / ".state" / "video").exists()  # segments removed once joined
    faces = load_faces(finished / "faces.json")
    assert faces.frames == (0, 1, 2, 3)
    audit = json.loads((finished / "audit.json").read_text())
    assert set(audit["inputs"]) and all(len(v) == 64 for v in audit["inputs"].values())  # sha256 per input
    assert audit["versions"]["torch"].startswith("2.")


def test_failing_frameset_is_obscured_and_logged(session, finished):
    audit = json.loads((finished / "audit.json").read_text())
    entry = next(e for e in audit["framesets"] if e["frame"] == FAIL)
    assert "injected failure" in entry["error"]
    assert {v["status"] for v in entry["views"].values()} == {"obscured"}
    for cam in ("cam0", "cam1", "cam2"):
        mask = cv2.imread(str(finished / "masks" / cam / f"{FAIL:06d}.png"), cv2.IMREAD_GRAYSCALE)
        assert (mask == 255).all()
        orig = cv2.cvtColor(cv2.imread(str(session / cam / "color" / f"{FAIL:06d}.jpg")), cv2.COLOR_BGR2RGB)
        out = cv2.cvtColor(cv2.imread(str(finished / "images" / cam / f"{FAIL:06d}.jpg")), cv2.COLOR_BGR2RGB)
        # the written view is the coarse, darkened pixelation of the original (up to JPEG)
        assert np.abs(out.astype(int) - obscure_image(orig).astype(int)).mean() < 3
        assert np.abs(out.astype(int) - orig.astype(int)).mean() > 20
    others = [e for e in audit["framesets"] if e["frame"] != FAIL]
    assert all(v["status"] == "anonymized" for e in others for v in e["views"].values())


def test_every_face_in_faces_json_has_an_audit_record_saying_why(finished):
    """audit.json keeps, per view, one record per face of faces.json that says why it was
    covered the way it was (frameset.decide_view; test_decision.py has a face of each path),
    and one per tracked person left uncovered in the view."""
    why_by_source = {
        "render3d": {"rendered"},
        "head2d": {"no_body_fit", "not_settled", "not_aligned", "no_depth", "depth_doubted", "not_rendered", "untracked_skeleton"},
        "head3d": {"head_track"},
        "detector2d": {"detected"},
        "obscured": {"failed", "unreadable"},
    }
    faces = json.loads((finished / "faces.json").read_text())["faces"]
    audit = {e["frame"]: e for e in json.loads((finished / "audit.json").read_text())["framesets"]}
    by_view: dict = {}
    for f in faces:
        by_view.setdefault((f["frame"], f["camera"]), []).append(f)
    seen = set()
    for (frame, cam), listed in by_view.items():
        records = list(audit[frame]["views"][cam]["faces"])
        assert len(records) == len(listed)
        for f in listed:  # faces.json is sorted; the audit keeps the view's order
            same = [r for r in records if (r["person"], r["source"]) == (f["person"], f["source"]) and np.allclose(r["box"], f["box"], atol=0.051)]
            assert same, (frame, cam, f)
            rec = same[0]
            records.remove(rec)
            assert rec["why"] in why_by_source[f["source"]], rec
            if rec["person"] >= 0 and f["source"] != "head3d":  # a tracked skeleton's facts travel with the record
                assert {"settled", "vouched"} <= rec.keys()
            seen.add(f["source"])
    # the paths this tiny session always takes (whether a head aligns here, for render3d,
    # depends on the fit; test_decision.py has a record of every path)
    assert {"head2d", "obscured"} <= seen
    for e in audit.values():
        for v in e["views"].values():
            for rec in v.get("uncovered", []):
                assert rec["person"] >= 0 and "source" not in rec
                assert rec["why"] in {"hidden", "turned_away", "out_of_view", "head_out_of_view", "no_calibration"}


def test_faces_detected_in_2d_are_anonymized_in_every_view(session, finished):
    """Fail closed: wherever the bundled face detectors see a face in the original view,
    including the camera without depth, the output mask covers it. CenterFace sees whole
    images on frame-sets 0 and 3 (``detector_every`` 5 and the last frame-set); frame-set 2
    only gets windows around the faces found there (``test_keyframes.py``)."""
    from orscene.anonymize2d import FaceDetectorConfig, detect_faces, load_face_detector
    from orscene.pipeline.frameset import covered_fraction

    det = load_face_detector(FaceDetectorConfig(name="centerface"))
    checked = 0
    for cam in ("cam0", "cam1", "cam2"):
        for i in (0, 3):
            rgb = cv2.cvtColor(cv2.imread(str(session / cam / "color" / f"{i:06d}.jpg")), cv2.COLOR_BGR2RGB)
            mask = cv2.imread(str(finished / "masks" / cam / f"{i:06d}.png"), cv2.IMREAD_GRAYSCALE) > 0
            for box, _ in detect_faces(det, rgb):
                assert covered_fraction(mask, box) >= 0.9, (cam, i, box)
                checked += 1
    assert checked > 0


def test_keypoints_of_a_keyframe_do_not_depend_on_the_chunk(finished):
    """Keyframe 3 follows the people of keyframe 0 (the search keyframe before it): the chunk
    that owns it and the chunk before, which borrows it, must find the same skeletons."""
    import pickle

    a = pickle.loads((finished / ".state" / "pose_chunk_000000_000002.pkl").read_bytes())
    b = pickle.loads((finished / ".state" / "pose_chunk_000002_000004.pkl").read_bytes())
    shared = sorted(set(a.keypoints) & set(b.keypoints))
    assert shared == [0, 3]
    assert sum(k.n_persons for k in b.keypoints[3].values()) > 0
    for f in shared:
        assert a.keypoints[f].keys() == b.keypoints[f].keys()
        for cam in a.keypoints[f]:
            np.testing.assert_array_equal(a.keypoints[f][cam].keypoints_px, b.keypoints[f][cam].keypoints_px)
            np.testing.assert_array_equal(a.keypoints[f][cam].confidence, b.keypoints[f][cam].confidence)


def test_rerun_is_a_noop_unless_forced(session, finished):
    before = {p: p.stat().st_mtime_ns for p in finished.rglob("*") if p.is_file()}
    summary = process_session(_cfg(session, finished))
    assert summary["framesets"] == 4
    assert {p: p.stat().st_mtime_ns for p in finished.rglob("*") if p.is_file()} == before


def test_killed_run_resumes_to_identical_output(session, finished, tmp_path):
    """A real run, really killed (SIGKILL), at a known point: after its first chunk is
    anonymized and recorded, the test hook makes it wait on a file this test controls
    (``ORSCENE_TEST_PAUSE_FILE``), where it is killed; the re-run resumes from the second
    chunk and the outputs equal those of an uninterrupted run."""
    env = {**os.environ, "ORSCENE_LOG": "WARNING"}
    out = tmp_path / "E2E"
    pause = tmp_path / "paused"
    cmd = [sys.executable, str(REPO / "cli.py"), "process", "--session", session.name, "--recordings", str(session.parent),
           "--out", str(out), "--chunk-size", "2", "--fail-frames", str(FAIL), "--pipeline.keyframe-max-s", "1",
           "--pipeline.pose-follow-max-s", "1", "--pipeline.detector-max-s", "1"]  # fmt: skip (STRIDED)
    proc = subprocess.Popen(cmd, cwd=REPO, env={**env, "ORSCENE_TEST_PAUSE_FILE": str(pause)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not pause.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pause.exists() and proc.poll() is None, f"the run never reached its pause point (exit code {proc.poll()})"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # killed where the hook held it: the first chunk recorded, the second not, no summary
    assert pause.read_text() == "chunk_000000_000002"
    assert (out / ".state" / "chunk_000000_000002.json").is_file()
    assert not (out / ".state" / "chunk_000002_000004.json").exists() and not (out / "summary.json").exists()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)  # no hook: runs through
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = _outputs(out), _outputs(finished)
    assert [k for k in a if a[k] != b.get(k)] == [] and set(a) == set(b)


def test_cli_errors_are_one_line(session, tmp_path):
    py = [sys.executable, str(REPO / "cli.py"), "process"]
    bad = subprocess.run(py + ["--session", "../etc", "--recordings", str(session.parent)], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1 and "session name" in bad.stderr
    inside = subprocess.run(py + ["--session", session.name, "--recordings", str(session.parent), "--out", str(session / "out")],
                            cwd=REPO, capture_output=True, text=True)  # fmt: skip
    assert inside.returncode != 0 and "inside" in inside.stderr and not (session / "out").exists()
    missing = subprocess.run(py + ["--session", "NOPE", "--recordings", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert missing.returncode != 0 and "NOPE" in missing.stderr and "not found" in missing.stderr


def test_end_of_run_recommends_review_of_a_hard_session(session, finished, capsys):
    """The last lines are honest: the failed frame-set (and whatever else was uncertain in
    this hard session) is ranked in review.json, and nothing says "all clear"."""
    from orscene.pipeline.run import run_process

    review = json.loads((finished / "review.json").read_text())
    assert review["review_recommended"] and review["views_obscured"] == 3
    assert FAIL in [r["frame"] for r in review["review"]] and review["framesets_to_review"] == len(review["review"])
    assert json.loads((finished / "summary.json").read_text())["review"]["framesets_to_review"] == len(review["review"])
    assert run_process(_cfg(session, finished)) == 0  # a finished run: prints its summary again
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"review recommended: {len(review['review'])} of 4 frame-sets had uncertain faces: ranked in {finished / 'review.json'}"
    assert any(line.startswith("devices: keypoints tflite cpu, pose_fusion torch ") for line in lines)
    assert lines[-3].startswith("head alignments: ") and "all clear" not in "".join(lines)
