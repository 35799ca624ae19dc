"""``cli.py synth``: generate a synthetic multi-view OR session with exact ground truth.

Library entry point: :func:`generate_session` (returns the session folder); the CLI calls
:func:`run_synth`. The session is written into a temporary folder beside the target and
renamed into place when complete, so a session folder is never half-written.

Output (the project's session format, ``orscene.recording.session``)::

    <recordings>/<session>/session.yaml
    calibration.json               world_from_cam, colour and depth-sensor intrinsics, cam_from_depth
    camN/color/NNNNNN.jpg          colour, JPEG quality 95 (the Kinect's MJPEG)
    camN/depth/NNNNNN.png          uint16 mm in the depth sensor's own grid (RGB-D cameras)
    camN/timestamps.csv            frame,timestamp_ns (device-like offsets and jitter)
    annotations/faces.json         visible face boxes per frame, camera and person
    annotations/groundtruth.npz    3D joints, head frames, 2D keypoints (orscene.synth.groundtruth)
    preview.jpg                    with --preview: contact sheet of all views with the GT boxes
"""

import functools
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from orscene.body.face_region import anny_part_vertex_ids
from orscene.errors import ConfigError, SessionError
from orscene.recording.faces import FaceAnnotations, save_faces
from orscene.recording.session import (
    Calibration,
    CameraSource,
    SessionManifest,
    SourceKind,
    apply_umask,
    default_recordings_root,
    save_calibration,
    save_manifest,
    session_dir,
)
from orscene.synth.annotate import FaceAnnotationConfig, annotate_faces, annotate_keypoints, face_triangles
from orscene.synth.depth_model import DepthNoiseConfig, kinect_depth_mm
from orscene.synth.groundtruth import SessionGroundTruth, head_box_centers, save_groundtruth
from orscene.synth.meshes import concat_meshes
from orscene.synth.people import PeopleRig, PosedPeople, Role, load_people_rig, pose_people
from orscene.synth.raster import PersonDraw, RenderOutput, SceneRenderer
from orscene.synth.rig import make_or_rig
from orscene.synth.scene import Scenario, SceneSpec, build_scene_spec, lights_mesh, patient_drape_mesh, spot_lights, static_room_mesh
from orscene.types import Camera, FaceBox

__all__ = ["SynthConfig", "Scenario", "generate_session", "run_synth", "FrameRender", "SynthWorld", "make_world", "render_frame",
           "session_world", "colour_depth_to_sensor"]  # fmt: skip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthConfig:
    """Generate a synthetic multi-view operating-room session with ground truth."""

    session: str
    """Session name (folder under the recordings root)."""
    recordings: Path = field(default_factory=default_recordings_root)
    """Recordings root ($ORSCENE_RECORDINGS or ./recordings)."""
    scenario: Scenario = Scenario.MEDIUM
    """easy: <=4 people in scrubs and masks; medium: 5-6 people, lights sometimes in the way;
    hard: 4 people in caps, masks and gowns, lights often hiding faces in the two high views."""
    seconds: float = 10.0
    """Duration in seconds."""
    fps: float = 15.0
    """Frame-sets per second."""
    seed: int = 0
    """Random seed: the same seed gives the same session, byte for byte."""
    cameras: int = 4
    """Number of cameras: two high 'surgical' views, two room-corner 'workflow' views, more on a ring."""
    rgb_only: int = 0
    """How many of the cameras (the last ones) have no depth sensor."""
    width: int = 1280
    """Colour image width in pixels (the depth grid scales along: 640x576 at 1280)."""
    height: int = 720
    """Colour image height in pixels."""
    people: int | None = None
    """Number of staff (not counting the patient); default depends on the scenario."""
    patient_face_covered: bool = True
    """Cover the patient's face with a drape (no face box for the patient)."""
    preview: bool = False
    """Also write <session>/preview.jpg: all views of a middle frame with GT boxes and ids."""
    board: Path | None = None
    """Board JSON: instead of an OR scene, write a short calibration session of this ChArUco
    board held above the table, turned towards the cameras in turn; no people. Give at least
    as many frame-sets (--seconds x --fps) as cameras."""
    force: bool = False
    """Overwrite an existing session of the same name."""
    backend: str = "egl"
    """moderngl context backend ('egl' for headless; '' for the platform default)."""
    jpeg_quality: int = 95
    """JPEG quality of the colour images (95: the quantisation tables of a real Azure Kinect's
    MJPEG frames, ``../shared/data/azure_kinect``, are libjpeg's at quality ~95)."""


