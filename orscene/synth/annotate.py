"""Ground-truth annotation of rendered views: visible face boxes and 2D keypoints.

Face box of a person in a view = the bounding box of the pixels where the renderer's id
buffer shows that person's face region (``orscene.body.face_region.anny_face_vertex_ids``), i.e. only
unoccluded face pixels (``Box.around_mask``, pixel-edge convention, ``docs/conventions.md``),
returned as ground-truth :class:`orscene.types.FaceBox` records.

* ``visible_fraction`` = visible face pixels / projected area of the face's front-facing
  triangles (lens distortion included; clipped to 1). Parts outside the image count as
  not visible.
* No box when no face pixel is visible, or when the face is turned away from the camera
  (the angle between the face's +z axis and the direction to the camera exceeds 100 deg).
* ``ignore`` when the box is a sliver: its shorter side is below ``min_side_px``, the
  visible fraction is below 0.2, or the face is seen nearly edge-on (more than 88 deg off
  its axis): a face looking down at the table seen from a high camera still counts.
"""

from dataclasses import dataclass

import numpy as np

from orscene.geometry.camera import project_world
from orscene.types import Box, Camera, FaceBox, FaceSource

__all__ = ["FaceAnnotationConfig", "annotate_faces", "annotate_keypoints", "face_triangles"]


@dataclass(frozen=True)
class FaceAnnotationConfig:
    turned_away_deg: float = 100.0
    """Beyond this angle between face axis and camera direction: no box."""
    oblique_deg: float = 88.0
    """Beyond this angle: the box is flagged ignore."""
    min_visible_fraction: float = 0.2
    """Below this visible fraction the box is flagged ignore."""
    min_side_px_at_720: float = 10.0
    """Shorter box side below this (scaled by image height / 720) is flagged ignore."""


def face_triangles(faces: np.ndarray, face_vertex_ids: np.ndarray) -> np.ndarray:
    """Triangles whose three corners are face-region vertices."""
    flag = np.zeros(int(faces.max()) + 1, bool)
    flag[face_vertex_ids] = True
    return faces[flag[faces].all(axis=1)]


def _front_area_px(cam: Camera, verts_world: np.ndarray, tris: np.ndarray) -> float:
    tri = verts_world[tris].astype(np.float64)
    ctr = tri.mean(axis=1)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    front = np.einsum("ij,ij->i", n, cam.center_world_m[None] - ctr) > 0
    if not front.any():
        return 0.0
    uv, z = project_world(cam, tri[front].reshape(-1, 3))
    uv = uv.reshape(-1, 3, 2)
    ok = np.isfinite(uv).all(axis=(1, 2))
    a = uv[ok, 1] - uv[ok, 0]
    b = uv[ok, 2] - uv[ok, 0]
    return float(0.5 * np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum())


def annotate_faces(cam: Camera, ids: np.ndarray, person_ids: np.ndarray, vertices_world_m: np.ndarray,
                   world_from_head: np.ndarray, face_tris: np.ndarray,
                   cfg: FaceAnnotationConfig = FaceAnnotationConfig(), frame: int = 0) -> tuple[list[FaceBox], np.ndarray]:  # fmt: skip
    """Face boxes of all persons in one colour view, as ground-truth FaceBox records of
    frame-set ``frame`` and camera ``cam.name`` (``person`` = the person id). Returns the
    boxes and (P,) visible fractions (0 where no face pixel is visible or the face is
    turned away)."""
    H, W = ids.shape[:2]
    face_pid = np.where(ids[..., 1] == 1, ids[..., 0].astype(np.int32), 0)
    present_ids, counts = np.unique(face_pid[face_pid > 0], return_counts=True)
    count_of = dict(zip(present_ids.tolist(), counts.tolist()))
    out: list[FaceBox] = []
    fractions = np.zeros(len(person_ids))
    cos_away = np.cos(np.deg2rad(cfg.turned_away_deg))
    cos_oblique = np.cos(np.deg2rad(cfg.oblique_deg))
    min_side = cfg.min_side_px_at_720 * H / 720.0
    for p, pid in enumerate(person_ids):
        n = count_of.get(int(pid) + 1, 0)
        if n == 0:
            continue
        c = world_from_head[p, :3, 3]
        to_cam = cam.center_world_m - c
        cosang = float(world_from_head[p, :3, 2] @ to_cam / np.linalg.norm(to_cam))
        if cosang < cos_away:
            continue
        box = Box.around_mask(face_pid == int(pid) + 1)
        area = _front_area_px(cam, vertices_world_m[p], face_tris)
        frac = float(min(1.0, n / area)) if area > 0 else 1.0
        fractions[p] = frac
        side = min(box.width, box.height)
        ignore = side < min_side or frac < cfg.min_visible_fraction or cosang < cos_oblique
        out.append(FaceBox(frame, cam.name, int(pid), box, 1.0, frac, bool(ignore), FaceSource.GROUND_TRUTH))
    return out, fractions


def annotate_keypoints(cam: Camera, ids: np.ndarray, z_m: np.ndarray, person_ids: np.ndarray,
                       joints_world_m: np.ndarray, tolerance_m: float = 0.12) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Project (P, 17, 3) joints into a view: ``(uv_px (P, 17, 2), visibility (P, 17) int8)``.

    COCO visibility: 0 outside the image (or behind the camera), 1 inside but hidden,
    2 visible: the pixel shows this person, or a surface no more than ``tolerance_m`` in
    front of the joint (joints lie inside the body).
    """
    H, W = ids.shape[:2]
    uv, z = project_world(cam, joints_world_m)
    vis = np.zeros(joints_world_m.shape[:2], np.int8)
    inside = np.isfinite(uv).all(axis=-1) & (z > 0)
    inside &= (uv[..., 0] > -0.5) & (uv[..., 0] < W - 0.5) & (uv[..., 1] > -0.5) & (uv[..., 1] < H - 0.5)
    vis[inside] = 1
    P = joints_world_m.shape[0]
    for p in range(P):
        for j in np.nonzero(inside[p])[0]:
            c = int(np.clip(np.rint(uv[p, j, 0]), 0, W - 1))
            r = int(np.clip(np.rint(uv[p, j, 1]), 0, H - 1))
            surf = z_m[r, c]
            if ids[r, c, 0] == person_ids[p] + 1 or surf <= 0 or surf >= z[p, j] - tolerance_m:
                vis[p, j] = 2
    return uv.astype(np.float32), vis
