"""The head stage's entry points: every source of evidence for one frame-set, and head
tracks over a session."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from orscene.heads.depth_people import DepthBackground, DepthPeopleConfig, find_depth_heads
from orscene.heads.lift import LiftConfig, lift_faces
from orscene.heads.track import FusedHead, TrackHeadsConfig, associate_heads, heads_from_poses, reject_ghosts, track_heads
from orscene.types import Camera, FrameSet, HeadObservation, HeadSource, HeadTrack, PersonPose, PoseCandidate

__all__ = ["HeadsConfig", "head_evidence", "heads_in_frameset", "find_heads"]

ALL_SOURCES = HeadSource.LIFTED_FACE | HeadSource.DEPTH | HeadSource.KEYPOINTS


@dataclass(frozen=True)
class HeadsConfig:
    """The head stage: which sources to use and how each works."""

    lift: LiftConfig = field(default_factory=LiftConfig)
    depth: DepthPeopleConfig = field(default_factory=DepthPeopleConfig)
    track: TrackHeadsConfig = field(default_factory=TrackHeadsConfig)
    use_lifted_faces: bool = True
    use_depth: bool = True
    use_keypoints: bool = True
    reject_ghosts: bool = True
    """Drop heads that a depth view sees through (``orscene.heads.track.is_ghost``)."""
    background_samples: int = 24
    """Frame-sets sampled across the session for the depth background."""

    @property
    def sources(self) -> HeadSource:
        s = HeadSource.NONE
        if self.use_lifted_faces:
            s |= HeadSource.LIFTED_FACE
        if self.use_depth:
            s |= HeadSource.DEPTH
        if self.use_keypoints:
            s |= HeadSource.KEYPOINTS
        return s


def head_evidence(
    frames: FrameSet,
    cameras: Mapping[str, Camera],
    cfg: HeadsConfig,
    faces2d: Mapping[str, Sequence | None] | None = None,
    poses: Sequence[PoseCandidate | PersonPose] = (),
    background: DepthBackground | None = None,
) -> list[HeadObservation]:
    """Every observation of a head in one frame-set, from the enabled sources that have
    input: face detections per view (``faces2d``: camera -> ``(box_xyxy_px, score)``
    list), 3D skeletons (``poses``), the depth background (``background``)."""
    out: list[HeadObservation] = []
    if cfg.use_lifted_faces and faces2d:
        out += lift_faces(frames, cameras, faces2d, cfg.lift)
    if cfg.use_depth and background is not None and background.far_m:
        out += find_depth_heads(frames, cameras, background, cfg.depth)
    if cfg.use_keypoints and poses:
        out += heads_from_poses(poses, cfg.track)
    return out


def heads_in_frameset(
    frames: FrameSet,
    cameras: Mapping[str, Camera],
    cfg: HeadsConfig,
    faces2d: Mapping[str, Sequence | None] | None = None,
    poses: Sequence[PoseCandidate | PersonPose] = (),
    background: DepthBackground | None = None,
) -> list[FusedHead]:
    """One frame-set's heads: evidence associated in 3D, ghosts rejected."""
    heads = associate_heads(head_evidence(frames, cameras, cfg, faces2d, poses, background), cfg.track)
    return reject_ghosts(heads, frames, cameras, cfg.track) if cfg.reject_ghosts else heads


def find_heads(
    frames: Iterable[FrameSet],
    cameras: Mapping[str, Camera],
    cfg: HeadsConfig,
    faces2d: Mapping[int, Mapping[str, Sequence | None]] | None = None,
    poses: Mapping[int, Sequence[PoseCandidate | PersonPose]] | None = None,
    background: DepthBackground | None = None,
) -> list[HeadTrack]:
    """Head tracks over frame-sets (in increasing index order). ``faces2d`` and ``poses``
    are keyed by frame-set index; ``background`` from ``learn_depth_background``."""
    per = []
    for fs in frames:
        f2 = (faces2d or {}).get(fs.index)
        ps = (poses or {}).get(fs.index, ())
        per.append((fs.index, fs.timestamp_ns, heads_in_frameset(fs, cameras, cfg, f2, ps, background)))
    return track_heads(per, cfg.track)
