"""The three phases of ``cli.py process``: the only place where the stages meet.

A. per chunk (parallel): 2D keypoints in every view and 3D pose candidates on keyframes;
   the face detectors' boxes on every frame-set (whole images on detector keyframes,
   windows in between; :mod:`orscene.pipeline.keyframes`); on keyframes, the 3D heads
   from every source (lifted faces, depth people against the session's depth background
   learned once before phase A, keypoints; :mod:`orscene.pipeline.heads3d`);
B. once (serial, light): tracking over the whole session's candidates, so identities (and
   face templates) hold across chunk borders; tracks are interpolated between keyframes;
   the 3D heads tracked too, numbered after the skeletons;
C. per chunk (parallel): body fit (warm-started), point cloud and head alignment on
   keyframes, carried along the tracked heads in between; face meshes, and per view the 3D
   render, the decision of how each face is covered and why
   (:func:`orscene.pipeline.frameset.decide_view`) and the fail-closed 2D path; images,
   masks and the chunk's MP4 segments are written as they are produced.
"""

import logging
import time
import traceback
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from orscene import anonymize2d, body, pose, registration, render
from orscene.geometry.fusion import fuse_point_cloud
from orscene.geometry.rig import CameraRig
from orscene.pipeline import heads3d
from orscene.pipeline.chunks import Chunk
from orscene.pipeline.config import OnError, PipelineConfig
from orscene.pipeline.frameset import (
    FaceDecision,
    FramesetResult,
    PersonRecord,
    ViewResult,
    ViewStatus,
    Why,
    decide_view,
    head_status_vouches,
    obscure_image,
)
from orscene.pipeline.keyframes import Schedule, between_detections_with_evidence, carry_fit, merge_keypoints
from orscene.pipeline.outputs import OutputLayout, SegmentWriters
from orscene.pipeline.progress import report
from orscene.recording.reader import open_session
from orscene.types import Camera, FaceBox, FaceSource, FrameSet, Keypoints2D, View

__all__ = ["Models", "load_models", "with_render_models", "PoseChunk", "detect_chunk", "track_session", "ChunkOptions", "ChunkState", "anonymize_chunk"]

log = logging.getLogger(__name__)


@dataclass
class Models:
    """Everything loaded once per process and passed to the stages. Phase A uses only the
    detectors (``keypoints``, ``face_detectors``); the others are None until
    :func:`with_render_models`."""

    keypoints: "pose.KeypointDetector"
    body_model: "body.BodyModel | None"
    renderer: "render.FaceRenderer | None"
    templates: "render.TemplateSet | None"
    face_detectors: "tuple[anonymize2d.FaceDetector, ...]"
    anonymize_template: np.ndarray | None
    """The 2D path's template image (``anonymize2d.method`` template), else None."""


def load_models(cfg: PipelineConfig, detection_only: bool = False) -> Models:
    """The models of every stage (``detection_only``: only phase A's 2D keypoint and face
    detectors; :func:`with_render_models` adds the rest)."""
    t0 = time.perf_counter()
    kp = pose.load_keypoint_detector(cfg.pose.detector)
    dets = tuple(anonymize2d.load_face_detector(d) for d in cfg.detectors)
    models = Models(kp, None, None, None, dets, None)
    if not detection_only:
        models = with_render_models(models, cfg)
    log.info("%s loaded in %.1f s", "detectors" if detection_only else "models", time.perf_counter() - t0)
    return models


def with_render_models(models: Models, cfg: PipelineConfig, body_model: "body.BodyModel | None" = None) -> Models:
    """``models`` with phase C's body model (``body_model`` when already loaded, e.g. in a
    background thread), renderer and face templates. The renderer's GL context belongs to
    the calling thread: call this where the rendering will run."""
    bm = body.load_body_model(cfg.body_model) if body_model is None else body_model
    templates = render.load_templates(render.default_catalog_path(), cfg.render)
    # the 2D path's template method uses one template for every region (no identity to key on)
    tmpl = render.choose_template(templates, 0, cfg.render).rgb if cfg.anonymize2d.method.value == "template" else None
    return replace(models, body_model=bm, renderer=render.create_renderer(cfg.render), templates=templates, anonymize_template=tmpl)


@dataclass
class StageTimes:
    keypoints: float = 0.0
    fusion3d: float = 0.0
    tracking: float = 0.0
    bodyfit: float = 0.0
    pointcloud: float = 0.0
    align: float = 0.0
    render: float = 0.0
    fallback2d: float = 0.0
    detect2d: float = 0.0
    write: float = 0.0
    read: float = 0.0
    """Decoding colour and depth, and registering depth to colour."""
    heads: float = 0.0
    """3D head evidence (phase A, keyframes) and the head tracks' regions (phase C)."""

    def add(self, name: str, dt: float) -> None:
        setattr(self, name, getattr(self, name) + dt)

    @contextmanager
    def stage(self, name: str, within: str | None = None):
        """Time the ``with`` block into ``name`` (``within``: a stage whose clock runs around
        this block, e.g. the reader's, which does not count it)."""
        t = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t
            self.add(name, dt)
            if within is not None:
                self.add(within, -dt)

    def timed(self, name: str, items: Iterable):
        """``items``, with the time spent producing each one added to ``name``."""
        it = iter(items)
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                self.add(name, time.perf_counter() - t)
                return
            self.add(name, time.perf_counter() - t)
            yield item


