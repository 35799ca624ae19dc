"""The per-view decision (frameset.decide_view) and its audit records: for a face of each
path (render3d, head2d from a projected head, head2d from an untracked 2D skeleton,
detector2d, obscured), the record that audit.json keeps for it says why it was covered so.

One synthetic view (160x120, a face 1.2 m in front of the camera) runs through the
pipeline's own view step (render with the real GL renderer, decide, anonymize in 2D) and
frame-set writer; the faces it returns are those faces.json lists.
"""

import numpy as np
import pytest

from orscene.geometry.camera import look_at_world_from_cam
from orscene.pipeline.config import OnError, PipelineConfig
from orscene.pipeline.frameset import FramesetResult, ViewStatus, Why, decide_view
from orscene.pipeline.outputs import OutputLayout
from orscene.pipeline.process import Models, StageTimes, _anonymize_view, _unusable_view, _write_frameset
from orscene.recording.faces import FaceAnnotations, faces_to_dict
from orscene.render import RenderedFaces, RenderOutcome, RenderStatus, create_renderer, default_catalog_path, load_templates, synthetic_face_mesh
from orscene.types import BodyFit, Camera, FaceSource, HeadAlignment, HeadStatus, Intrinsics, Keypoints2D, PersonPose, View

CFG = PipelineConfig()
W, H = 160, 120
FACE_AT = np.array([0.0, 0.0, 1.6])


def _camera() -> Camera:
    K = np.array([[150.0, 0, (W - 1) / 2], [0, 150.0, (H - 1) / 2], [0, 0, 1.0]])
    return Camera("cam0", Intrinsics(K, np.zeros(8), W, H), look_at_world_from_cam((0.0, -1.2, 1.6), tuple(FACE_AT)))


def _world_from_head(center) -> np.ndarray:
    """A head at ``center`` looking at the camera (-y), z up."""
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0), center
    return T


def _person(track: int, center=FACE_AT, settled=True, status=HeadStatus.ALIGNED):
    """The pose, body fit (its face region only) and face mesh of one person whose face is at ``center``."""
    mesh = synthetic_face_mesh(track, _world_from_head(center), head_status=status)
    joints = np.zeros((17, 3), np.float32)
    joints[:5] = np.asarray(center, np.float32)
    joints[1, 0] += 0.03
    joints[2, 0] -= 0.03
    conf = np.zeros(17, np.float32)
    conf[:5] = 0.9
    pose = PersonPose(track, joints, conf, settled=settled)
    ids = np.arange(mesh.vertices_world_m.shape[0])
    alignment = HeadAlignment(412, 0.83, 0.0061, 0.012, 2.5) if status is not HeadStatus.KEYPOINTS_ONLY else HeadAlignment(3)
    fit = BodyFit(track, mesh.vertices_world_m, mesh.faces, joints, ids, ids, mesh.world_from_head, status, 0.021, alignment)
    return pose, fit, mesh


@pytest.fixture(scope="module")
def models():
    renderer = create_renderer(CFG.render)
    yield Models(None, None, renderer, load_templates(default_catalog_path(), CFG.render), (), None)
    renderer.release()


def _run(models, tmp_path, people, depth=None, keypoints=None, detected=(), held=None, borrowed=()):
    """One view through the pipeline's view step and writer: (audit entry of the view, faces as faces.json lists them)."""
    cam = _camera()
    rgb = np.full((H, W, 3), 90, np.uint8)
    view = View(cam.name, rgb, 0, depth)
    poses = [p for p, _, _ in people]
    fits_by_track = {f.track_id: (f, p.settled) for p, f, _ in people}
    meshes = [m for _, _, m in people]
    v = _anonymize_view(7, view, cam, poses, fits_by_track, meshes, None, keypoints, list(detected), models, CFG, StageTimes(),
                        (), list(borrowed), held)  # fmt: skip
    entry, faces = _write_frameset(FramesetResult(7, 0, {cam.name: v}), OutputLayout(tmp_path), images=False)
    listed = faces_to_dict(FaceAnnotations("S", (cam.name,), (7,), tuple(faces)))["faces"]
    return v, entry["views"][cam.name], listed