@dataclass
class SynthWorld:
    """What stays fixed over a session: scene spec, cameras, body model, renderer."""

    spec: SceneSpec
    cameras: dict[str, Camera]
    body: PeopleRig
    renderer: SceneRenderer
    face_tris: np.ndarray


@dataclass(frozen=True)
class FrameRender:
    """One rendered frame-set: per camera the colour render (and the depth sensor's)."""

    t_s: float
    posed: PosedPeople
    color: Mapping[str, RenderOutput]
    depth: Mapping[str, RenderOutput]


def make_world(spec: SceneSpec, cameras: dict[str, Camera], body: PeopleRig | None = None, backend: str = "egl") -> SynthWorld:
    """Prepare rendering of ``spec`` seen by ``cameras`` (loads anny unless ``body`` is given)."""
    body = body if body is not None else load_people_rig()
    renderer = SceneRenderer(body.faces, body.face_vertex_ids, backend=backend)
    posed0 = pose_people(body, spec.people, 0.0, spec.duration_s)
    head_xy = (-0.8, 0.0)
    for i, pid in enumerate(posed0.person_ids):
        if spec.people[int(pid)].role is Role.PATIENT:
            head_xy = tuple(float(v) for v in posed0.world_from_head[i, :2, 3])
    renderer.set_spots(spot_lights(spec.lights))
    renderer.set_static(concat_meshes([static_room_mesh(spec), patient_drape_mesh(spec, head_xy)]))
    return SynthWorld(spec, cameras, body, renderer, face_triangles(body.faces, body.face_vertex_ids))


def _draws(world: SynthWorld, posed: PosedPeople) -> list[PersonDraw]:
    fid = world.body.face_vertex_ids
    out = []
    for i, pid in enumerate(posed.person_ids):
        spec = world.spec.people[int(pid)]
        chin = float(posed.rest_vertices_m[i][fid][:, 2].min())
        out.append(PersonDraw(int(pid), posed.vertices_world_m[i], posed.normals_world[i], posed.rest_vertices_m[i],
                              posed.rest_landmarks_m[i], chin, spec.outfit))  # fmt: skip
    return out


def render_frame(world: SynthWorld, t_s: float, with_depth: bool = True, posed: PosedPeople | None = None) -> FrameRender:
    """Pose everyone at ``t_s`` (unless ``posed`` is given) and render every camera and its
    depth sensor."""
    if posed is None:
        posed = pose_people(world.body, world.spec.people, t_s, world.spec.duration_s)
    world.renderer.set_frame(_draws(world, posed), lights_mesh(world.spec.lights, t_s))
    views, keys = [], []
    for name, cam in world.cameras.items():
        views.append((cam.color, cam.world_from_cam, True, False))
        keys.append(("color", name))
        if with_depth and cam.depth is not None:
            views.append((cam.depth, cam.world_from_cam @ cam.cam_from_depth, False, True))
            keys.append(("depth", name))
    outs = world.renderer.render_many(views)
    color = {n: o for (k, n), o in zip(keys, outs) if k == "color"}
    depth = {n: o for (k, n), o in zip(keys, outs) if k == "depth"}
    return FrameRender(t_s, posed, color, depth)


