"""Face template rendering: time per view with 6 people, SSIM / PSNR of anonymized face crops.

    python -m benchmarks.bench_render                  # writes outputs/bench_render/{results.json,contact_sheet.png,face_crops.png}
    python -m benchmarks.bench_render --repeats 3      # quicker

Scene (own renders, made here; no synthetic session generator is used): an OR-like room with
three Azure Kinect-like cameras (1280x720, rational lens distortion), two RGB-D and one
RGB-only, six people (anny rest meshes, via ``orscene.body.models``) standing around a table
facing it, each with an "original" face (a procedural template with Lambert shading, so
the originals are themselves painted faces), and a surgical light hanging between one
camera and a face. Ground truth per view and person: the original face's visible pixels
(z-buffer) and their box.

Measured: ``render_faces`` + ``blend_faces`` wall time per view (median over repeats, warm
GL context), separately for RGB-D views and the RGB-only view (which splats the fused point
cloud and renders the other bodies as occluders); per face crop (ground-truth box of
faces at least 30 % visible) SSIM and PSNR of the anonymized image and of a 61x61 Gaussian
blur against the original; coverage: faces replaced where visible, and mask pixels drawn
over a nearer occluder (another person or the light).
"""

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from orscene.geometry.camera import depth_to_points_world, look_at_world_from_cam
from orscene.render import (
    FaceTemplate,
    Occluders,
    RenderConfig,
    blend_faces,
    create_renderer,
    default_catalog_path,
    load_templates,
    render_faces,
)
from orscene.render.renderer import _project_vertices, render_mesh_patch
from orscene.types import BodyFit, Camera, FaceMesh, HeadStatus, Intrinsics, PointCloud, View

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench_render")

KINECT_720P_DIST = np.array([0.55, -2.6, 0.0005, -0.0002, 1.5, 0.43, -2.43, 1.43])


def _kinect_camera(name: str, eye, target, depth: bool) -> Camera:
    K = np.array([[608.0, 0, 638.3], [0, 607.8, 366.1], [0, 0, 1]])
    intr = Intrinsics(K, KINECT_720P_DIST, 1280, 720)
    return Camera(name, intr, look_at_world_from_cam(eye, target), intr if depth else None, np.eye(4) if depth else None)


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    n = np.zeros_like(v, dtype=np.float64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _ramp_texture(colours: list[tuple[int, int, int]]) -> np.ndarray:
    """Rows = materials (equal bands), columns = brightness 0.25 .. 1.0."""
    S = 64 * len(colours)
    ramp = np.linspace(0.25, 1.0, 256)[None, :, None]
    bands = [np.repeat(np.asarray(c, float)[None, None, :] * ramp, 64, axis=0) for c in colours]
    return np.clip(np.concatenate(bands, 0), 0, 255).astype(np.uint8)[:S]


@dataclasses.dataclass
class Person:
    track_id: int
    vertices: np.ndarray
    faces: np.ndarray
    head_ids: np.ndarray
    face_ids: np.ndarray
    face_tris: np.ndarray
    face_uv: np.ndarray
    world_from_head: np.ndarray


def _people(n: int, rng: np.random.Generator) -> list[Person]:
    from orscene.body.models import BodyModelConfig, load_body_model  # the body engineer's anny wrapper
    import torch

    model = load_body_model(BodyModelConfig())
    with torch.no_grad():
        out = model(torch.zeros(1, model.n_pose, 3), torch.zeros(1, model.n_shape), torch.zeros(1, 3), full=True)
    rest = out.vertices[0].numpy().astype(np.float64)
    rest[:, 2] -= rest[:, 2].min()
    face_rest = rest[model.face_vertex_ids]
    head_rest = np.eye(4)  # +x left (world +x), +y up (world +z), +z out of the face (world -y)
    head_rest[:3, :3] = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float)
    head_rest[:3, 3] = face_rest.mean(0)
    people = []
    for i in range(n):
        ang = 2 * np.pi * i / n + rng.uniform(-0.2, 0.2)
        pos = np.array([1.05 * np.cos(ang), 0.8 * np.sin(ang), 0.0])
        facing = -pos[:2] / np.linalg.norm(pos[:2])
        facing = facing @ np.array([[np.cos(0.3), np.sin(0.3)], [-np.sin(0.3), np.cos(0.3)]]) if i % 3 == 0 else facing
        yaw = np.arctan2(facing[1], facing[0]) - np.arctan2(-1.0, 0.0)  # rest faces -y
        R = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
        s = rng.uniform(0.95, 1.05)
        T = np.eye(4)
        T[:3, :3] = R * s
        T[:3, 3] = pos
        v = rest @ T[:3, :3].T + T[:3, 3]
        wfh = T @ head_rest
        wfh[:3, :3] /= s
        people.append(Person(i, v.astype(np.float32), model.faces, model.head_vertex_ids, model.face_vertex_ids,
                             model.face_triangles, model.face_uv, wfh))  # fmt: skip
    return people