def _record_of(audit_view: dict, listed: list, source: str) -> dict:
    """The audit record of the one face of ``source`` (the audit and the writer's faces keep the view's order)."""
    assert len(audit_view["faces"]) == len(listed)
    for rec, face in zip(audit_view["faces"], listed):
        assert (rec["person"], rec["source"]) == (face["person"], face["source"])
        np.testing.assert_allclose(rec["box"], face["box"], atol=0.051)
    (rec,) = [r for r in audit_view["faces"] if r["source"] == source]
    return rec


def _wall():
    return np.full((H, W), 2.5, np.float32)


def test_render3d_face_says_it_was_rendered_with_its_alignment(models, tmp_path):
    v, audit, listed = _run(models, tmp_path, [_person(1)], depth=_wall(), borrowed=[4, 8])
    assert v.status is ViewStatus.ANONYMIZED and v.counts == {"render3d": 1, "head2d": 0, "detector2d": 0}
    rec = _record_of(audit, listed, "render3d")
    assert rec["why"] == "rendered" and rec["person"] == 1 and rec["vouched"] is True
    assert rec["settled"] is True and rec["head"] == "aligned" and rec["render"] == "rendered"
    assert rec["visible_fraction"] == 1.0 and "depth_doubt" not in rec
    assert rec["alignment"] == {"points": 412, "fitness": 0.83, "rmse_m": 0.0061, "translation_m": 0.012, "rotation_deg": 2.5}
    assert rec["fit_residual_m"] == 0.021 and rec["evidence"] == [4, 8]
    assert "uncovered" not in audit  # the one person is covered


def test_head2d_from_projected_head_says_why_the_3d_path_did_not_vouch(models, tmp_path):
    # a young track: not rendered, its projected head covered in 2D
    _, audit, listed = _run(models, tmp_path, [_person(2, settled=False)], depth=_wall())
    rec = _record_of(audit, listed, "head2d")
    assert (rec["person"], rec["why"], rec["settled"], rec["vouched"]) == (2, "not_settled", False, False)
    assert "render" not in rec  # never rendered
    # a head that depth could not align
    _, audit, listed = _run(models, tmp_path, [_person(3, status=HeadStatus.KEYPOINTS_ONLY)], depth=_wall())
    rec = _record_of(audit, listed, "head2d")
    assert (rec["why"], rec["head"]) == ("not_aligned", "keypoints_only") and rec["alignment"]["points"] == 3
    # a view without depth: the rendered face stands and the head is covered in 2D as well
    v, audit, listed = _run(models, tmp_path, [_person(4)], depth=None)
    assert v.counts == {"render3d": 1, "head2d": 1, "detector2d": 0}
    r3d, h2d = _record_of(audit, listed, "render3d"), _record_of(audit, listed, "head2d")
    assert (r3d["why"], r3d["vouched"]) == ("rendered", False)
    assert (h2d["why"], h2d["render"], h2d["head"]) == ("no_depth", "rendered", "aligned")


def test_head2d_from_an_untracked_2d_skeleton(models, tmp_path):
    kp = np.zeros((1, 17, 2), np.float32)
    conf = np.zeros((1, 17), np.float32)
    kp[0, :5] = [[30, 30], [35, 27], [25, 27], [40, 30], [20, 30]]  # far from the tracked face
    conf[0, :5] = 0.9
    _, audit, listed = _run(models, tmp_path, [_person(1)], depth=_wall(), keypoints=Keypoints2D("cam0", kp, conf), borrowed=[4, 8])
    rec = _record_of(audit, listed, "head2d")
    assert (rec["person"], rec["why"]) == (-1, "untracked_skeleton") and rec["evidence"] == [4, 8]
    assert "settled" not in rec and "vouched" not in rec  # no track: no track facts
    assert rec["box"][0] < 30 < rec["box"][2]


def test_detector2d_face_says_it_was_detected_with_the_passes_it_comes_from(models, tmp_path):
    box, inside = (120.0, 80.0, 140.0, 104.0), (72.0, 50.0, 88.0, 70.0)
    # the second box lies inside the rendered face: covered already, no detector2d face
    _, audit, listed = _run(models, tmp_path, [_person(1)], depth=_wall(), detected=[(box, 0.8), (inside, 0.9)], held=[[0, 12], []])
    rec = _record_of(audit, listed, "detector2d")
    assert (rec["person"], rec["why"], rec["box"], rec["evidence"]) == (-1, "detected", list(box), [0, 12])
    assert len(listed) == 2  # the rendered face and the detector box


