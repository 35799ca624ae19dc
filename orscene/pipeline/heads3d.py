"""The head stage (:mod:`orscene.heads`) wired into the three phases of ``cli.py process``.

* Before phase A (serial, once per session): the depth background, learned from
  ``heads.background_samples`` frame-sets spread over the session
  (:func:`learn_background`).
* Phase A (per chunk), on keyframes: every head of the frame-set from every source --
  the face detectors' boxes lifted with the registered depth (triangulated across views
  without it), people found in the depth foreground against the background, the heads of
  the fused 3D keypoint candidates -- associated in 3D, ghosts rejected against free space
  (:func:`frameset_heads`). The depth is registered whole once per view there.
* Phase B (serial): head tracks over the session, per stretch between time gaps, numbered
  after the skeleton tracks so that a head track's id is a person id of its own
  (:func:`track_session_heads`).
* Phase C (per chunk, per frame-set and view): a head that no tracked skeleton explains
  (none has its head within ``link_m``: BlazePose missed that person) is covered in 2D in
  every calibrated view where it projects into the image and depth does not clearly hide it
  (:func:`view_head_regions`); its face box is reported (``FaceSource.HEAD_3D``) only
  where the face may point at the camera. A skeleton's head is the skeleton path's own
  (render3d or head2d).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from orscene import heads
from orscene.heads import HeadsConfig
from orscene.heads.cover import CoverConfig, HeadAt, estimate_face_box, head_in_view, heads_at
from orscene.pipeline.fallback import HeadRegion, head_center_world
from orscene.types import Camera, FrameSet, HeadTrack, View

__all__ = [
    "Heads3DConfig",
    "SessionHeads",
    "Head3DRegion",
    "learn_background",
    "frameset_heads",
    "track_session_heads",
    "session_heads_from_chunks",
    "heads_for_frameset",
    "view_head_regions",
    "depth_spheres",
]


@dataclass(frozen=True)
class Heads3DConfig:
    """3D head tracks in ``cli.py process``."""

    enabled: bool = True
    """Track heads from every source and cover those no skeleton explains (False: only the
    skeletons and the face detectors, as before)."""
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    """Evidence, association, ghost rejection and tracking (``orscene.heads``)."""
    cover: CoverConfig = field(default_factory=CoverConfig)
    """Interpolation between keyframes, the covered sphere, visibility and the face box."""
    link_m: float = 0.3
    """A tracked skeleton whose head centre lies within this distance of a head explains it."""


@dataclass(frozen=True)
class SessionHeads:
    """Phase B's head tracks."""

    tracks: tuple[HeadTrack, ...]
    skeleton: Mapping[int, np.ndarray] = field(default_factory=dict)
    """Head track id -> (T,) int64: the skeleton track near the head at each of the
    track's frame-sets (-1: none)."""


# ---------------------------------------------------------------- before phase A
def _with_whole_depth(fs: FrameSet, cameras: Mapping[str, Camera], doubt=None) -> FrameSet:
    """``fs`` restricted to calibrated views, each depth view's depth registered whole once;
    a depth implausible as a whole (``doubt(depth) -> reason``) reads as none."""
    views = {}
    for name, v in fs.views.items():
        if name not in cameras:
            continue
        d = heads.depth_people.view_depth(v)
        if d is not None and doubt is not None and doubt(d):
            d = None
        views[name] = replace(v, depth_m=d, depth_in_boxes=None)
    return FrameSet(fs.index, fs.timestamp_ns, views)


def learn_background(reader, n_framesets: int, cfg: Heads3DConfig, doubt=None) -> heads.DepthBackground | None:
    """The session's depth background from ``cfg.heads.background_samples`` frame-sets
    spread over its first ``n_framesets``; None when disabled or no camera has depth."""
    cameras = reader.calibration.cameras
    if not cfg.enabled or not cfg.heads.use_depth or not any(c.has_depth for c in cameras.values()):
        return None
    sampled = heads.sample_framesets(n_framesets, cfg.heads.background_samples)

    def framesets():
        for k in sampled:
            for fs in reader.framesets(k, k + 1, with_depth=lambda i: False):
                yield _with_whole_depth(fs, cameras, doubt)

    bg = heads.learn_depth_background(framesets(), cameras, cfg.heads.depth)
    return bg if bg.far_m else None


# ---------------------------------------------------------------- phase A
def frameset_heads(
    fs: FrameSet,
    cameras: Mapping[str, Camera],
    faces2d: Mapping[str, Sequence | None] | None,
    candidates: Sequence,
    background: heads.DepthBackground | None,
    cfg: Heads3DConfig,
    doubt=None,
) -> list[heads.FusedHead]:
    """One frame-set's heads from every source (associated, ghosts rejected), without their
    observations (kept small for phase B)."""
    full = _with_whole_depth(fs, cameras, doubt)
    f2 = {k: v for k, v in (faces2d or {}).items() if v}
    found = heads.heads_in_frameset(full, cameras, cfg.heads, f2, list(candidates), background)
    return [replace(h, observations=()) for h in found]


