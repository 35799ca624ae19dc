"""The face region of a body mesh (which vertices are "the face"), its UVs and the head frame.

One owner for the rule shared by the body fit (the face mesh that gets re-rendered) and the
synthetic ground truth (``orscene.synth``'s face boxes and head frames), so that both mean
the same vertices. Rest-pose body frame throughout: metres, z up, the body faces -y, +x is
the person's left.

**anny** (:func:`anny_face_vertex_ids`, on the rest pose of the default phenotype; anny's
topology is the same for every phenotype, so the vertex ids hold for everyone):

* candidates are the vertices of anny's ``head`` and ``eye_front.*`` body parts (anny's
  texture segmentation, ``anny/data/segmentation``); the eyeball backs, eye cavities, mouth
  cavity and tongue (:data:`FACE_EXCLUDED_PARTS`) are inside the head and excluded;
* **chin**: the lowest midline vertex (``|x| < 6 mm``) that still lies in front of the eye
  plane (``y < y_eyes``) -- below it the jaw line turns back towards the neck;
* **forehead**: ``z_eyes + 0.6 (z_eyes - z_chin)``, about the hairline;
* **cheek to cheek**: ``|x| < 0.85 |x_ear|`` and in front of the ears
  (``y < y_ears - 0.02``), facing forward (vertex normal ``n_y < -0.15``).

The eyes, ears and chin come from anny's COCO keypoint regressor on the same rest mesh.

**SMPL / SMPL-X** (:func:`derive_face_region`, generic: any mesh with COCO face keypoints)
keeps the head vertices (those skinned mostly to the head joint)

- in front of the ears: ``(p - ear_mid) . f >= 0.35 (nose - ear_mid) . f`` (``f`` = -y);
- between the cheeks: ``|x - eye_mid_x| <= 0.85 * half the ear-to-ear distance``;
- below the hairline: ``z <= eye_z + 0.85 * interocular distance``;
- above the chin: ``z >= chin_z``, the lowest head vertex near the midline in front.

**Face UVs** (:func:`frontal_uv`): a frontal planar projection of the region at the neutral
pose: ``u = (x - x_min) / (x_max - x_min)`` (+x is the person's left, so u runs from the
right cheek 0 to the left cheek 1), ``v = (z - z_min) / (z_max - z_min)`` (chin 0,
forehead 1).

**Head frame** (:data:`REST_HEAD_AXES`), as in the synthetic ground truth: in the model's
template pose, origin at the centroid of the face region, +x the person's left (world +x),
+y up (world +z), +z out of the face (world -y).
"""

import numpy as np

__all__ = [
    "REST_HEAD_AXES",
    "FACE_EXCLUDED_PARTS",
    "anny_face_vertex_ids",
    "anny_part_vertex_ids",
    "derive_face_region",
    "frontal_uv",
]

REST_HEAD_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
"""Columns = head axes in world coordinates at rest: +x left (world +x), +y up (world +z),
+z out of the face (world -y)."""

FACE_EXCLUDED_PARTS = ("eye_back.L", "eye_back.R", "eye_cavity.L", "eye_cavity.R", "mouth_cavity", "tongue")
"""anny body parts inside the head, never part of the visible face."""