def test_a_hidden_face_is_not_covered_and_says_why(models, tmp_path):
    light = _wall()
    light[H // 4 : 3 * H // 4, W // 4 : 3 * W // 4] = 0.8  # a surgical light 40 cm in front of the face
    v, audit, listed = _run(models, tmp_path, [_person(1)], depth=light)
    assert listed == [] and v.counts == {"render3d": 0, "head2d": 0, "detector2d": 0}
    (rec,) = audit["uncovered"]
    assert (rec["person"], rec["why"], rec["render"], rec["vouched"]) == (1, "hidden", "hidden", True)
    assert rec["visible_fraction"] < CFG.render.min_visible_fraction and "below" in rec["render_reason"]


def test_obscured_face_says_the_view_failed_or_was_unreadable(tmp_path):
    rgb = np.full((H, W, 3), 90, np.uint8)
    for file, why in (("", "failed"), ("cam0/000007.jpg", "unreadable")):
        v = _unusable_view(7, "cam0", rgb, (W, H), OnError.OBSCURE, "RuntimeError: boom", file)
        entry, faces = _write_frameset(FramesetResult(7, 0, {"cam0": v}), OutputLayout(tmp_path), images=False)
        listed = faces_to_dict(FaceAnnotations("S", ("cam0",), (7,), tuple(faces)))["faces"]
        audit = entry["views"]["cam0"]
        assert audit["status"] == "obscured" and audit["reason"] == "RuntimeError: boom"
        rec = _record_of(audit, listed, "obscured")
        assert (rec["person"], rec["why"], rec["box"]) == (-1, why, [-0.5, -0.5, W - 0.5, H - 0.5])
    withheld = _unusable_view(7, "cam0", rgb, (W, H), OnError.WITHHOLD, "RuntimeError: boom")
    assert withheld.status is ViewStatus.WITHHELD and withheld.status == "withheld" and withheld.decisions == ()


def test_decide_view_is_pure_and_names_uncalibrated_and_out_of_view_people():
    pose, fit, _ = _person(5)
    away_pose, away_fit, _ = _person(6, center=[0.0, -3.0, 1.6])  # behind the camera
    args = dict(frame=3, camera_name="cam0", size_wh=(W, H), has_depth=True, poses=[pose, away_pose], fits={5: fit, 6: away_fit},
                rendered=None, render_mask=np.zeros((H, W), bool), keypoints=None, detected=[], cfg=CFG.fallback,
                detector_cover_threshold=CFG.detector_cover_threshold)  # fmt: skip
    d = decide_view(camera=_camera(), **args)
    assert d == decide_view(camera=_camera(), **args)  # same inputs, same records
    assert [(f.person, f.why, f.face.source) for f in d.faces] == [(5, Why.NOT_RENDERED, FaceSource.HEAD_2D)]
    assert [(u.person, u.why) for u in d.uncovered] == [(6, Why.HEAD_OUT_OF_VIEW)]
    assert d.regions and d.counts == {"render3d": 0, "head2d": 1, "detector2d": 0}
    # the render overruled the view's depth for person 5: drawn whole, and its head covered in 2D too;
    # person 6 has no body fit on this frame-set
    doubted = RenderedFaces((), (RenderOutcome(5, RenderStatus.RENDERED, "", 1.0, "occluder at 0.30 m, nearer than 0.4 m"),))
    d2 = decide_view(camera=_camera(), **{**args, "rendered": doubted, "fits": {5: fit}, "poses": [pose, _person(6)[0]]})
    assert [(f.person, f.why) for f in d2.faces] == [(5, Why.DEPTH_DOUBTED), (6, Why.NO_BODY_FIT)]
    rec = d2.faces[0].to_dict()
    assert rec["depth_doubt"].startswith("occluder at 0.30 m") and rec["render"] == "rendered" and rec["vouched"] is False
    assert "head" not in d2.faces[1].to_dict()  # no fit: no head status
    # an uncalibrated view: no 3D path, no projected heads
    nocal = decide_view(camera=None, **args)
    assert nocal.faces == () and nocal.regions == ()
    assert [(u.person, u.why) for u in nocal.uncovered] == [(5, Why.NO_CALIBRATION), (6, Why.NO_CALIBRATION)]
