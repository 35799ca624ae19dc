"""The face region of the anny body model: which mesh vertices make up "the face".

One definition shared by the synthetic ground truth (face boxes) and the body fit (the
face mesh that gets re-rendered), so that both mean the same pixels.

Definition (on the rest pose of the default phenotype, body frame: metres, z up, the body
faces -y, +x is the person's left; anny's topology is the same for every phenotype, so the
vertex ids hold for everyone):

* candidates are the vertices of anny's ``head`` and ``eye_front.*`` body parts (anny's
  texture segmentation, ``anny/data/segmentation``); the eyeball backs, eye cavities, mouth
  cavity and tongue are inside the head and excluded;
* **chin**: the lowest midline vertex (``|x| < 6 mm``) that still lies in front of the eye
  plane (``y < y_eyes``) -- below it the jaw line turns back towards the neck;
* **forehead**: ``z_eyes + 0.6 (z_eyes - z_chin)``, about the hairline;
* **cheek to cheek**: ``|x| < 0.85 |x_ear|`` and in front of the ears
  (``y < y_ears - 0.02``), facing forward (vertex normal ``n_y < -0.15``).

The eyes, ears and chin come from anny's COCO keypoint regressor on the same rest mesh.
"""

import numpy as np

__all__ = ["anny_face_vertex_ids", "anny_part_vertex_ids", "FACE_EXCLUDED_PARTS"]

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