def _light_mesh(center, size=(0.6, 0.6, 0.08)) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.asarray(center, float), np.asarray(size, float) / 2
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * s + c
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = np.array([t for a, b, cc, d in quads for t in ((a, b, cc), (a, cc, d))], np.int32)
    for i, (a, b, cc) in enumerate(tris):
        if np.cross(v[b] - v[a], v[cc] - v[a]) @ ((v[a] + v[b] + v[cc]) / 3 - c) < 0:
            tris[i] = (a, cc, b)
    return v.astype(np.float32), tris


def _room_mesh() -> tuple[np.ndarray, np.ndarray]:
    """Floor and four walls (4 x 4 m, 3 m high), tessellated for per-vertex distortion."""
    verts, tris = [], []

    def quad(o, a, b, n=24):
        g = np.linspace(0, 1, n + 1)
        uu, vv = np.meshgrid(g, g)
        p = np.asarray(o) + uu[..., None] * np.asarray(a) + vv[..., None] * np.asarray(b)
        base = sum(len(x) for x in verts)
        idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1) + base
        q = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], -1).reshape(-1, 4)
        tris.append(np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]]))
        verts.append(p.reshape(-1, 3))

    quad((-2, -2, 0), (4, 0, 0), (0, 4, 0))
    for o, a in [((-2, -2, 0), (4, 0, 0)), ((2, -2, 0), (0, 4, 0)), ((2, 2, 0), (-4, 0, 0)), ((-2, 2, 0), (0, -4, 0))]:
        quad(o, a, (0, 0, 3))
    return np.concatenate(verts).astype(np.float32), np.concatenate(tris).astype(np.int32)


