"""Heads: every source of head evidence fused into 3D head tracks.

Faces found in 2D lifted to 3D (:mod:`.lift`), people found in the depth foreground
(:mod:`.depth_people`) and the face keypoints of fused 3D skeletons are associated per
frame-set in 3D, checked against free space in the depth views, and tracked over time
(:mod:`.track`); :mod:`.find` runs them. Takes frame-sets, cameras and 2D evidence;
returns ``orscene.types.HeadTrack``.
"""

from orscene.heads.depth_people import DepthBackground, DepthPeopleConfig, find_depth_heads, learn_depth_background, sample_framesets
from orscene.heads.find import HeadsConfig, find_heads, head_evidence, heads_in_frameset
from orscene.heads.lift import LiftConfig, lift_face_with_depth, lift_faces, triangulate_faces
from orscene.heads.track import FusedHead, TrackHeadsConfig, associate_heads, heads_from_poses, is_ghost, reject_ghosts, track_heads

__all__ = [
    "DepthBackground",
    "DepthPeopleConfig",
    "FusedHead",
    "HeadsConfig",
    "LiftConfig",
    "TrackHeadsConfig",
    "associate_heads",
    "find_depth_heads",
    "find_heads",
    "head_evidence",
    "heads_from_poses",
    "heads_in_frameset",
    "is_ghost",
    "learn_depth_background",
    "lift_face_with_depth",
    "lift_faces",
    "reject_ghosts",
    "sample_framesets",
    "track_heads",
    "triangulate_faces",
]