# ---------------------------------------------------------------- phase B
def track_session_heads(
    per_frameset: Mapping[int, Sequence[heads.FusedHead]],
    timestamps_ns: np.ndarray,
    every: Sequence[int],
    skeleton_tracks: Sequence,
    cfg: Heads3DConfig,
    pose_tracking_cfg=None,
) -> SessionHeads:
    """Head tracks over the session: ``per_frameset`` (frame-set index -> heads, the
    evidence frame-sets), tracked per stretch of ``every`` (the processed frame-set
    indices) between time gaps longer than the tracker's ``max_gap_s``; ids numbered after
    the skeleton tracks'. Each track row is linked to the skeleton track whose head is
    within ``link_m`` (``SessionHeads.skeleton``)."""
    from orscene import pose

    if not per_frameset or not every:
        return SessionHeads(())
    tcfg = cfg.heads.track
    stamps = np.asarray(timestamps_ns, np.int64)
    every = sorted(every)
    ev = np.asarray(every)
    gap_after = np.flatnonzero(np.diff(stamps[ev]) > round(tcfg.max_gap_s * 1e9))
    bounds = [every[0], *(every[k + 1] for k in gap_after), every[-1] + 1]
    first_id = 1 + max((t.track_id for t in skeleton_tracks), default=-1)
    out: list[HeadTrack] = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        rows = [(i, int(stamps[i]), per_frameset[i]) for i in sorted(per_frameset) if lo <= i < hi]
        if rows:
            out += heads.track_heads(rows, tcfg, first_track_id=first_id + len(out))
    link: dict[int, np.ndarray] = {}
    pcfg = pose_tracking_cfg if pose_tracking_cfg is not None else pose.TrackingConfig()
    for tr in out:
        ids = np.full(len(tr), -1, np.int64)
        for k, f in enumerate(tr.frame_indices):
            best = cfg.link_m
            for p in pose.poses_at(skeleton_tracks, int(f), pcfg):
                c = head_center_world(p, 0.2)
                if c is not None and (d := float(np.linalg.norm(c - tr.center_world_m[k]))) <= best:
                    ids[k], best = p.track_id, d
        link[tr.track_id] = ids
    return SessionHeads(tuple(out), link)


def session_heads_from_chunks(pose_chunks: Sequence, skeleton_tracks: Sequence, cfg: Heads3DConfig, pose_tracking_cfg=None) -> SessionHeads:
    """:func:`track_session_heads` over phase A's results (``PoseChunk``: their ``heads``,
    the frame-sets they cover and the session's timestamps)."""
    per: dict[int, list] = {}
    every: list[int] = []
    stamps = None
    for pc in sorted(pose_chunks, key=lambda p: p.chunk.start):
        every.extend(range(pc.chunk.start, pc.chunk.stop))
        stamps = pc.timestamps_ns if pc.timestamps_ns is not None else stamps
        per.update(pc.heads)
    if not cfg.enabled or stamps is None:
        return SessionHeads(())
    return track_session_heads(per, stamps, every, skeleton_tracks, cfg, pose_tracking_cfg)


# ---------------------------------------------------------------- phase C
def heads_for_frameset(session_heads: SessionHeads | None, index: int, timestamp_ns: int, poses: Sequence, cfg: Heads3DConfig, min_joint_confidence: float = 0.2) -> list[HeadAt]:
    """The heads at frame-set ``index`` that no tracked skeleton of ``poses`` explains
    (their head centre farther than ``link_m``): the ones the head stage must cover."""
    if session_heads is None or not cfg.enabled:
        return []
    centres = [c for p in poses if (c := head_center_world(p, min_joint_confidence)) is not None]
    out = []
    for h in heads_at(session_heads.tracks, index, timestamp_ns, cfg.cover):
        if any(np.linalg.norm(h.center_world_m - c) <= cfg.link_m for c in centres):
            continue
        out.append(h)
    return out


def depth_spheres(heads_now: Sequence[HeadAt], cfg: Heads3DConfig) -> np.ndarray:
    """World spheres ``(K, 4)`` holding the depth the visibility of ``heads_now`` reads."""
    r = cfg.cover.cover_radius_m + 0.05
    return np.asarray([[*h.center_world_m, r] for h in heads_now], np.float64).reshape(-1, 4)


@dataclass(frozen=True)
class Head3DRegion:
    """A head to cover in one view."""

    track_id: int
    region: HeadRegion
    """The projected cover sphere (``head_box_xyxy_px``) and the estimated face box."""
    report: bool
    """Whether the face may point at this camera: its face box goes to ``faces.json``."""


def view_head_regions(heads_now: Sequence[HeadAt], view: View | None, camera: Camera | None, cfg: Heads3DConfig) -> list[Head3DRegion]:
    """The heads of ``heads_now`` to cover in one view: every one whose cover sphere
    projects into the calibrated ``camera``'s image and that the view's depth does not
    clearly hide (a view without depth hides nothing). An uncalibrated view gets none (the
    face detectors cover it)."""
    if camera is None:
        return []
    out = []
    for h in heads_now:
        hv = head_in_view(h, camera, view, cfg.cover)
        if hv is None or hv.hidden:
            continue
        box = estimate_face_box(h, camera, cfg.cover)
        face = box if box is not None else _centre_box(hv)
        out.append(Head3DRegion(h.track_id, HeadRegion(hv.head_box_xyxy_px, face, hv.center_px, hv.radius_px), box is not None))
    return out


def _centre_box(hv) -> tuple[float, float, float, float]:
    u, v = hv.center_px
    r = 0.5 * hv.radius_px
    return (u - r, v - r, u + r, v + r)
