"""Heads: every source of head evidence fused into 3D head tracks.

Faces found in 2D lifted to 3D (:mod:`.lift`), people found in the depth foreground
(:mod:`.depth_people`) and the face keypoints of fused 3D skeletons are associated per
frame-set in 3D, checked against free space in the depth views, and tracked over time
(:mod:`.track`). Takes frame-sets, cameras and 2D evidence; returns ``HeadTrack``.
"""

from orscene.heads.depth_people import DepthBackground, DepthPeopleConfig, find_depth_heads, learn_depth_background
from orscene.heads.lift import LiftConfig, lift_faces, triangulate_faces

__all__ = [
    "DepthBackground",
    "DepthPeopleConfig",
    "LiftConfig",
    "find_depth_heads",
    "learn_depth_background",
    "lift_faces",
    "triangulate_faces",
]