def _anonymize_view(
    frame: int,
    view: View,
    camera: Camera | None,
    poses,
    fits_by_track: Mapping,
    face_meshes: list,
    occluders,
    keypoints: Keypoints2D | None,
    detected: list | None,
    models: Models,
    cfg: PipelineConfig,
    times: StageTimes,
    others: tuple = (),
    borrowed: list[int] = (),
    held: list | None = None,
    head3d: tuple = (),
) -> ViewResult:
    """One view: render, decide (:func:`orscene.pipeline.frameset.decide_view`), anonymize
    the decided regions in 2D (``detected``: the face detectors' boxes from phase A; None
    when detection failed on this view, which fails the frame-set; ``others``: the other
    calibrated views' cameras and depth, against which an occluder in this view's depth is
    checked; ``borrowed``, ``held``: where the evidence of a non-keyframe comes from;
    ``head3d``: the head tracks to cover in this view, ``heads3d.view_head_regions``)."""
    if detected is None:
        raise RuntimeError(f"face detection failed on camera {view.camera}")
    rgb = view.rgb
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), bool)

    # 1. 3D path: the faces it may vouch for, rendered and blended
    rendered = None
    with times.stage("render"):
        meshes = [m for m in face_meshes if head_status_vouches(m.head_status, fits_by_track[m.track_id][1])] if camera is not None else []
        if meshes:
            rendered = render.render_faces(models.renderer, view, camera, meshes, models.templates, occluders, cfg.render, others)
            rgb, m3d = render.blend_faces(rgb, list(rendered.patches), cfg.render)
            mask |= m3d
            log.debug("frame %d %s: rendered %s", frame, view.camera, sorted(p.track_id for p in rendered.patches if p.mask.any()))

    # 2-4. the decision, then the 2D path over its regions
    with times.stage("fallback2d"):
        fits = {k: f for k, (f, _) in fits_by_track.items()}
        decision = decide_view(
            frame, view.camera, camera, (w, h), view.depth_m is not None, poses, fits, rendered, mask, keypoints, detected,
            cfg.fallback, cfg.detector_cover_threshold, borrowed, held, head3d,
        )  # fmt: skip
        if decision.regions:
            rgb, m2d = anonymize2d.anonymize_regions(rgb, list(decision.regions), cfg.anonymize2d, template=models.anonymize_template)
            mask |= m2d
    faces = tuple(d.face for d in decision.faces)
    return ViewResult(view.camera, rgb, mask, faces, ViewStatus.ANONYMIZED, "", decision.counts, (*decision.faces, *decision.uncovered))


def _failed_frameset(fs: FrameSet, on_error: OnError, reason: str) -> FramesetResult:
    views = {
        name: _unusable_view(fs.index, name, view.rgb, (view.rgb.shape[1], view.rgb.shape[0]), on_error, reason)
        for name, view in fs.views.items()
    }
    return _with_failed_views(FramesetResult(fs.index, fs.timestamp_ns, views, (), reason), fs, on_error)


def _unusable_view(
    frame: int, name: str, rgb: np.ndarray | None, size_wh: tuple[int, int], on_error: OnError, reason: str, file: str = ""
) -> ViewResult:
    """A view that cannot be anonymized: obscured (``rgb`` coarsely pixelated and darkened,
    or a flat dark grey image when the colour itself could not be read) or withheld."""
    w, h = size_wh
    mask = np.ones((h, w), bool)
    if on_error is OnError.WITHHOLD:
        return ViewResult(name, None, mask, (), ViewStatus.WITHHELD, reason, file=file)
    out = obscure_image(rgb) if rgb is not None else np.full((h, w, 3), 64, np.uint8)
    face = FaceBox(frame, name, -1, (-0.5, -0.5, w - 0.5, h - 0.5), 1.0, 1.0, False, FaceSource.OBSCURED)
    why = FaceDecision(-1, Why.UNREADABLE if file else Why.FAILED, face)
    return ViewResult(name, out, mask, (face,), ViewStatus.OBSCURED, reason, decisions=(why,), file=file)


def _with_failed_views(result: FramesetResult, fs: FrameSet, on_error: OnError) -> FramesetResult:
    """``result`` with the views whose file could not be read (``FrameSet.failed``) written
    obscured or withheld, each naming its file (a bad file costs one view)."""
    if not fs.failed:
        return result
    views = dict(result.views)
    for name, f in fs.failed.items():
        views[name] = _unusable_view(fs.index, name, f.rgb, f.size_wh, on_error, f.reason, f.path)
    return replace(result, views=views)


@dataclass
class _Plan:
    """One frame-set of phase C before its images are decoded."""

    poses: list
    fits: list
    depth: bool | np.ndarray
    """What the reader registers (``SessionReader.framesets``' ``with_depth``)."""
    error: Exception | None = None
    heads: list = field(default_factory=list)
    """The head tracks that no tracked skeleton explains (``orscene.heads.cover.HeadAt``)."""