def anny_part_vertex_ids(model, labels) -> np.ndarray:
    """Vertex ids of the triangles that anny's segmentation assigns to ``labels``."""
    from anny.face_segmentation import get_face_segmentation_mask

    tri_mask = get_face_segmentation_mask(model, list(labels)).cpu().numpy()
    faces = model.faces.cpu().numpy()
    return np.unique(faces[tri_mask]).astype(np.int64)


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = verts[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(verts)
    for c in range(3):
        np.add.at(vn, faces[:, c], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def anny_face_vertex_ids(model) -> np.ndarray:
    """Sorted int64 ids of anny's face-region vertices (forehead to chin, cheek to cheek).

    ``model`` is an ``anny.Anny`` (default topology). See the module docstring for the
    exact definition. Deterministic; about 1,000 vertices for the default topology.
    """
    import anny
    import torch

    with torch.no_grad():
        out = model()
        rest = out["vertices"][0].cpu().numpy().astype(np.float64)
        kp = anny.KeypointsRegressor.coco(model)(out)[0].cpu().numpy()
    faces = model.faces.cpu().numpy()
    eye_l, eye_r, ear_l, ear_r = kp[1], kp[2], kp[3], kp[4]
    z_eyes = 0.5 * (eye_l[2] + eye_r[2])
    y_eyes = 0.5 * (eye_l[1] + eye_r[1])
    y_ears = 0.5 * (ear_l[1] + ear_r[1])
    half_width = 0.85 * 0.5 * abs(ear_l[0] - ear_r[0])

    head = anny_part_vertex_ids(model, ["head"])
    eyes = anny_part_vertex_ids(model, ["eye_front.L", "eye_front.R"])
    inner = anny_part_vertex_ids(model, FACE_EXCLUDED_PARTS)
    cand = np.setdiff1d(np.union1d(head, eyes), np.setdiff1d(inner, eyes))
    p = rest[cand]
    midline = cand[(np.abs(p[:, 0]) < 0.006) & (p[:, 1] < y_eyes)]
    z_chin = float(rest[midline, 2].min())
    z_forehead = z_eyes + 0.6 * (z_eyes - z_chin)
    n = _vertex_normals(rest, faces)[cand]
    keep = (
        (p[:, 2] >= z_chin - 1e-6)
        & (p[:, 2] <= z_forehead)
        & (np.abs(p[:, 0]) < half_width)
        & (p[:, 1] < y_ears - 0.02)
        & (n[:, 1] < -0.15)
    )
    return np.sort(cand[keep]).astype(np.int64)


def derive_face_region(
    rest_vertices: np.ndarray, head_vertex_ids: np.ndarray, rest_coco: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Face region (vertex ids, sorted) and its frontal UVs from a rest-pose mesh.

    ``rest_vertices`` (V, 3) and ``rest_coco`` (17, 3) are in the world convention, the body
    facing -y. The rule (SMPL / SMPL-X) is in the module docstring.
    """
    nose, leye, reye, lear, rear = rest_coco[:5]
    f = np.array([0.0, -1.0, 0.0])
    ear_mid = 0.5 * (lear + rear)
    eye_mid = 0.5 * (leye + reye)
    depth_nose = float((nose - ear_mid) @ f)
    p = rest_vertices[head_vertex_ids]
    front = (p - ear_mid) @ f
    half_width = 0.5 * abs(lear[0] - rear[0])
    interocular = float(np.linalg.norm(leye - reye))
    mid = (np.abs(p[:, 0] - eye_mid[0]) < 0.015) & (front > 0.5 * depth_nose)
    chin_z = float(p[mid, 2].min()) if mid.any() else float(nose[2] - 2.2 * (eye_mid[2] - nose[2]))
    keep = (
        (front >= 0.35 * depth_nose)
        & (np.abs(p[:, 0] - eye_mid[0]) <= 0.85 * half_width)
        & (p[:, 2] <= eye_mid[2] + 0.85 * interocular)
        & (p[:, 2] >= chin_z)
    )
    ids = np.sort(head_vertex_ids[keep]).astype(np.int64)
    return ids, frontal_uv(rest_vertices[ids])


def frontal_uv(face_rest_vertices: np.ndarray) -> np.ndarray:
    """Frontal planar UVs (Vf, 2) float32 of rest-pose face vertices (Vf, 3) facing -y:
    u along +x, v along +z, each spanning [0, 1]."""
    q = face_rest_vertices
    if q.shape[0] == 0:
        return np.zeros((0, 2), np.float32)
    lo, span = q.min(0), np.maximum(q.max(0) - q.min(0), 1e-9)
    uv = np.stack([(q[:, 0] - lo[0]) / span[0], (q[:, 2] - lo[2]) / span[2]], -1)
    return uv.astype(np.float32)