class SceneRenderer:
    """Renders the benchmark scene (colour, depth, object ids) with the face renderer's GL."""

    def __init__(self, renderer, templates, people: list[Person], original_ids: list[str]):
        self.r = renderer
        self.people = people
        self.cfg = RenderConfig(cull_back_faces=False)
        self.cfg_cull = RenderConfig()
        self.mat = FaceTemplate("_materials", _ramp_texture([(70, 120, 160), (205, 160, 130), (150, 150, 155), (215, 215, 205)]), {})
        self.original = [templates.by_id(i) for i in original_ids]
        self.room = _room_mesh()
        self.light = _light_mesh((0.55, -0.55, 2.0))

    def _draw(self, cam, verts, tris, uv, tex, cull):
        pz, ok = _project_vertices(cam, verts, 0.05)
        keep = ok[tris].all(1)
        return render_mesh_patch(self.r, pz, tris[keep], (0, 0), cam.color.size_wh, self.cfg_cull if cull else self.cfg, uv, self.r.texture(tex))

    def _shade_uv(self, cam, verts, faces, material: np.ndarray) -> np.ndarray:
        n = _vertex_normals(verts.astype(np.float64), faces)
        to_cam = cam.center_world_m[None] - verts
        to_cam /= np.linalg.norm(to_cam, axis=1, keepdims=True)
        lam = 0.35 + 0.65 * np.clip(np.abs((n * (0.7 * to_cam + 0.3 * np.array([0, 0, 1]))).sum(1)), 0, 1)
        return np.column_stack([lam, 1.0 - (material + 0.5) / 4.0]).astype(np.float32)

    def render(self, cam: Camera):
        W, H = cam.color.size_wh
        rgb = np.zeros((H, W, 3), np.uint8)
        zbuf = np.zeros((H, W), np.float32)
        ids = np.full((H, W), -1, np.int32)  # -1 room, 100 light, i person body, 1000 + i face

        def put(c, z, oid, bias=0.0):
            win = (z > 0) & ((zbuf == 0) | (z < zbuf + bias))
            rgb[win], zbuf[win], ids[win] = c[win], z[win], oid

        rv, rt = self.room
        put(*self._draw(cam, rv, rt, self._shade_uv(cam, rv, rt, np.full(len(rv), 3)), self.mat, False), -1)
        lv, lt = self.light
        put(*self._draw(cam, lv, lt, self._shade_uv(cam, lv, lt, np.full(len(lv), 2)), self.mat, True), 100)
        face_gt = {}
        for p in self.people:
            material = np.zeros(len(p.vertices))
            material[p.head_ids] = 1
            uvs = self._shade_uv(cam, p.vertices, p.faces, material)
            put(*self._draw(cam, p.vertices, p.faces, uvs, self.mat, True), p.track_id)
            fv = p.vertices[p.face_ids]
            shade, _ = self._draw(cam, fv, p.face_tris, uvs[p.face_ids], self.mat, True)
            col, zf = self._draw(cam, fv, p.face_tris, p.face_uv.astype(np.float32), self.original[p.track_id], True)
            skin = np.asarray(self.mat.rgb[64 + 32, -1], float)
            col = np.clip(col.astype(float) * shade.astype(float) / skin, 0, 255).astype(np.uint8)
            put(col, zf, 1000 + p.track_id, bias=0.004)
            face_gt[p.track_id] = int((zf > 0).sum())
        return rgb, zbuf, ids, face_gt


def _face_meshes(people: list[Person]) -> list[FaceMesh]:
    return [FaceMesh(p.track_id, p.vertices[p.face_ids], p.face_tris, p.face_uv.astype(np.float32), HeadStatus.ALIGNED, p.world_from_head)
            for p in people]  # fmt: skip


def _bodies(people: list[Person]) -> list[BodyFit]:
    return [BodyFit(p.track_id, p.vertices, p.faces, np.zeros((17, 3), np.float32), p.head_ids, p.face_ids, p.world_from_head, HeadStatus.ALIGNED)
            for p in people]  # fmt: skip


def build_scene(seed: int):
    """The benchmark scene: renderer, templates, cameras, views, occluders, face meshes, renders."""
    rng = np.random.default_rng(seed)
    cfg = RenderConfig()
    templates = load_templates(default_catalog_path(), cfg)
    renderer = create_renderer(cfg)
    people = _people(6, rng)
    ids = list(templates.ids)
    scene = SceneRenderer(renderer, templates, people, [ids[(3 * i + 5) % len(ids)] for i in range(6)])
    cams = [
        _kinect_camera("cam0", (1.9, -1.9, 2.4), (0.0, 0.0, 1.3), True),
        _kinect_camera("cam1", (-1.9, -1.8, 2.3), (0.0, 0.0, 1.3), True),
        _kinect_camera("cam2", (0.0, 1.95, 2.5), (0.0, 0.0, 1.3), False),
    ]
    renders = {c.name: scene.render(c) for c in cams}
    views = {}
    for c in cams:
        rgb, z, _, _ = renders[c.name]
        depth = None
        if c.has_depth:
            depth = z.copy()
            depth[rng.random(depth.shape) < 0.03] = 0.0  # sensor dropout
        views[c.name] = View(c.name, rgb, 0, depth)
    pts = [depth_to_points_world(c, views[c.name].depth_m)[0][::4] for c in cams if c.has_depth]
    cloud = PointCloud(np.concatenate(pts))
    occluders = Occluders(point_cloud=cloud, bodies=_bodies(people))
    faces = _face_meshes(people)

    return renderer, templates, cfg, people, cams, views, occluders, faces, renders


