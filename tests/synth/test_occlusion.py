"""A face hidden behind a surgical light has no box in that view (constructed case)."""

import dataclasses

import numpy as np

from orscene.synth.annotate import annotate_faces
from orscene.synth.generate import make_world, render_frame
from orscene.synth.rig import make_or_rig
from orscene.synth.scene import Scenario, SurgicalLight, build_scene_spec


def _boxes(world, t_s=0.0):
    fr = render_frame(world, t_s, with_depth=False)
    out = {}
    for name, cam in world.cameras.items():
        ro = fr.color[name]
        boxes, _ = annotate_faces(cam, ro.ids, fr.posed.person_ids, fr.posed.vertices_world_m, fr.posed.world_from_head, world.face_tris)
        out[name] = {b.person: b for b in boxes}
    return fr, out


def test_light_between_camera_and_face_removes_the_box(body):
    rng = np.random.default_rng(5)
    cams = make_or_rig(2, 0, 320, 180, rng)
    spec = dataclasses.replace(build_scene_spec(Scenario.EASY, 1.0, rng, n_people=3), lights=())
    world = make_world(spec, cams, body)
    fr, boxes = _boxes(world)
    world.renderer.release()
    cam = cams["cam0"]
    # pick the most visible face in cam0
    pid, box = max(boxes["cam0"].items(), key=lambda kv: kv[1].visible_fraction * (kv[1].box_xyxy_px[3] - kv[1].box_xyxy_px[1]))
    assert box.visible_fraction > 0.5
    p = int(np.nonzero(fr.posed.person_ids == pid)[0][0])
    face = fr.posed.world_from_head[p, :3, 3]
    eye = cam.center_world_m
    # a lamp head a third of the way from the camera to the face, tilted by the ray's angle
    # from the vertical (its face roughly square to the camera)
    center = eye + 0.35 * (face - eye)
    down = (face - eye) / np.linalg.norm(face - eye)
    tilt = float(np.degrees(np.arccos(-down[2])))
    light = SurgicalLight(anchor_xy_m=(float(center[0]), float(center[1])), center_m=tuple(center), radius_m=0.3, tilt_deg=tilt)
    world2 = make_world(dataclasses.replace(spec, lights=(light,)), cams, body)
    fr2, boxes2 = _boxes(world2)
    world2.renderer.release()
    assert pid not in boxes2["cam0"], boxes2["cam0"].get(pid)
    # the light occupies the pixels where the face was
    x0, y0, x1, y1 = (int(round(v)) for v in box.box_xyxy_px)
    patch = fr2.color["cam0"].ids[y0:y1, x0:x1]
    assert np.mean(patch[..., 2] == 20) > 0.9  # ObjectId.LIGHT + 0
    # the same person in the other view is unaffected if the light is not in its way
    if pid in boxes["cam1"]:
        assert pid in boxes2["cam1"]