@functools.lru_cache(maxsize=8)
def _vignette_gain(height: int, width: int, corner_gain: float = 0.72) -> np.ndarray:
    """(H, W, 1) float32 lens vignetting: 1 at the centre, ``corner_gain`` in the corners
    (a smooth cos^4-like fall-off in the normalised radius)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((x - (width - 1) / 2) ** 2 + (y - (height - 1) / 2) ** 2) / (((width - 1) / 2) ** 2 + ((height - 1) / 2) ** 2)
    return (1.0 - (1.0 - corner_gain) * r2 * (0.6 + 0.4 * r2))[..., None].astype(np.float32)


def _finish_rgb(rgb: np.ndarray, rng: np.random.Generator, vignette: bool = False) -> np.ndarray:
    """Camera look: slight optical blur, lens vignetting (``vignette``), and sensor noise
    whose variance grows with the signal (read noise 1.5 levels + shot noise) and is partly
    shared by the three channels (luma) and partly not (chroma)."""
    img = cv2.GaussianBlur(rgb, (0, 0), 0.6).astype(np.float32)
    if vignette:
        img *= _vignette_gain(img.shape[0], img.shape[1])
    sigma = np.sqrt(1.5**2 + 0.035 * img)
    luma = rng.standard_normal(img.shape[:2], dtype=np.float32)[..., None]
    chroma = rng.standard_normal(img.shape, dtype=np.float32)
    img += sigma * (0.8 * luma + 0.6 * chroma)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _timestamps(n_frames: int, fps: float, cam_index: int, rng: np.random.Generator) -> np.ndarray:
    """Device-like timestamps: nominal period, a per-device sync offset (subordinate delay
    160 us per device), jitter of ~0.2 ms."""
    t = np.round(np.arange(n_frames) * 1e9 / fps).astype(np.int64)
    t += cam_index * 160_000 + np.round(rng.normal(0, 200_000, n_frames)).astype(np.int64)
    return np.maximum.accumulate(np.maximum(t, 0))


def _prepare_target(cfg: SynthConfig) -> Path:
    target = session_dir(cfg.recordings, cfg.session)
    if target.exists():
        if not cfg.force:
            raise SessionError("session already exists (use --force to overwrite)", target)
        if target.is_dir() and any(target.iterdir()) and not (target / "session.yaml").exists():
            raise SessionError("refusing to overwrite a folder that is not a session (no session.yaml)", target)
    return target


def _validate(cfg: SynthConfig) -> None:
    if cfg.seconds <= 0 or cfg.fps <= 0:
        raise ConfigError(f"--seconds and --fps must be positive, got {cfg.seconds} and {cfg.fps}")
    if cfg.width < 16 or cfg.height < 16:
        raise ConfigError(f"image size {cfg.width}x{cfg.height} is too small (at least 16x16)")
    if not 1 <= cfg.jpeg_quality <= 100:
        raise ConfigError(f"--jpeg-quality must be in 1..100, got {cfg.jpeg_quality}")


def generate_session(cfg: SynthConfig, body: PeopleRig | None = None) -> Path:
    """Write the session ``cfg.session`` under ``cfg.recordings``; returns its folder.

    ``body`` (from ``orscene.synth.people.load_people_rig``) can be passed to reuse a loaded
    anny model across calls. Deterministic in ``cfg`` (same seed -> identical files).
    """
    _validate(cfg)
    target = _prepare_target(cfg)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{cfg.session}.tmp-"))
    try:
        if cfg.board is not None:
            _write_board_session(cfg, tmp)
        else:
            _write_or_session(cfg, tmp, body)
        if target.exists():
            shutil.rmtree(target)
        apply_umask(tmp)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _seeds(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def session_world(cfg: SynthConfig, body: PeopleRig | None = None) -> SynthWorld:
    """The cameras, cast and renderer that ``generate_session(cfg)`` uses (for checks that
    re-render a session's geometry exactly)."""
    _validate(cfg)
    rig_rng, scene_rng = _seeds(cfg.seed, 5)[:2]
    cameras = make_or_rig(cfg.cameras, cfg.rgb_only, cfg.width, cfg.height, rig_rng)
    spec = build_scene_spec(cfg.scenario, cfg.seconds, scene_rng, cfg.patient_face_covered, cfg.people)
    return make_world(spec, cameras, body, cfg.backend)


def _empty_groundtruth(T: int, P: int, C: int) -> dict[str, np.ndarray]:
    """Ground-truth arrays of a session, NaN (or absent / invisible) until a frame-set fills them."""
    nan = np.nan
    return {
        "present": np.zeros((T, P), bool),
        "joints_world_m": np.full((T, P, 17, 3), nan),
        "world_from_head": np.full((T, P, 4, 4), nan),
        "world_from_body": np.full((T, P, 4, 4), nan),
        "pose_parameters": np.full((T, P, 104, 4, 4), nan, np.float32),
        "keypoints_px": np.full((T, C, P, 17, 2), nan, np.float32),
        "keypoint_visibility": np.zeros((T, C, P, 17), np.int8),
        "face_visible_fraction": np.full((T, C, P), nan),
        "head_center_world_m": np.full((T, P, 3), nan),
    }


def _camera_folders(out: Path, cameras: Mapping[str, Camera]) -> None:
    for name, cam in cameras.items():
        (out / name / "color").mkdir(parents=True)
        if cam.depth is not None:
            (out / name / "depth").mkdir(parents=True)


def _write_jpeg(path: Path, rgb: np.ndarray, quality: int) -> None:
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    path.write_bytes(jpg.tobytes())


@dataclass
class _OrSessionWriter:
    """Writes the frame-sets of an OR session one by one and gathers their ground truth."""

    cfg: SynthConfig
    out: Path
    world: SynthWorld
    noise_rng: np.random.Generator
    img_rng: np.random.Generator
    gt: dict[str, np.ndarray]
    head_ids: np.ndarray
    preview_frame: int
    faces: list[FaceBox] = field(default_factory=list)
    preview_imgs: dict[str, np.ndarray] = field(default_factory=dict)
    face_cfg: FaceAnnotationConfig = field(default_factory=FaceAnnotationConfig)
    noise_cfg: DepthNoiseConfig = field(default_factory=DepthNoiseConfig)

    def add_people(self, i: int, posed: PosedPeople) -> None:
        """The 3D ground truth of frame-set ``i``."""
        gt, idx = self.gt, posed.person_ids
        gt["present"][i, idx] = True
        gt["joints_world_m"][i, idx] = posed.joints_world_m
        gt["world_from_head"][i, idx] = posed.world_from_head
        gt["head_center_world_m"][i, idx] = head_box_centers(posed.vertices_world_m, posed.world_from_head, self.head_ids)
        gt["world_from_body"][i, idx] = posed.world_from_body
        gt["pose_parameters"][i, idx] = posed.pose_parameters

    def add_view(self, i: int, c: int, name: str, fr: FrameRender) -> None:
        """Camera ``name`` (index ``c``) of frame-set ``i``: its colour JPEG, its depth PNG,
        its face boxes and 2D keypoints."""
        cam, ro, posed = self.world.cameras[name], fr.color[name], fr.posed
        idx = posed.person_ids
        rgb = _finish_rgb(ro.rgb, self.img_rng, vignette=True)
        _write_jpeg(self.out / name / "color" / f"{i:06d}.jpg", rgb, self.cfg.jpeg_quality)
        if i == self.preview_frame:
            self.preview_imgs[name] = rgb
        if name in fr.depth:
            d = fr.depth[name]
            mm = kinect_depth_mm(d.z_m, d.albedo, d.ids[..., 3], self.noise_rng, self.noise_cfg)
            ok, png = cv2.imencode(".png", mm)
            (self.out / name / "depth" / f"{i:06d}.png").write_bytes(png.tobytes())
        boxes, fracs = annotate_faces(cam, ro.ids, idx, posed.vertices_world_m, posed.world_from_head, self.world.face_tris, self.face_cfg, frame=i)
        self.gt["face_visible_fraction"][i, c, idx] = fracs
        self.faces.extend(boxes)
        uv, vis = annotate_keypoints(cam, ro.ids, ro.z_m, idx, posed.joints_world_m)
        self.gt["keypoints_px"][i, c, idx] = uv
        self.gt["keypoint_visibility"][i, c, idx] = vis


def _write_timestamps(out: Path, names: list[str], T: int, fps: float, rng: np.random.Generator) -> None:
    for c, name in enumerate(names):
        ts = _timestamps(T, fps, c, rng)
        lines = ["frame,timestamp_ns"] + [f"{k},{int(v)}" for k, v in enumerate(ts)]
        (out / name / "timestamps.csv").write_text("\n".join(lines) + "\n")


def _save_or_groundtruth(out: Path, cfg: SynthConfig, w: _OrSessionWriter, names: list[str], T: int) -> None:
    """annotations/faces.json and annotations/groundtruth.npz."""
    spec, gt = w.world.spec, w.gt
    ann = FaceAnnotations(cfg.session, tuple(names), tuple(range(T)), tuple(sorted(w.faces, key=lambda f: (f.frame, f.camera, f.person))))
    (out / "annotations").mkdir()
    save_faces(out / "annotations" / "faces.json", ann)
    wfh = gt["world_from_head"]
    save_groundtruth(
        out / "annotations" / "groundtruth.npz",
        SessionGroundTruth(
            frames=np.arange(T, dtype=np.int64),
            timestamps_ns=np.round(np.arange(T) * 1e9 / cfg.fps).astype(np.int64),
            person_ids=np.array([p.person_id for p in spec.people], np.int64),
            roles=tuple(p.role.value for p in spec.people),
            present=gt["present"],
            joints_world_m=gt["joints_world_m"],
            world_from_head=wfh,
            face_center_world_m=wfh[..., :3, 3].copy(),
            world_from_body=gt["world_from_body"],
            pose_parameters=gt["pose_parameters"],
            phenotype=np.array([p.phenotype for p in spec.people], np.float64),
            camera_names=tuple(names),
            keypoints_px=gt["keypoints_px"],
            keypoint_visibility=gt["keypoint_visibility"],
            face_visible_fraction=gt["face_visible_fraction"],
            face_vertex_ids=w.world.body.face_vertex_ids.astype(np.int64),
            head_center_world_m=gt["head_center_world_m"],
        ),
    )


def _write_or_session(cfg: SynthConfig, out: Path, body: PeopleRig | None) -> None:
    """Render every frame-set of the OR scene, then write timestamps, calibration, ground
    truth, manifest and (``--preview``) the contact sheet."""
    t_start = time.perf_counter()
    noise_rng, ts_rng, img_rng = _seeds(cfg.seed, 5)[2:]
    world = session_world(cfg, body)
    names = list(world.cameras)
    T = max(1, int(round(cfg.seconds * cfg.fps)))
    gt = _empty_groundtruth(T, len(world.spec.people), len(names))
    w = _OrSessionWriter(cfg, out, world, noise_rng, img_rng, gt, anny_part_vertex_ids(world.body.model, ["head"]), T // 2)
    _camera_folders(out, world.cameras)
    t_render = 0.0
    for i in tqdm(range(T), desc="render", unit="frame-set", disable=None):
        t0 = time.perf_counter()
        fr = render_frame(world, i / cfg.fps)
        t_render += time.perf_counter() - t0
        w.add_people(i, fr.posed)
        for c, name in enumerate(names):
            w.add_view(i, c, name, fr)
        log.debug("frame %d/%d (%.2f s render per frame-set)", i + 1, T, t_render / (i + 1))
    world.renderer.release()

    _write_timestamps(out, names, T, cfg.fps, ts_rng)
    save_calibration(out / "calibration.json", Calibration(cameras=world.cameras))
    _save_or_groundtruth(out, cfg, w, names, T)
    manifest = SessionManifest(
        name=cfg.session,
        cameras=tuple(CameraSource(n, SourceKind.FOLDER, n) for n in names),
        fps=float(cfg.fps),
        annotations={"faces": "annotations/faces.json", "groundtruth": "annotations/groundtruth.npz"},
        description=f"synthetic OR, scenario {cfg.scenario.value}, seed {cfg.seed}, {T} frame-sets, {len(world.spec.people) - 1} staff + patient",
    )
    save_manifest(out, manifest)
    if cfg.preview:
        from orscene.synth.preview import contact_sheet

        sheet = contact_sheet(w.preview_imgs, [f for f in w.faces if f.frame == w.preview_frame], title=f"{cfg.session} frame {w.preview_frame}")
        _write_jpeg(out / "preview.jpg", sheet, 90)
    log.info("wrote %d frame-sets x %d cameras in %.1f s (render %.2f s per frame-set)", T, len(names), time.perf_counter() - t_start, t_render / T)


def colour_depth_to_sensor(cam: Camera, depth_color_m: np.ndarray) -> np.ndarray:
    """Re-grid a depth map registered to the colour image into the depth sensor's own grid
    (what a device records): unproject every colour pixel, move it into the depth-sensor
    frame (``depth_from_cam = inv(cam_from_depth)``), project with the sensor's intrinsics
    and keep the nearest point per sensor pixel. Returns (H_d, W_d) float32 metres, 0 = none."""
    from orscene.geometry.camera import depth_to_points_cam, project_cam, transform_points

    pts, _ = depth_to_points_cam(cam.color, depth_color_m.astype(np.float32))
    pd = transform_points(np.linalg.inv(cam.cam_from_depth), pts.astype(np.float64))
    uv, z = project_cam(cam.depth, pd)
    W, H = cam.depth.width_px, cam.depth.height_px
    ok = np.isfinite(uv).all(axis=1) & (z > 0)
    c = np.rint(uv[ok, 0]).astype(np.int64)
    r = np.rint(uv[ok, 1]).astype(np.int64)
    z = z[ok]
    inside = (c >= 0) & (c < W) & (r >= 0) & (r < H)
    flat = r[inside] * W + c[inside]
    out = np.full(H * W, np.inf)
    np.minimum.at(out, flat, z[inside])
    out[~np.isfinite(out)] = 0.0
    return out.reshape(H, W).astype(np.float32)


def _write_board_session(cfg: SynthConfig, out: Path) -> None:
    """A short calibration recording: the ChArUco board held above the OR table, turned
    towards two neighbouring cameras (then one) in turn (``board_placements``); no people. Rendered by
    ``orscene.synth.board.render_board_views`` (board and floor, exact ray casting)."""
    import json

    from orscene.calibrate.board import load_board
    from orscene.synth.board import board_placements, render_board_views, warn_unseen_board

    board_json = Path(cfg.board)
    spec = load_board(board_json)
    rig_rng, scene_rng, noise_rng, ts_rng, img_rng = _seeds(cfg.seed, 5)
    cameras = make_or_rig(cfg.cameras, cfg.rgb_only, cfg.width, cfg.height, rig_rng)
    names = list(cameras)
    T = max(1, int(round(cfg.seconds * cfg.fps)))
    # the board held in turn towards pairs of cameras (a board flat on the table is too
    # foreshortened in the cameras that look across the room to be detected)
    placements = board_placements(cameras, spec.size_m, T, scene_rng)
    warn_unseen_board(cameras, placements, spec)
    _camera_folders(out, cameras)
    noise_cfg = DepthNoiseConfig()
    for i in tqdm(range(T), desc="render board", unit="frame-set", disable=None):
        views = render_board_views(cameras, board_json, placements[i], img_rng)
        for name, (rgb, depth_color) in views.items():
            _write_jpeg(out / name / "color" / f"{i:06d}.jpg", rgb, cfg.jpeg_quality)
            cam = cameras[name]
            if cam.depth is not None:
                z = colour_depth_to_sensor(cam, depth_color)
                mm = kinect_depth_mm(z, np.full_like(z, 0.5), np.zeros(z.shape, np.uint8), noise_rng, noise_cfg)
                ok, png = cv2.imencode(".png", mm)
                (out / name / "depth" / f"{i:06d}.png").write_bytes(png.tobytes())
        if i == 0 and cfg.preview:
            from orscene.synth.preview import contact_sheet

            sheet = contact_sheet({n: v[0] for n, v in views.items()}, [], title=f"{cfg.session} board")
            _write_jpeg(out / "preview.jpg", sheet, 90)
    _write_timestamps(out, names, T, cfg.fps, ts_rng)
    save_calibration(out / "calibration.json", Calibration(cameras=cameras))
    (out / "annotations").mkdir()
    shutil.copyfile(board_json, out / "board.json")
    (out / "annotations" / "board_pose.json").write_text(json.dumps(
        {"board": "board.json", "world_from_board": placements[0].tolist(), "world_from_board_per_frame": [p.tolist() for p in placements],
         "note": "board frame as in orscene.calibrate.board; held above the table, facing two cameras or one in turn"}, indent=1))  # fmt: skip
    save_manifest(out, SessionManifest(
        name=cfg.session,
        cameras=tuple(CameraSource(n, SourceKind.FOLDER, n) for n in names),
        fps=float(cfg.fps),
        annotations={"board": "board.json", "board_pose": "annotations/board_pose.json"},
        description=f"synthetic calibration recording: ChArUco board held above the OR table, seed {cfg.seed}, {T} frame-sets",
    ))  # fmt: skip
    log.info("wrote a %d-frame board session with %d cameras", T, len(names))


def run_synth(cfg: SynthConfig) -> int:
    path = generate_session(cfg)
    log.info("session written to %s", path)
    return 0