_SPHERE_SLACK_M = 0.02
"""Added to a head's depth sphere: the render window's few pixels of padding beyond its
margin."""


def depth_near_heads(fits: list, face_vertex_ids: np.ndarray, keyframe: bool, cfg: PipelineConfig) -> np.ndarray:
    """World spheres ``(K, 4)`` (centre, radius) holding every depth pixel the 3D path of a
    frame-set reads: around each head, the face's render window (the face's reach from the
    head origin, grown by the render margin on each side, plus ``_SPHERE_SLACK_M``) and, on
    a keyframe, the point cloud for head alignment (``fusion.keep_radius_m``) and the
    alignment's largest move (``align.max_translation_m``). Inside them the registered
    depth equals the whole registration, so outputs do not change."""
    out = []
    grow = 1.0 + 2.0 * cfg.render.margin_frac
    for f in fits:
        origin = np.asarray(f.world_from_head[:3, 3], np.float64)
        reach = float(np.linalg.norm(f.vertices_world_m[face_vertex_ids] - origin, axis=1).max())
        r = reach * grow + _SPHERE_SLACK_M
        if keyframe:
            r = max(r + cfg.align.max_translation_m, cfg.fusion.keep_radius_m)
        out.append([*origin, r])
    return np.asarray(out, np.float64).reshape(-1, 4)


@dataclass(frozen=True)
class PoseChunk:
    """Phase A of a chunk: 2D keypoints per view (keyframes), 3D candidates per keyframe, and
    the face detectors' boxes per frame-set and view."""

    chunk: Chunk
    keypoints: Mapping[int, Mapping[str, Keypoints2D]]
    """Keyframes of the chunk, and the nearest keyframe on either side of it."""
    candidates: Mapping[int, list]
    """The chunk's own keyframes only."""
    faces2d: Mapping[int, Mapping[str, list | None]]
    """Every frame-set of the chunk: per view, the detections (box, score), or None when
    detection failed there."""
    times_s: Mapping[str, float]
    timestamps_ns: np.ndarray | None = None
    """The session's frame-set timestamps (all of them, up to the processed length): the
    schedule and the tracker's time."""
    evidence2d: Mapping[int, Mapping[str, list]] = field(default_factory=dict)
    """Frame-sets between passes: per view and detection, the whole-image passes a held
    face comes from (empty for a face found on the frame-set itself)."""
    heads: Mapping[int, list] = field(default_factory=dict)
    """The chunk's own keyframes: the 3D heads found there from every source
    (``orscene.heads.FusedHead``; ``orscene.pipeline.heads3d.frameset_heads``)."""


def _detect_all(models: Models, rgb: np.ndarray, seeds=None, blazeface_between: bool = False) -> list:
    """All face detectors on one view: the whole image (``seeds`` None: a whole-image
    pass), or between passes only around ``seeds``. BlazeFace cannot look in windows (it
    sees a whole image at 192x192): between passes it runs on the whole image only with
    ``blazeface_between`` (``PipelineConfig.blazeface_between_passes``)."""
    out = []
    for det in models.face_detectors:
        if seeds is None:
            out += anonymize2d.detect_faces(det, rgb)
        elif det.cfg.name is not anonymize2d.FaceDetectorKind.BLAZEFACE:
            out += anonymize2d.detect_faces_near(det, rgb, seeds)
        elif blazeface_between:
            out += anonymize2d.detect_faces(det, rgb)
    return out