def _voxel_down(points: np.ndarray, voxel_m: float) -> np.ndarray:
    keys = np.floor(points / voxel_m).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return points[np.sort(first)]


def bench_synth(args) -> dict:
    """Synthetic hard session (``orscene.synth``): ground-truth poses give the face meshes."""
    from orscene.body.models import BodyModelConfig, load_body_model
    from orscene.recording.faces import load_faces
    from orscene.recording.reader import open_session
    from orscene.synth.generate import SynthConfig, generate_session, render_frame, session_world
    from orscene.synth.people import pose_people
    from orscene.synth.scene import Scenario

    rec = args.out / "recordings"
    scfg = SynthConfig(session="BENCH_render_hard", recordings=rec, scenario=Scenario.HARD, seconds=args.seconds,
                       fps=2.0, seed=args.seed, cameras=4, rgb_only=1)  # fmt: skip
    path = rec / scfg.session
    if not (path / "session.yaml").exists():
        log.info("generating %s (hard, %.0f s at 2 fps, 4 cameras, one RGB-only)", path, args.seconds)
        generate_session(scfg)
    world = session_world(scfg)
    body = load_body_model(BodyModelConfig())  # the pipeline's face region and UVs (same anny topology)
    ann = load_faces(path / "annotations" / "faces.json")
    reader = open_session(path)
    cfg = RenderConfig(template_salt=scfg.session)
    templates = load_templates(default_catalog_path(), cfg)
    renderer = create_renderer(cfg)
    roles = {p.person_id: p.role.value for p in world.spec.people}
    times = {"rgbd": [], "rgb_only": []}
    ssim_t, ssim_b, psnr_t, psnr_b = [], [], [], []
    cov = {"gt_visible_faces": 0, "replaced": 0, "gt_hidden_staff_faces": 0, "drawn_while_hidden": 0,
           "mask_px_over_nearer_occluder_staff": 0, "mask_px_total_staff": 0,
           "mask_px_over_nearer_occluder_patient": 0, "mask_px_total_patient": 0,
           "gt_face_px_boxed": 0, "gt_face_px_boxed_not_replaced": 0}  # fmt: skip
    sheet, crops = [], []
    mid = reader.n_framesets // 2
    for fs in reader.framesets():
        t_s = fs.index / reader.fps
        posed = pose_people(world.body, world.spec.people, t_s, world.spec.duration_s)
        with world.renderer.ctx:  # the synth renderer does not make its GL context current itself
            truth = render_frame(world, t_s, with_depth=False, posed=posed)
        faces, bodies = [], []
        for k, pid in enumerate(posed.person_ids):
            v = posed.vertices_world_m[k]
            faces.append(FaceMesh(int(pid), np.ascontiguousarray(v[body.face_vertex_ids]), body.face_triangles,
                                  body.face_uv.astype(np.float32), HeadStatus.ALIGNED, posed.world_from_head[k].astype(np.float64)))  # fmt: skip
            bodies.append(BodyFit(int(pid), v, body.faces, posed.joints_world_m[k].astype(np.float32), body.head_vertex_ids,
                                  body.face_vertex_ids, posed.world_from_head[k].astype(np.float64), HeadStatus.ALIGNED))  # fmt: skip
        pts = [depth_to_points_world(world.cameras[n], v.depth_m)[0] for n, v in fs.views.items() if v.depth_m is not None]
        cloud = PointCloud(_voxel_down(np.concatenate(pts), 0.015).astype(np.float32))
        occluders = Occluders(point_cloud=cloud, bodies=bodies)
        gt_boxes = {(b.camera, b.person): b for b in ann.faces if b.frame == fs.index}
        for name, view in fs.views.items():
            cam = world.cameras[name]
            ts = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                patches = render_faces(renderer, view, cam, faces, templates, occluders, cfg).patches
                out, union = blend_faces(view.rgb, patches, cfg)
                ts.append(time.perf_counter() - t0)
            times["rgbd" if view.depth_m is not None else "rgb_only"].append(float(np.median(ts)))
            drawn = {p.track_id: p for p in patches}
            ids, zgt = truth.color[name].ids, truth.color[name].z_m
            gt_person = ids[..., 0].astype(np.int32) - 1  # -1: no person
            for p in patches:  # mask pixels drawn where something else is nearer than the face
                x0, y0 = p.origin_px
                h, w = p.mask.shape
                m = p.mask & (p.depth_m > 0)
                other = gt_person[y0 : y0 + h, x0 : x0 + w] != p.track_id
                zg = zgt[y0 : y0 + h, x0 : x0 + w]
                nearer = (zg > 0) & (zg < p.depth_m - 0.05)
                who = "patient" if roles.get(p.track_id) == "patient" else "staff"
                cov[f"mask_px_over_nearer_occluder_{who}"] += int((m & other & nearer).sum())
                cov[f"mask_px_total_{who}"] += int(p.mask.sum())
            # ground-truth face pixels (visible, of anyone with a face box here) left unreplaced
            face_px = (ids[..., 1] == 1) & (gt_person >= 0)
            boxed = np.isin(gt_person, [pid for (cn, pid) in gt_boxes if cn == name])
            cov["gt_face_px_boxed"] += int((face_px & boxed).sum())
            cov["gt_face_px_boxed_not_replaced"] += int((face_px & boxed & ~union).sum())
            blurred = cv2.GaussianBlur(view.rgb, (61, 61), 0)
            for pid in posed.person_ids:
                pid = int(pid)
                b = gt_boxes.get((name, pid))
                if b is not None and not b.ignore and b.visible_fraction >= 0.3:
                    cov["gt_visible_faces"] += 1
                    cov["replaced"] += pid in drawn
                    x0, y0, x1, y1 = (int(round(v)) for v in (b.box_xyxy_px[0] + 0.5, b.box_xyxy_px[1] + 0.5, b.box_xyxy_px[2] + 0.5, b.box_xyxy_px[3] + 0.5))
                    if min(x1 - x0, y1 - y0) >= 7:
                        o, a, bl = view.rgb[y0:y1, x0:x1], out[y0:y1, x0:x1], blurred[y0:y1, x0:x1]
                        ssim_t.append(structural_similarity(o, a, channel_axis=2, data_range=255))
                        ssim_b.append(structural_similarity(o, bl, channel_axis=2, data_range=255))
                        psnr_t.append(peak_signal_noise_ratio(o, a, data_range=255))
                        psnr_b.append(peak_signal_noise_ratio(o, bl, data_range=255))
                        if fs.index == mid:
                            pad = 10
                            ya, xa = max(0, y0 - pad), max(0, x0 - pad)
                            crops.append(np.hstack([cv2.resize(im[ya : y1 + pad, xa : x1 + pad], (128, 128)) for im in (view.rgb, out)]))
                elif b is None and roles.get(pid) != "patient":
                    cov["gt_hidden_staff_faces"] += 1
                    cov["drawn_while_hidden"] += pid in drawn
            if fs.index == mid:
                after = out.copy()
                for p in patches:
                    x0, y0, x1, y1 = (int(round(v)) for v in p.box_xyxy_px)
                    cv2.rectangle(after, (x0, y0), (x1, y1), (255, 255, 0), 2)
                sheet.append(np.hstack([view.rgb, after]))
        log.info("frame-set %d done", fs.index)
    renderer.release()
    world.renderer.release()
    args.out.mkdir(parents=True, exist_ok=True)
    full = cv2.resize(np.vstack(sheet), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(args.out / "contact_sheet.png"), cv2.cvtColor(full, cv2.COLOR_RGB2BGR))
    if crops:
        rows = [np.hstack(crops[i : i + 4] + [np.zeros_like(crops[0])] * (4 - len(crops[i : i + 4]))) for i in range(0, len(crops), 4)]
        cv2.imwrite(str(args.out / "face_crops.png"), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    res = {
        "scene": f"synthetic session {scfg.session}: scenario hard, {reader.n_framesets} frame-sets, cameras {list(reader.camera_names)}, 1280x720",
        "ms_per_view": {k: {"median": 1000 * float(np.median(v)), "n_views": len(v)} for k, v in times.items() if v},
        "coverage": cov,
        "ssim": {"template": float(np.mean(ssim_t)), "blur61": float(np.mean(ssim_b)), "n_crops": len(ssim_t)},
        "psnr": {"template": float(np.mean(psnr_t)), "blur61": float(np.mean(psnr_b))},
    }
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=REPO / "outputs" / "bench_render")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--scene", choices=["synth", "own"], default="synth",
                    help="synth: a generated hard session (orscene.synth); own: the scene rendered here")
    ap.add_argument("--seconds", type=float, default=2.0, help="synth session length (2 frame-sets per second)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.scene == "synth":
        res = bench_synth(args)
        (args.out / "results.json").write_text(json.dumps(res, indent=2))
        log.info("%s", json.dumps(res, indent=2))
        return 0
    renderer, templates, cfg, people, cams, views, occluders, faces, renders = build_scene(args.seed)
    results = {"scene": "own renders (benchmarks/bench_render.py SceneRenderer), 3 cameras 1280x720, 6 people", "views": {}}
    ssim_t, ssim_b, psnr_t, psnr_b = [], [], [], []
    sheet = []
    for c in cams:
        view = views[c.name]
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            patches = render_faces(renderer, view, c, faces, templates, occluders, cfg).patches
            out, union = blend_faces(view.rgb, patches, cfg)
            times.append(time.perf_counter() - t0)
        rgb, zbuf, obj, face_px = renders[c.name]
        blurred_full = cv2.GaussianBlur(rgb, (61, 61), 0)
        drawn = {p.track_id for p in patches}
        per_face = []
        over_occluder = 0
        for p in people:
            vis = obj == 1000 + p.track_id
            frac = vis.sum() / max(face_px[p.track_id], 1)
            # mask pixels of this face drawn where a nearer occluder (other person, light) is seen
            for q in patches:
                if q.track_id == p.track_id:
                    x0, y0 = q.origin_px
                    h, w = q.mask.shape
                    o = obj[y0 : y0 + h, x0 : x0 + w][q.mask]
                    zq = q.depth_m[q.mask]
                    zs = zbuf[y0 : y0 + h, x0 : x0 + w][q.mask]
                    foreign = ((o == 100) | ((o >= 0) & (o < 100) & (o != p.track_id)) | ((o >= 1000) & (o != 1000 + p.track_id)))
                    over_occluder += int((foreign & (zq > 0) & (zs < zq - 0.05)).sum())
            to_cam = c.center_world_m - p.world_from_head[:3, 3]
            facing = float(p.world_from_head[:3, 2] @ to_cam / np.linalg.norm(to_cam)) >= np.cos(np.deg2rad(100.0))
            frac = frac if facing else 0.0  # turned away (> 100 deg): no face, as the synth annotations
            entry = {"track": p.track_id, "gt_visible_fraction": round(float(frac), 3), "drawn": p.track_id in drawn}
            if frac >= 0.3 and vis.sum() >= 100:
                ys, xs = np.nonzero(vis)
                y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
                orig, anon, blur = rgb[y0:y1, x0:x1], out[y0:y1, x0:x1], blurred_full[y0:y1, x0:x1]
                st = structural_similarity(orig, anon, channel_axis=2, data_range=255)
                sb = structural_similarity(orig, blur, channel_axis=2, data_range=255)
                pt = peak_signal_noise_ratio(orig, anon, data_range=255)
                pb = peak_signal_noise_ratio(orig, blur, data_range=255)
                ssim_t.append(st), ssim_b.append(sb), psnr_t.append(pt), psnr_b.append(pb)
                entry.update(ssim_template=round(st, 3), ssim_blur61=round(sb, 3), psnr_template=round(pt, 2), psnr_blur61=round(pb, 2))
            per_face.append(entry)
        ms = 1000 * np.median(times)
        results["views"][c.name] = {
            "depth": c.has_depth, "median_ms": round(float(ms), 1), "min_ms": round(1000 * min(times), 1),
            "patches": len(patches), "faces": per_face, "mask_px_over_nearer_occluder": over_occluder,
        }  # fmt: skip
        log.info("%s (%s): %.1f ms/view (min %.1f), %d faces drawn, %d mask px over occluders",
                 c.name, "RGB-D" if c.has_depth else "RGB only", ms, 1000 * min(times), len(patches), over_occluder)  # fmt: skip
        before, after = rgb.copy(), out.copy()
        for q in patches:
            x0, y0, x1, y1 = (int(round(v)) for v in q.box_xyxy_px)
            cv2.rectangle(after, (x0, y0), (x1, y1), (255, 255, 0), 1)
        sheet.append(np.hstack([before, after]))
    faces_all = [f for v in results["views"].values() for f in v["faces"]]
    seen = [f for f in faces_all if f["gt_visible_fraction"] >= 0.3]
    hidden = [f for f in faces_all if f["gt_visible_fraction"] < 0.05]
    results["coverage"] = {
        "gt_visible_faces": len(seen), "replaced": sum(f["drawn"] for f in seen),
        "gt_hidden_faces": len(hidden), "drawn_while_hidden": sum(f["drawn"] for f in hidden),
        "mask_px_over_nearer_occluder": sum(v["mask_px_over_nearer_occluder"] for v in results["views"].values()),
    }  # fmt: skip
    log.info("coverage: %s", results["coverage"])
    results["ssim"] = {"template": float(np.mean(ssim_t)), "blur61": float(np.mean(ssim_b)), "n_crops": len(ssim_t)}
    results["psnr"] = {"template": float(np.mean(psnr_t)), "blur61": float(np.mean(psnr_b))}
    log.info("face crops (n=%d): SSIM template %.3f vs blur61 %.3f; PSNR template %.2f dB vs blur61 %.2f dB",
             len(ssim_t), np.mean(ssim_t), np.mean(ssim_b), np.mean(psnr_t), np.mean(psnr_b))  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    full = cv2.resize(np.vstack(sheet), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(args.out / "contact_sheet.png"), cv2.cvtColor(full, cv2.COLOR_RGB2BGR))
    crops = []
    for c in cams:
        rgb = renders[c.name][0]
        patches = render_faces(renderer, views[c.name], c, faces, templates, occluders, cfg).patches
        out, _ = blend_faces(rgb, patches, cfg)
        for q in patches:
            x0, y0, x1, y1 = (int(round(v)) for v in q.box_xyxy_px)
            pad = 12
            a, b = max(0, y0 - pad), max(0, x0 - pad)
            tile = np.hstack([cv2.resize(im[a : y1 + pad, b : x1 + pad], (128, 128)) for im in (rgb, out)])
            crops.append(tile)
    if crops:
        rows = [np.hstack(crops[i : i + 4] + [np.zeros_like(crops[0])] * (4 - len(crops[i : i + 4]))) for i in range(0, len(crops), 4)]
        cv2.imwrite(str(args.out / "face_crops.png"), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    renderer.release()
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