def detect_chunk(
    chunk: Chunk, session_path: Path, cfg: PipelineConfig, models: Models, n_framesets: int, rig: CameraRig | None = None, background=None
) -> PoseChunk:
    """Phase A (parallel over chunks): 2D keypoints and 3D pose candidates on keyframes, face
    detection on every frame-set (whole images on detector keyframes, windows around their
    faces in between; :mod:`orscene.pipeline.keyframes`). Depth is registered only where
    the 3D fusion reads it (around torso keypoints and proposed roots: ``View.depth_in_boxes``).
    On the chunk's keyframes, the 3D heads from every source (``background``: the
    session's depth background, :func:`orscene.pipeline.heads3d.learn_background`)."""
    times = StageTimes()
    reader = open_session(session_path, rig)  # rig: the session's cameras, built once per worker
    cameras: Mapping[str, Camera] = reader.rig.subset(reader.calibration.cameras)
    stamps = np.asarray(reader.frameset_timestamps_ns[:n_framesets], np.int64)
    sched = cfg.schedule(stamps)
    kp_lo, kp_hi = sched.keyframe_before(chunk.start), sched.keyframe_after(chunk.stop - 1)
    chain_lo = sched.search_keyframe_before(kp_lo)  # followed skeletons start from a search
    det_lo, det_hi = sched.pass_before(chunk.start), sched.pass_after(chunk.stop - 1)
    own = range(chunk.start, chunk.stop)
    kps_by_frame: dict[int, dict[str, Keypoints2D]] = {}
    cands_by_frame: dict[int, list] = {}
    faces_by_frame: dict[int, dict[str, list | None]] = {}
    evidence: dict[int, dict[str, list]] = {}
    full: dict[int, dict[str, list | None]] = {}
    pending: list[tuple[int, dict[str, np.ndarray]]] = []
    regions: dict[str, tuple] = {}  # camera -> the regions of the people followed there
    hold = n_framesets if cfg.detector_hold is None else cfg.detector_hold
    heads_by_frame: dict[int, list] = {}
    heads_waiting: dict[int, FrameSet] = {}  # own keyframes whose face boxes are not known yet
    for fs in times.timed("read", reader.framesets(min(chain_lo, det_lo), max(kp_hi, det_hi) + 1, with_depth=lambda i: False)):
        i = fs.index
        if chunk.start <= i < chunk.stop:  # read for this chunk's own frame-sets (progress)
            report(chunk.name)
        if sched.is_keyframe(i) and chain_lo <= i <= kp_hi:
            with times.stage("keypoints"):
                kps = {}
                search = sched.is_search_keyframe(i)
                for name, view in fs.views.items():
                    try:
                        kps[name], regions[name] = pose.track_keypoints(models.keypoints, view, () if search else regions.get(name, ()))
                    except Exception:  # the 2D face detectors still cover this view
                        log.exception("keypoint detection failed on frame-set %d camera %s", i, name)
                        regions[name] = ()
                if i >= kp_lo:  # before: only to follow people up to the chunk
                    kps_by_frame[i] = kps
            if i in own:
                with times.stage("fusion3d"):
                    try:
                        cands_by_frame[i] = pose.fuse_poses({k: v for k, v in kps.items() if k in cameras}, cameras, _checked_depth(fs, cfg), cfg.pose.fusion)
                    except Exception:  # no 3D this frame-set: every head goes through the 2D path
                        log.exception("3D fusion failed on frame-set %d", i)
                        cands_by_frame[i] = []
        with times.stage("detect2d"):
            if sched.is_pass(i) and det_lo <= i <= det_hi:
                full[i] = {}
                for name, view in fs.views.items():
                    try:
                        full[i][name] = _detect_all(models, view.rgb)
                    except Exception:
                        log.exception("face detection failed on frame-set %d camera %s", i, name)
                        full[i][name] = None
                if i in own:
                    faces_by_frame[i] = full[i]
                for tp, rgbs in pending:  # the frame-sets since the previous full pass
                    a = sched.pass_before(tp)  # at most detector_max_s before (the schedule's bound)
                    faces_by_frame[tp], evidence[tp] = {}, {}
                    for name, rgb in rgbs.items():
                        before, after = full.get(a, {}).get(name) or [], full[i].get(name) or []
                        try:
                            found = _detect_all(models, rgb, [d[0] for d in before + after], cfg.blazeface_between_passes)
                            faces_by_frame[tp][name], tags = between_detections_with_evidence(
                                found, before, after, sched.fraction(tp, a, i), hold_before=tp - a <= hold, hold_after=i - tp <= hold
                            )
                            evidence[tp][name] = [[{"before": a, "after": i}[g] for g in tag] for tag in tags]
                        except Exception:
                            log.exception("face detection failed on frame-set %d camera %s", tp, name)
                            faces_by_frame[tp][name] = None
                pending = []
            elif i in own:
                pending.append((i, {name: view.rgb for name, view in fs.views.items()}))
        # 3D heads on the own keyframes, once their face boxes are known (orscene.pipeline.heads3d)
        if cfg.heads3d.enabled and i in own and sched.is_keyframe(i):
            heads_waiting[i] = fs
        for k in [k for k in heads_waiting if k in faces_by_frame]:
            with times.stage("heads"):
                try:
                    heads_by_frame[k] = heads3d.frameset_heads(
                        heads_waiting.pop(k), cameras, faces_by_frame[k], cands_by_frame.get(k, ()), background, cfg.heads3d,
                        lambda d: render.depth_doubt(d, cfg.render),
                    )
                except Exception:  # the skeletons and the face detectors still cover this frame-set
                    log.exception("3D head evidence failed on frame-set %d", k)
                    heads_by_frame[k] = []
    return PoseChunk(chunk, kps_by_frame, cands_by_frame, faces_by_frame, {k: v for k, v in vars(times).items() if v}, stamps, evidence, heads_by_frame)


def track_session(pose_chunks: list[PoseChunk], cfg: PipelineConfig) -> list:
    """Phase B (serial, light): identities over the whole session from all candidates, so
    that a person keeps one id (and one face template) across chunk borders."""
    frames: list[int] = []
    cands: list = []
    every: list[int] = []
    stamps = None
    for pc in sorted(pose_chunks, key=lambda p: p.chunk.start):
        every.extend(range(pc.chunk.start, pc.chunk.stop))
        stamps = pc.timestamps_ns if pc.timestamps_ns is not None else stamps
        for idx in sorted(pc.candidates):
            frames.append(idx)
            cands.append(pc.candidates[idx])
    if not frames:
        return []
    if stamps is None:  # phase-A results of an older version
        raise RuntimeError("phase A results carry no timestamps: re-run with --force")
    tcfg = cfg.pose.tracking
    # Tracks end at gaps longer than max_gap_s, so each stretch of the session between such
    # gaps is tracked on its own (the same tracks; ids numbered on across stretches).
    # Observations come on keyframes only: a track needs proportionally fewer, and a
    # stretch shorter than the minimum track length (a few still frames, or one frame-set
    # seconds from the next) keeps its people.
    gap_after = np.flatnonzero(np.diff(stamps[every]) > round(tcfg.max_gap_s * 1e9))
    bounds = [every[0], *(every[k + 1] for k in gap_after), every[-1] + 1]
    frames_a, every_a = np.asarray(frames), np.asarray(every)
    out: list = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        sel = np.flatnonzero((frames_a >= lo) & (frames_a < hi))
        if sel.size == 0:
            continue
        stretch = every_a[(every_a >= lo) & (every_a < hi)]
        need = -(-tcfg.min_track_frames * sel.size // stretch.size)
        scfg = replace(tcfg, min_track_frames=max(1, min(need, sel.size // 4)))
        tracks = pose.track([cands[k] for k in sel], frames_a[sel].tolist(), scfg, output_frames=stretch.tolist(), timestamps_ns=stamps)
        out += [replace(t, track_id=len(out) + k) for k, t in enumerate(tracks)]
    return out


@dataclass(frozen=True)
class ChunkOptions:
    """How phase C treats and writes one chunk (from ``ProcessConfig``)."""

    fail_frames: frozenset[int] = frozenset()
    """Frame-sets made to raise (``--fail-frames``; exercises fail-closed)."""
    on_error: OnError = OnError.OBSCURE
    """A frame-set that raises is written obscured or withheld."""
    images: bool = True
    """Write the anonymized images (masks are always written)."""
    video: bool = True
    """Write the chunk's MP4 segments."""
    video_preset: str = "ultrafast"
    """The H.264 encoder's preset for the segments."""


@dataclass(frozen=True)
class ChunkState:
    """What phase C keeps of one chunk (``.state/chunk_*.json``), merged by ``run._finish``."""

    chunk: str
    start: int
    stop: int
    frames: list[int]
    faces: list[dict]
    """The chunk's faces in ``faces.json``'s form."""
    audit: list[dict]
    """One ``audit.json`` entry per frame-set."""
    times_s: dict[str, float]
    """Seconds per stage (``StageTimes``)."""
    wall_s: float
    video_start_ns: int | None = None
    """Time of the chunk's first MP4 frame; None when no video was written."""

    def to_dict(self) -> dict:
        return {
            "chunk": self.chunk, "start": self.start, "stop": self.stop, "frames": self.frames, "faces": self.faces,
            "audit": self.audit, "times_s": self.times_s, "wall_s": self.wall_s, "video_start_ns": self.video_start_ns,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping) -> "ChunkState":
        return cls(
            d["chunk"], int(d["start"]), int(d["stop"]), list(d["frames"]), list(d["faces"]), list(d["audit"]),
            dict(d["times_s"]), float(d["wall_s"]), d.get("video_start_ns"),
        )  # fmt: skip


def anonymize_chunk(
    chunk: Chunk,
    session_path: Path,
    layout: OutputLayout,
    cfg: PipelineConfig,
    models: Models,
    tracks: list,
    pose_chunk: PoseChunk,
    n_framesets: int,
    options: ChunkOptions = ChunkOptions(),
    rig: CameraRig | None = None,
    session_heads: "heads3d.SessionHeads | None" = None,
) -> ChunkState:
    """Phase C (parallel over chunks): body fit and head alignment on keyframes (carried in
    between), render, 2D path, write. ``session_heads``: phase B's head tracks; each head
    no tracked skeleton explains is covered in 2D where it may be visible
    (:mod:`orscene.pipeline.heads3d`).

    The body fit is warm-started over the keyframes of ``chunk.read_start .. chunk.start``
    (and back to the keyframe the chunk's first frame-set borrows from), so a chunk's first
    frame-set is fitted as in an unchunked run. A frame-set that raises is written obscured
    or withheld (``options.on_error``). Returns the chunk's state.
    """
    t_chunk = time.perf_counter()
    run = _ChunkRun(chunk, session_path, cfg, models, tracks, pose_chunk, n_framesets, rig, session_heads)
    run.warm_up()
    out = _ChunkOutput(layout, chunk, run.reader, options)
    for fs in run.times.timed("read", run.framesets()):
        result = run.anonymize(fs, options)
        with run.times.stage("write"):
            out.write(result, fs.timestamp_ns)
        report(chunk.name)
    with run.times.stage("write"):
        out.close()
    return _chunk_state(chunk, out.audit, out.faces, run.times, t_chunk, out.video_start_ns)


class _ChunkRun:
    """Phase C of one chunk, step by step: the reader and schedule, the body fit's warm
    state, and the bodies carried from the last keyframe to the frame-sets after it."""

    def __init__(
        self, chunk: Chunk, session_path: Path, cfg: PipelineConfig, models: Models, tracks: list, pose_chunk: PoseChunk, n_framesets: int,
        rig: CameraRig | None = None, session_heads: "heads3d.SessionHeads | None" = None,
    ) -> None:  # fmt: skip
        self.chunk, self.cfg, self.models, self.tracks, self.pose_chunk = chunk, cfg, models, tracks, pose_chunk
        self.session_heads = session_heads
        self.times = StageTimes()
        self.reader = open_session(session_path, rig)  # rig: the session's cameras, built once per worker
        self.cameras: Mapping[str, Camera] = self.reader.rig.subset(self.reader.calibration.cameras)
        self.has_depth = any(c.has_depth for c in self.cameras.values())
        self.rgb_only = any(not c.has_depth for c in self.cameras.values())
        stamps = self.reader.frameset_timestamps_ns[:n_framesets] if pose_chunk.timestamps_ns is None else pose_chunk.timestamps_ns
        self.sched = cfg.schedule(stamps)
        self.fit_state = None
        self.carried: dict[int, tuple] = {}
        """Track id -> (fit on the last keyframe, the pose it fitted)."""
        self._plans: dict[int, _Plan] = {}

    def warm_up(self) -> None:
        """The body fit over the keyframes before the chunk (its warm start only)."""
        sched, cfg = self.sched, self.cfg
        for index in range(min(self.chunk.read_start, sched.keyframe_before(self.chunk.start)), self.chunk.start):
            if not sched.is_keyframe(index):
                continue
            poses = pose.poses_at(self.tracks, index, cfg.pose.tracking)
            fits = []
            if poses:
                fits, self.fit_state = body.fit_bodies(self.models.body_model, poses, cfg.body, self.fit_state)
            by_id = {p.track_id: p for p in poses}
            self.carried = {f.track_id: (f, by_id[f.track_id]) for f in fits}

    def framesets(self) -> Iterable[FrameSet]:
        """The chunk's frame-sets, with depth registered only where :meth:`plan` needs it."""
        return self.reader.framesets(self.chunk.start, self.chunk.stop, with_depth=lambda i: self.plan(i, True).depth)

    def plan(self, i: int, in_reader: bool = False) -> _Plan:
        """Frame-set ``i``'s people, their bodies (fitted on a keyframe, carried in between)
        and where its depth is needed, made before its images are decoded (the reader asks
        per camera; made once, after the previous frame-set updated ``carried``). An error
        is kept and raised when the frame-set is processed (fail closed)."""
        if i not in self._plans:
            self._plans.clear()
            with self.times.stage("bodyfit", within="read" if in_reader else None):  # not part of reading
                try:
                    poses = pose.poses_at(self.tracks, i, self.cfg.pose.tracking)
                    fits = []
                    if poses and self.sched.is_keyframe(i):
                        fits, self.fit_state = body.fit_bodies(self.models.body_model, poses, self.cfg.body, self.fit_state)
                    elif poses:  # between keyframes: each body of the last keyframe (within keyframe_max_s), moved with its head
                        fits = [carry_fit(*self.carried[p.track_id], p) for p in poses if p.track_id in self.carried]
                    heads_now = heads3d.heads_for_frameset(
                        self.session_heads, i, int(self.sched.timestamps_ns[i]), poses, self.cfg.heads3d, self.cfg.fallback.min_joint_confidence
                    )
                    need = self._depth_need(i, poses, fits)
                    if heads_now and isinstance(need, np.ndarray):  # and around the heads whose visibility is checked
                        need = np.concatenate([need, heads3d.depth_spheres(heads_now, self.cfg.heads3d)])
                    self._plans[i] = _Plan(poses, fits, need, heads=heads_now)
                except Exception as e:
                    self._plans[i] = _Plan([], [], False, e)
        return self._plans[i]

    def _depth_need(self, i: int, poses: list, fits: list) -> bool | np.ndarray:
        """Register depth only where it is used: a keyframe with people (point cloud, head
        alignment), or a frame-set where a carried face will be rendered (visibility) or
        bodies occlude in RGB-only views. Only around the heads (:func:`depth_near_heads`)
        unless ``cfg.depth_near_heads`` is off or a view lacks depth (its occluders are the
        whole scene's cloud)."""
        key = self.sched.is_keyframe(i)
        settled = {p.track_id: p.settled for p in poses}
        rendered = [f for f in fits if key or head_status_vouches(f.head_status, settled.get(f.track_id, False))]
        if not rendered:
            return False
        if self.rgb_only or not self.cfg.depth_near_heads:
            return True
        return depth_near_heads(rendered, self.models.body_model.face_vertex_ids, key, self.cfg)

    def anonymize(self, fs: FrameSet, options: ChunkOptions) -> FramesetResult:
        """One frame-set: its bodies in 3D, then every view; on any error, every view
        obscured or withheld (fail closed)."""
        index = fs.index
        if self.sched.is_keyframe(index):  # nothing is carried past a keyframe (even one that fails)
            self.carried = {}
        try:
            if index in options.fail_frames:
                raise RuntimeError(f"injected failure on frame-set {index}")
            planned = self.plan(index)
            if planned.error is not None:
                raise planned.error
            fs, depth_doubts = _drop_implausible_depth(fs, self.cfg)
            fits, meshes, occluders = self._bodies(fs, planned.poses, planned.fits)
            views, persons = self._views(fs, planned.poses, fits, meshes, occluders, planned.heads)
            return _with_failed_views(FramesetResult(index, fs.timestamp_ns, views, persons, depth_ignored=depth_doubts), fs, options.on_error)
        except Exception as e:  # fail closed: never write a view that may show a face
            reason = f"{type(e).__name__}: {e}"
            log.error("frame-set %d failed (%s); writing it %s", index, reason, options.on_error.value)
            log.debug("%s", traceback.format_exc())
            return _failed_frameset(fs, options.on_error, reason)

    def _bodies(self, fs: FrameSet, poses: list, fits: list) -> "tuple[list, list, render.Occluders | None]":
        """``(fits, face meshes, occluders)``: on a keyframe the heads aligned to the point
        cloud of the calibrated depth views (and carried from here on); the occluders of the
        RGB-only views (the whole scene's cloud, coarser, and the bodies)."""
        if not poses:
            return fits, [], None
        cfg, cameras = self.cfg, self.cameras
        calibrated = FrameSet(fs.index, fs.timestamp_ns, {k: v for k, v in fs.views.items() if k in cameras})
        with_depth = self.has_depth and any(v.depth_m is not None for v in calibrated.views.values())
        if self.sched.is_keyframe(fs.index):
            if fits and with_depth:
                with self.times.stage("pointcloud"):
                    # only the calibrated depth views, only near the fitted heads
                    heads = np.stack([f.world_from_head[:3, 3] for f in fits])
                    cloud = fuse_point_cloud(calibrated, cameras, cfg.fusion, keep_near=heads)
                with self.times.stage("align"):
                    fits = registration.align_heads(fits, cloud, cameras, cfg.align)
            by_id = {p.track_id: p for p in poses}
            self.carried = {f.track_id: (f, by_id[f.track_id]) for f in fits}
        cloud = None
        if fits and with_depth and self.rgb_only:  # occluders for the RGB-only views: the whole scene, coarser
            with self.times.stage("pointcloud"):
                cloud = fuse_point_cloud(calibrated, cameras, replace(cfg.fusion, pixel_stride=cfg.occluder_pixel_stride))
        meshes = [body.face_mesh(self.models.body_model, f) for f in fits]
        return fits, meshes, render.Occluders(point_cloud=cloud, bodies=tuple(fits))

    def _views(
        self, fs: FrameSet, poses: list, fits: list, meshes: list, occluders, heads_now: list = ()
    ) -> tuple[dict[str, ViewResult], tuple[PersonRecord, ...]]:
        """Every view of the frame-set (:func:`_anonymize_view`), and the audit's persons
        (``heads_now``: the head tracks no tracked skeleton explains, ``_Plan.heads``)."""
        index, sched, pose_chunk, cameras = fs.index, self.sched, self.pose_chunk, self.cameras
        key = sched.is_keyframe(index)
        settled = {p.track_id: p.settled for p in poses}
        fits_by_track = {f.track_id: (f, settled.get(f.track_id, False)) for f in fits}
        borrowed = [] if key else [sched.keyframe_before(index), sched.keyframe_after(index)]
        persons = tuple(PersonRecord(f.track_id, bool(settled.get(f.track_id, False)), f.head_status, index if key else borrowed[0]) for f in fits)
        if index not in pose_chunk.faces2d:
            raise RuntimeError(f"no face detection for frame-set {index}")
        kps = _keypoints_for(pose_chunk.keypoints, index, sched)
        views = {}
        depths = {k: v.depth_m for k, v in fs.views.items() if k in cameras and v.depth_m is not None}
        for name, view in fs.views.items():
            cam = cameras.get(name)
            others = tuple((cameras[k], d) for k, d in depths.items() if k != name)
            with self.times.stage("heads"):
                head3d = tuple(heads3d.view_head_regions(heads_now, view, cam, self.cfg.heads3d))
            views[name] = _anonymize_view(
                index, view, cam, poses, fits_by_track, meshes if cam is not None else [], occluders,
                merge_keypoints([k.get(name) for k in kps]), pose_chunk.faces2d[index].get(name), self.models, self.cfg, self.times, others,
                borrowed, pose_chunk.evidence2d.get(index, {}).get(name), head3d,
            )  # fmt: skip
        return views, persons


class _ChunkOutput:
    """Phase C's writes for one chunk: each frame-set's images and masks as it comes (a
    chunk never holds its images), its MP4 segments, and the audit entries and faces kept
    for the chunk's state."""

    def __init__(self, layout: OutputLayout, chunk: Chunk, reader, options: ChunkOptions) -> None:
        self.layout, self.images, self.cameras = layout, options.images, reader.camera_names
        sizes = {c: reader.color_size(c) for c in reader.camera_names}
        # one encoder thread per worker: the workers already share out the cores
        self.segments = SegmentWriters(layout, chunk.name, sizes, reader.fps, options.video_preset, threads=1) if options.video else None
        self.audit: list[dict] = []
        self.faces: list[FaceBox] = []
        self.video_start_ns: int | None = None

    def write(self, result: FramesetResult, timestamp_ns: int) -> None:
        try:
            entry, faces = _write_frameset(result, self.layout, self.images)
            if self.segments is not None:
                self.video_start_ns = timestamp_ns if self.video_start_ns is None else self.video_start_ns
                for cam in self.cameras:
                    v = result.views.get(cam)
                    self.segments.write(cam, None if v is None else v.rgb, timestamp_ns)
        except BaseException:
            if self.segments is not None:
                self.segments.abort()
            raise
        self.audit.append(entry)
        self.faces.extend(faces)

    def close(self) -> None:
        if self.segments is not None:
            self.segments.close()


def _checked_depth(fs: FrameSet, cfg: PipelineConfig) -> FrameSet:
    """``fs`` whose views register depth on demand (phase A) only to give it back when it
    is plausible (:func:`orscene.render.depth_doubt`); implausible depth reads as unknown
    (0), as in a view without depth, and is logged."""

    def checked(name: str, fn):
        def get(boxes):
            d = fn(boxes)
            why = render.depth_doubt(d, cfg.render)
            if why:
                log.warning("frame-set %d camera %s: depth ignored for 3D fusion, %s", fs.index, name, why)
                return np.zeros_like(d)
            return d

        return get

    views = {k: (replace(v, depth_in_boxes=checked(k, v.depth_in_boxes)) if v.depth_in_boxes is not None else v) for k, v in fs.views.items()}
    return FrameSet(fs.index, fs.timestamp_ns, views)


def _drop_implausible_depth(fs: FrameSet, cfg: PipelineConfig) -> tuple[FrameSet, dict[str, str]]:
    """``fs`` with the depth of each view whose depth is implausible as a whole
    (:func:`orscene.render.depth_doubt`) removed: that view is RGB-only for this frame-set
    (no point cloud, no depth visibility; the 2D path covers its heads). Returns the views
    dropped, with why (logged, and kept in the audit)."""
    doubts = {}
    for name, v in fs.views.items():
        if v.depth_m is not None:
            why = render.depth_doubt(v.depth_m, cfg.render)
            if why:
                doubts[name] = why
                log.warning("frame-set %d camera %s: depth ignored, %s", fs.index, name, why)
    if not doubts:
        return fs, doubts
    views = {k: (replace(v, depth_m=None, depth_in_boxes=None) if k in doubts else v) for k, v in fs.views.items()}
    return replace(fs, views=views), doubts  # keeps fs.failed (unreadable views are still written)


def _keypoints_for(keypoints: Mapping[int, Mapping[str, Keypoints2D]], index: int, sched: Schedule) -> list[Mapping[str, Keypoints2D]]:
    """The 2D skeletons that stand for frame-set ``index``: its own on a keyframe, else those
    of the keyframes on either side (at most ``keyframe_max_s`` apart)."""
    if sched.is_keyframe(index):
        frames = [index]
    else:
        frames = [sched.keyframe_before(index), sched.keyframe_after(index)]
    return [keypoints.get(f, {}) for f in frames]


def _write_frameset(r: FramesetResult, layout: OutputLayout, images: bool = True) -> tuple[dict, list[FaceBox]]:
    """Write one frame-set's images (when ``images``) and masks now (a chunk never holds its
    images); return its audit entry and faces."""
    entry = {"frame": r.index, "timestamp_ns": r.timestamp_ns, "persons": [p.to_dict() for p in r.persons], "views": {}}
    if r.depth_ignored:
        entry["depth_ignored"] = dict(r.depth_ignored)
    if r.error:
        entry["error"] = r.error
    faces: list[FaceBox] = []
    for name, v in r.views.items():
        if v.rgb is not None and images:
            layout.write_image(name, r.index, v.rgb)
        layout.write_mask(name, r.index, v.mask)
        faces.extend(v.faces)
        n = len(v.faces)
        entry["views"][name] = {
            "status": v.status.value,
            **({"file": v.file} if v.file else {}),
            **({"reason": v.reason} if v.reason else {}),
            "faces": [d.to_dict() for d in v.decisions[:n]],
            **({"uncovered": [d.to_dict() for d in v.decisions[n:]]} if len(v.decisions) > n else {}),
        }
    return entry, faces


def _chunk_state(chunk: Chunk, audit: list[dict], faces: list[FaceBox], times: StageTimes, t_chunk: float, video_start_ns: int | None) -> ChunkState:
    from orscene.recording.faces import faces_to_dict, FaceAnnotations

    return ChunkState(
        chunk.name, chunk.start, chunk.stop, [e["frame"] for e in audit],
        faces_to_dict(FaceAnnotations("", tuple(sorted({f.camera for f in faces})), (), tuple(faces)))["faces"],
        audit, {k: round(v, 4) for k, v in vars(times).items()}, round(time.perf_counter() - t_chunk, 3), video_start_ns,
    )  # fmt: skip
