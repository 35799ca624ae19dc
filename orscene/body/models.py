"""Parametric body models behind one interface: anny (default) and SMPL / SMPL-X.

Style of smplx's ``SMPLLayer``: the model data lives in buffers, loaded once by
:func:`load_body_model` and passed in; pose, shape and translation are call arguments.

Every model is expressed in orscene's world convention (metres, z up) and, at rest, faces
-y with the person's left towards +x. A model's pose is ``(B, n_pose, 3)`` rotation vectors
(index 0 the global orientation), its shape ``(B, n_shape)`` unconstrained reals, and its
translation ``(B, 3)`` metres.

**Face region** (forehead to chin, cheek to cheek). anny's UV segmentation labels only the
whole head, so the face is derived geometrically from the rest mesh. For anny the fit uses
the very definition of the synthetic ground truth, ``orscene.synth.face_region.anny_face_vertex_ids``
(head + eye-front parts; chin = lowest midline vertex in front of the eyes; forehead =
``z_eyes + 0.6 (z_eyes - z_chin)``; cheek to cheek = in front of the ears, within 0.85 of the
ear half-width, facing forward), so that the fit and the ground truth mean the same vertices.
SMPL / SMPL-X use the generic rule of :func:`derive_face_region` on their own head vertices
(those skinned mostly to the head joint): keep the head vertices

- in front of the ears: ``(p - ear_mid) . f >= 0.35 (nose - ear_mid) . f`` (``f`` = -y);
- between the cheeks: ``|x - eye_mid_x| <= 0.85 * half the ear-to-ear distance``;
- below the hairline: ``z <= eye_z + 0.85 * interocular distance``;
- above the chin: ``z >= chin_z``, the lowest head vertex near the midline in front.

The face UVs (:attr:`BodyModel.face_uv`) are a frontal planar projection of the region at the
neutral pose (identity pose parameters): ``u = (x - x_min) / (x_max - x_min)`` (+x is the
person's left, so u runs from the right cheek 0 to the left cheek 1),
``v = (z - z_min) / (z_max - z_min)`` (chin 0, forehead 1).

**Head frame** (``world_from_head``), as in the synthetic ground truth: in the model's
template pose (anny: the blend-shaped template before any bone transform), origin at the
centroid of the face region, +x the person's left (world +x), +y up (world +z), +z out of the
face (world -y). A posed head frame is that frame moved by the rigid (Kabsch) fit of the
template face vertices to the posed face vertices (for anny's face, skinned to the head bone,
this is the head bone's transform).
"""

import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from orscene._system import torch_device
from orscene.body.config import BodyModelConfig
from orscene.errors import ConfigError, ModelFileError

__all__ = [
    "BodyModelConfig",
    "BodyModel",
    "BodyOutput",
    "AnnyBodyModel",
    "SmplBodyModel",
    "load_body_model",
    "load_smpl_model",
    "derive_face_region",
    "rotvec_to_rotmat",
    "kabsch",
    "REST_HEAD_AXES",
    "ANNY_FIT_BONES",
    "SMPL_MODEL_FILES",
]

log = logging.getLogger(__name__)

REST_HEAD_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
"""Columns = head axes in world coordinates at rest: +x left (world +x), +y up (world +z),
+z out of the face (world -y)."""

ANNY_FIT_BONES: tuple[str, ...] = (
    "spine04", "spine02", "neck01", "head",
    "clavicle.L", "upperarm01.L", "lowerarm01.L",
    "clavicle.R", "upperarm01.R", "lowerarm01.R",
    "upperleg01.L", "lowerleg01.L", "upperleg01.R", "lowerleg01.R",
)  # fmt: skip
"""anny bones optimized by the fit (after the root); all others keep their rest pose."""

# Per-bone prior weight (relative): stiff spine and clavicles, free limbs and head.
_ANNY_PRIOR = {"spine04": 4.0, "spine02": 4.0, "neck01": 2.0, "head": 1.0, "clavicle.L": 8.0, "clavicle.R": 8.0}

SMPL_MODEL_FILES: dict[str, tuple[str, ...]] = {
    "smpl": ("SMPL_NEUTRAL.pkl", "SMPL_MALE.pkl", "SMPL_FEMALE.pkl", "SMPL_NEUTRAL.npz"),
    "smplx": ("SMPLX_NEUTRAL.npz", "SMPLX_MALE.npz", "SMPLX_FEMALE.npz", "SMPLX_NEUTRAL.pkl"),
}
"""File names looked for when ``BodyModelConfig.model_path`` is a folder."""

# SMPL / SMPL-X joint indices for COCO-17 body joints (shoulders ... ankles), then the
# vertex ids of nose, left eye, right eye, left ear, right ear (smplx.vertex_ids).
_SMPL_COCO_BODY_JOINTS = (16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)
_SMPL_FACE_VERTEX_IDS = {"smpl": (332, 2800, 6260, 583, 4071), "smplx": (9120, 9448, 9929, 6, 616)}
_SMPL_HEAD_JOINT = 15

# world_from_smpl: SMPL is y up and faces +z; our world is z up and a body at rest faces -y.
# x -> x, y -> z, z -> -y (a +90 deg rotation about x).
_WORLD_FROM_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass
class BodyOutput:
    """What a body model returns (torch tensors, world frame, metres)."""

    joints: torch.Tensor
    """(B, 17, 3) COCO-17 joints."""
    vertices: torch.Tensor | None = None
    """(B, V, 3) posed vertices (``full=True`` only)."""


def rotvec_to_rotmat(rotvec: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, ``(..., 3) -> (..., 3, 3)``, smooth at zero."""
    theta2 = (rotvec * rotvec).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    theta = torch.sqrt(theta2 + 1e-12)
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / (theta2 + 1e-12))
    x, y, z = rotvec[..., 0], rotvec[..., 1], rotvec[..., 2]
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*rotvec.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand_as(K)
    return eye + a * K + b * (K @ K)


def _rigid_inverse(T: torch.Tensor) -> torch.Tensor:
    """Inverse of rigid (..., 4, 4) transforms: ``[R^T | -R^T t]``."""
    Rt = T[..., :3, :3].transpose(-1, -2)
    out = torch.zeros_like(T)
    out[..., :3, :3] = Rt
    out[..., :3, 3] = -(Rt @ T[..., :3, 3:])[..., 0]
    out[..., 3, 3] = 1
    return out


def kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rigid ``dst_from_src`` (4, 4) minimizing ``sum |R src + t - dst|^2`` (no scale)."""
    cs, cd = src.mean(0), dst.mean(0)
    H = (src - cs).T.astype(np.float64) @ (dst - cd).astype(np.float64)
    U, _, Vt = np.linalg.svd(H)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = cd - R @ cs
    return T


def derive_face_region(
    rest_vertices: np.ndarray, head_vertex_ids: np.ndarray, rest_coco: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Face region (vertex ids, sorted) and its frontal UVs from a rest-pose mesh.

    ``rest_vertices`` (V, 3) and ``rest_coco`` (17, 3) are in the world convention, the body
    facing -y. The rule is in the module docstring.
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
    return ids, _frontal_uv(rest_vertices[ids])


def _frontal_uv(face_rest_vertices: np.ndarray) -> np.ndarray:
    """Frontal planar UVs of rest-pose face vertices (facing -y): u along +x, v along +z."""
    q = face_rest_vertices
    if q.shape[0] == 0:
        return np.zeros((0, 2), np.float32)
    lo, span = q.min(0), np.maximum(q.max(0) - q.min(0), 1e-9)
    uv = np.stack([(q[:, 0] - lo[0]) / span[0], (q[:, 2] - lo[2]) / span[2]], -1)
    return uv.astype(np.float32)


class BodyModel(torch.nn.Module):
    """Common interface (buffers + metadata). Subclasses implement :meth:`forward`.

    Attributes set by subclasses: ``name``, ``n_pose``, ``n_shape``, ``faces`` (F, 3) int32,
    ``head_vertex_ids``, ``face_vertex_ids``, ``face_uv`` (Vf, 2), ``rest_world_from_head``
    (4, 4) at the default shape, and the buffer ``pose_prior_weight`` (n_pose,).
    """

    name: str
    n_pose: int
    n_shape: int
    faces: np.ndarray
    head_vertex_ids: np.ndarray
    face_vertex_ids: np.ndarray
    face_uv: np.ndarray
    face_triangles: np.ndarray
    """(Ff, 3) triangles of the face region, indexing ``face_vertex_ids``."""

    @property
    def device(self) -> torch.device:
        return self.pose_prior_weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.pose_prior_weight.dtype

    def forward(self, pose: torch.Tensor, shape: torch.Tensor, transl: torch.Tensor, full: bool = False) -> BodyOutput:
        raise NotImplementedError

    def rest_state(self, shape: torch.Tensor):
        """Shape-dependent data reused across poses (opaque to callers)."""
        raise NotImplementedError

    def posed_joints(self, pose: torch.Tensor, transl: torch.Tensor, rest, rest_index: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 17, 3) COCO joints for poses over a precomputed :meth:`rest_state`."""
        raise NotImplementedError

    def mesh_state(self, shape: torch.Tensor):
        """Shape-dependent data for :meth:`posed_vertices` (one row per shape)."""
        raise NotImplementedError

    def posed_vertices(self, pose: torch.Tensor, transl: torch.Tensor, mesh) -> torch.Tensor:
        """(B, V, 3) posed vertices over a :meth:`mesh_state` of one row or B rows."""
        raise NotImplementedError

    def rest_output(self, shape: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) vertices at the identity pose, no translation."""
        B = shape.shape[0]
        zero = torch.zeros(B, self.n_pose, 3, dtype=self.dtype, device=self.device)
        return self.forward(zero, shape, torch.zeros(B, 3, dtype=self.dtype, device=self.device), full=True).vertices

    def template_vertices(self, shape: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) the shaped mesh in the model's template (rest) pose, where the head frame
        is defined (anny: its blend-shaped template, before any bone transform)."""
        return self.rest_output(shape)

    def world_from_head(self, rest_vertices: np.ndarray, posed_vertices: np.ndarray) -> np.ndarray:
        """Posed head frame (4, 4) from one mesh in its template pose (:meth:`template_vertices`)
        and posed (see module docstring)."""
        rest_face = rest_vertices[self.face_vertex_ids].astype(np.float64)
        rest_frame = np.eye(4)
        rest_frame[:3, :3] = REST_HEAD_AXES
        rest_frame[:3, 3] = rest_face.mean(0)
        return kabsch(rest_face, posed_vertices[self.face_vertex_ids].astype(np.float64)) @ rest_frame

    def _finish_face_setup(self, rest_vertices: np.ndarray, rest_coco: np.ndarray, face_vertex_ids: np.ndarray | None = None) -> None:
        ids, uv = derive_face_region(rest_vertices, self.head_vertex_ids, rest_coco)
        if face_vertex_ids is not None:
            ids, uv = np.sort(face_vertex_ids).astype(np.int64), _frontal_uv(rest_vertices[np.sort(face_vertex_ids)])
        self.face_vertex_ids, self.face_uv = ids, uv
        lookup = -np.ones(rest_vertices.shape[0], dtype=np.int64)
        lookup[self.face_vertex_ids] = np.arange(self.face_vertex_ids.size)
        tri = lookup[self.faces]
        self.face_triangles = tri[(tri >= 0).all(1)].astype(np.int32)


class AnnyBodyModel(BodyModel):
    """anny (bundled): pose = root rotation + the :data:`ANNY_FIT_BONES` rotation vectors in
    anny's 'local-ref' parameterization (world-aligned axes at rest); shape = logits of the
    six phenotype values (gender, age, muscle, weight, height, proportions; sigmoid -> [0, 1],
    0 = the average 0.5)."""

    def __init__(self, anny_model: torch.nn.Module, regressor: torch.nn.Module, topk: int = 48) -> None:
        super().__init__()
        import anny.face_segmentation
        from anny.skinning.skinning import dense_bone_weights

        m = anny_model
        if m.bone_orientation != "cached" or m.rest_orientation_refiner is not None or m.pose_parameterization != "local-ref":
            raise ConfigError("anny model: expected the default Anny() (cached bone orientation, 'local-ref' poses)")
        self.anny = m
        self.name = "anny"
        labels = list(m.bone_labels)
        self.fit_bone_ids = [labels.index(b) for b in ANNY_FIT_BONES]
        self.n_pose = 1 + len(self.fit_bone_ids)
        self.n_shape = len(m.phenotype_labels)
        dtype, device = m.dtype, m.device
        prior = [0.0] + [_ANNY_PRIOR.get(b, 1.0) for b in ANNY_FIT_BONES]
        self.register_buffer("pose_prior_weight", torch.tensor(prior, dtype=dtype, device=device), persistent=False)

        W = regressor.regression_weights[:17].to(dtype)  # (17, V) dense
        self.register_buffer("coco_weights", W, persistent=False)
        # Sparse regressor for the fit: top-k vertices per keypoint, renormalized.
        vals, idx = W.abs().topk(topk, dim=1)
        sub = torch.unique(idx.flatten())
        Ws = torch.zeros(17, sub.numel(), dtype=dtype, device=device)
        pos = torch.searchsorted(sub, idx)
        Ws.scatter_(1, pos, torch.gather(W, 1, idx))
        Ws = Ws / Ws.sum(1, keepdim=True)
        self.register_buffer("fit_vertex_ids", sub, persistent=False)
        self.register_buffer("fit_coco_weights", Ws, persistent=False)
        dense = dense_bone_weights(m.vertex_bone_weights, m.vertex_bone_indices, len(labels))
        self.register_buffer("fit_skin_weights", dense[sub].to(dtype), persistent=False)
        self.register_buffer("fit_template", m.template_vertices[sub].clone(), persistent=False)
        self.register_buffer("fit_blendshapes", m.blendshapes[:, sub].clone(), persistent=False)
        # reduced kinematics: each bone is driven by its nearest fitted ancestor (or itself)
        drivers = [0] + self.fit_bone_ids
        self.driver_bones = drivers
        parents = list(m.bone_parents)

        def driver_of(c: int) -> int:
            while c not in drivers:
                c = parents[c]
            return drivers.index(c)

        onehot = torch.zeros(len(labels), len(drivers), dtype=dtype, device=device)
        for c in range(len(labels)):
            onehot[c, driver_of(c)] = 1
        self.register_buffer("driver_onehot", onehot, persistent=False)
        skin_bones = m.vertex_bone_indices.long()  # (V, 9)
        self.register_buffer("skin_bones", skin_bones, persistent=False)
        self.register_buffer("skin_bone_weights", m.vertex_bone_weights.to(dtype), persistent=False)
        self.register_buffer("skin_driver", onehot.argmax(1)[skin_bones], persistent=False)
        self.fit_parent = [0] + [driver_of(parents[b]) for b in self.fit_bone_ids]
        if any(self.fit_parent[a] >= a for a in range(1, len(drivers))):
            raise ConfigError("ANNY_FIT_BONES must list parents before children")
        depth = [0] * len(drivers)
        for a in range(1, len(drivers)):
            depth[a] = depth[self.fit_parent[a]] + 1
        order = sorted(range(len(drivers)), key=lambda a: (depth[a], a))
        position = {a: i for i, a in enumerate(order)}
        self.fit_levels = []
        for d in range(1, max(depth) + 1):
            ids = [a for a in order if depth[a] == d]
            self.fit_levels.append((ids, [position[self.fit_parent[a]] for a in ids]))
        self.fit_level_inverse = [position[a] for a in range(len(drivers))]
        self.fit_level_order = order
        self.register_buffer("fit_ref_orient", m.reference_bone_orientations[drivers].to(dtype), persistent=False)

        self.faces = m.get_triangular_faces().cpu().numpy().astype(np.int32)
        mask = anny.face_segmentation.get_face_segmentation_mask(m, ["head", "eye_front.L", "eye_front.R"])
        seg = torch.unique(m.faces[mask].flatten())
        bones = [labels.index(b) for b in ("head", "eye.L", "eye.R")]
        head_w = dense[:, bones].sum(1)
        self.head_vertex_ids = np.sort(seg[head_w[seg] > 0.5].cpu().numpy()).astype(np.int64)

        with torch.no_grad():
            zero_shape = torch.zeros(1, self.n_shape, dtype=dtype, device=device)
            rest = self.rest_output(zero_shape)
            rest_coco = torch.einsum("kv,bvd->bkd", self.coco_weights, rest)[0].cpu().numpy()
        # the face region shared with the synthetic ground truth (same rule, same vertices)
        from orscene.synth.face_region import anny_face_vertex_ids

        self._finish_face_setup(rest[0].cpu().numpy(), rest_coco, anny_face_vertex_ids(m))

    def phenotype(self, shape: torch.Tensor) -> torch.Tensor:
        """Phenotype values in [0, 1] from the shape logits."""
        return torch.sigmoid(shape)

    def _deltas(self, pose: torch.Tensor, transl: torch.Tensor) -> torch.Tensor:
        B = pose.shape[0]
        nb = len(self.anny.bone_labels)
        D = torch.eye(4, dtype=pose.dtype, device=pose.device).repeat(B, nb, 1, 1)
        R = rotvec_to_rotmat(pose)
        # root: W_0 = [U0^T D0 U0 | U0^T d0] in 'local-ref'; choose D0, d0 so that W_0 = [R | transl]
        U0 = self.fit_ref_orient[0]
        D[:, 0, :3, :3] = U0 @ R[:, 0] @ U0.T
        D[:, 0, :3, 3] = transl @ U0.T
        D[:, self.fit_bone_ids, :3, :3] = R[:, 1:]
        return D

    def rest_state(self, shape: torch.Tensor, vertices: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Shape-dependent constants of the reduced kinematics used by :meth:`posed_joints`.

        anny's 'local-ref' chain is ``W_c = W_p K_c`` with ``K_c`` constant for every bone
        left at its neutral pose, so every bone's skinning transform is
        ``T_c = W_a (W0_a)^-1 T0_c``, ``a`` being its nearest fitted ancestor (or itself) and
        ``W0, T0`` the neutral-pose values. The COCO joints are then
        ``J_k = sum_a W_a[:3] z_ka`` with ``z_ka = sum_v r_kv (W0_a)^-1 sum_(c->a) w_vc T0_c [v; 1]``,
        and a fitted bone moves as ``W_a = W_f G_a [U_a^T D_a U_a | 0]`` with
        ``G_a = (W0_f)^-1 W0_a`` (``f`` its fitted ancestor, ``U_a`` its reference orientation).
        Returns ``(G (B, A, 4, 4), z (B, 17, A, 4))``, ``A = n_pose`` (root first).
        """
        import anny.utils.kinematics as kinematics
        import roma
        from anny.skinning.skinning import apply_linear_blendshape

        m = self.anny
        phen = self.phenotype(shape)
        B = phen.shape[0]
        empty = phen.new_zeros(B, 0)
        coeffs = m._get_phenotype_blendshape_coefficients(phen, empty, empty)
        heads = apply_linear_blendshape(m.template_bone_heads, m.bone_heads_blendshapes, coeffs)
        # rest bone orientations: their (small) dependence on the shape is left out of the
        # gradient (the eigen-solver's backward would dominate the cost of a shape step)
        with torch.no_grad():
            M = m.bone_template_orientation_matrices[None] + torch.einsum("ba,akij->bkij", coeffs, m.bone_orientation_blendshapes)
            R_rest = roma.special_procrustes(M)
        rest_poses = roma.Rigid(linear=R_rest, translation=heads).to_homogeneous()
        nb = len(m.bone_labels)
        eye = torch.eye(4, dtype=phen.dtype, device=phen.device).expand(B, nb, 4, 4)
        T0, W0 = kinematics.forward_kinematic(
            (m.kinematic_chain_levels, m.kinematic_chain_indices), rest_poses, eye, "local-ref", m.reference_bone_orientations
        )
        W0a = W0[:, self.driver_bones]  # (B, A, 4, 4)
        W0a_inv = _rigid_inverse(W0a)
        G = W0a_inv[:, self.fit_parent] @ W0a  # root: its own (unused)
        if vertices:
            rest_v = apply_linear_blendshape(m.template_vertices, m.blendshapes, coeffs)  # (B, V, 3)
            bones, bone_w, driver = self.skin_bones, self.skin_bone_weights, self.skin_driver
        else:
            rest_v = apply_linear_blendshape(self.fit_template, self.fit_blendshapes, coeffs)  # (B, Vs, 3)
            bones, bone_w, driver = self.skin_bones[self.fit_vertex_ids], self.skin_bone_weights[self.fit_vertex_ids], self.skin_driver[self.fit_vertex_ids]
        rest_h = torch.cat([rest_v, torch.ones_like(rest_v[..., :1])], -1)
        # per vertex and driver: the weighted neutral transforms of the bones it drives, applied
        Q = torch.einsum("bvkij,bvj->bvki", T0[:, bones], rest_h) * bone_w[None, ..., None]
        y = torch.zeros(B, Q.shape[1], self.n_pose, 4, dtype=Q.dtype, device=Q.device)
        y = y.scatter_add(2, driver[None, :, :, None].expand(B, -1, -1, 4), Q)
        y = torch.einsum("baij,bvaj->bvai", W0a_inv, y)
        if vertices:
            return G, y
        z = torch.einsum("kv,bvai->bkai", self.fit_coco_weights, y)
        return G, z

    def template_vertices(self, shape: torch.Tensor) -> torch.Tensor:
        from anny.skinning.skinning import apply_linear_blendshape

        m = self.anny
        phen = self.phenotype(shape)
        empty = phen.new_zeros(phen.shape[0], 0)
        coeffs = m._get_phenotype_blendshape_coefficients(phen, empty, empty)
        return apply_linear_blendshape(m.template_vertices, m.blendshapes, coeffs)

    def mesh_state(self, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`rest_state` for every mesh vertex: ``(G, y (B, V, A, 4))``."""
        return self.rest_state(shape, vertices=True)

    def posed_vertices(self, pose: torch.Tensor, transl: torch.Tensor, mesh: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """(B, V, 3) posed vertices from a :meth:`mesh_state` (B or 1 rows)."""
        G, y = mesh
        B = pose.shape[0]
        Wt = self._chain(pose, transl, G).permute(0, 2, 1, 3).reshape(B, 3, -1)  # (B, 3, A*4)
        return y.reshape(y.shape[0], y.shape[1], -1) @ Wt.transpose(1, 2)

    def _chain(self, pose: torch.Tensor, transl: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
        """(B, A, 3, 4) world poses ``W_a`` of the fitted bones (root first)."""
        B = pose.shape[0]
        R = rotvec_to_rotmat(pose)
        U = self.fit_ref_orient
        local = torch.zeros(B, self.n_pose, 4, 4, dtype=pose.dtype, device=pose.device)
        local[:, :, 3, 3] = 1
        local[:, 0, :3, :3] = R[:, 0]
        local[:, 0, :3, 3] = transl
        local[:, 1:, :3, :3] = U[1:].transpose(-1, -2) @ R[:, 1:] @ U[1:]
        local = torch.cat([local[:, :1], G[:, 1:].expand(B, -1, -1, -1) @ local[:, 1:]], 1)
        # chain product level by level: W_a = W_parent(a) local_a
        W = local[:, :1]
        for ids, par in self.fit_levels:
            W = torch.cat([W, W[:, par] @ local[:, ids]], 1)
        return W[:, self.fit_level_inverse, :3, :]  # back in pose order

    def posed_joints(self, pose: torch.Tensor, transl: torch.Tensor, rest: tuple[torch.Tensor, torch.Tensor],
                     rest_index: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        """(B, 17, 3) COCO joints; ``rest_index`` (B,) picks each item's row of ``rest``."""
        G, z = rest
        if rest_index is not None:
            G, z = G[rest_index], z[rest_index]
        B = pose.shape[0]
        Wt = self._chain(pose, transl, G).permute(0, 2, 1, 3).reshape(B, 3, -1)  # (B, 3, A*4)
        return z.reshape(z.shape[0], 17, -1) @ Wt.transpose(1, 2)

    def forward(self, pose: torch.Tensor, shape: torch.Tensor, transl: torch.Tensor, full: bool = False) -> BodyOutput:
        if full:
            out = self.anny(pose_parameters=self._deltas(pose, transl), phenotype_kwargs=self.phenotype(shape))
            verts = out["vertices"]
            return BodyOutput(joints=torch.einsum("kv,bvd->bkd", self.coco_weights, verts), vertices=verts)
        return BodyOutput(joints=self.posed_joints(pose, transl, self.rest_state(shape)))


class SmplBodyModel(BodyModel):
    """SMPL / SMPL-X from the user's model file, posed with ``smplx.lbs.lbs`` and turned into
    the world convention by one rotation (``_WORLD_FROM_SMPL``). pose = all body joints'
    rotation vectors (SMPL: 24; SMPL-X: its 22 body joints), shape = betas."""

    def __init__(self, data: dict, kind: str, path: Path, face_landmark_vertex_ids: tuple[int, ...] | None = None,
                 device: str = "cpu", n_betas: int = 10) -> None:  # fmt: skip
        super().__init__()
        self.name = kind
        dtype = torch.float32
        v_template = np.asarray(data["v_template"], dtype=np.float64)
        V = v_template.shape[0]
        shapedirs = np.asarray(data["shapedirs"], dtype=np.float64)[:, :, :n_betas]
        J_reg = data["J_regressor"]
        J_reg = np.asarray(J_reg.todense() if hasattr(J_reg, "todense") else J_reg, dtype=np.float64)
        weights = np.asarray(data["weights"], dtype=np.float64)
        kintree = np.asarray(data["kintree_table"]).astype(np.int64)
        parents = kintree[0].copy()
        parents[0] = -1
        n_joints = J_reg.shape[0]
        posedirs = np.asarray(data["posedirs"], dtype=np.float64)
        faces = np.asarray(data["f"]).astype(np.int64)
        checks = [
            (v_template.ndim == 2 and v_template.shape[1] == 3, "v_template (V, 3)"),
            (shapedirs.shape[:2] == (V, 3), "shapedirs (V, 3, n_betas)"),
            (J_reg.shape[1] == V and n_joints >= 22, "J_regressor (J>=22, V)"),
            (weights.shape == (V, n_joints), "weights (V, J)"),
            (parents.shape == (n_joints,), "kintree_table (2, J)"),
            (posedirs.shape[:2] == (V, 3) and posedirs.shape[2] == 9 * (n_joints - 1), "posedirs (V, 3, 9 (J-1))"),
            (faces.ndim == 2 and faces.shape[1] == 3 and faces.max() < V, "f (F, 3) indexing the vertices"),
        ]
        for ok, what in checks:
            if not ok:
                raise ModelFileError(f"not a valid {kind.upper()} model: expected {what}", path)
        if face_landmark_vertex_ids is None:
            if V not in (6890, 10475):
                raise ModelFileError(f"{V} vertices: pass face_landmark_vertex_ids for a non-standard mesh", path)
            face_landmark_vertex_ids = _SMPL_FACE_VERTEX_IDS["smpl" if V == 6890 else "smplx"]
        self.n_model_joints = n_joints
        self.n_pose = 24 if kind == "smpl" else 22
        self.n_shape = shapedirs.shape[2]
        t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
        self.register_buffer("v_template", t(v_template), persistent=False)
        self.register_buffer("shapedirs", t(shapedirs), persistent=False)
        self.register_buffer("posedirs", t(posedirs.reshape(V * 3, -1).T), persistent=False)
        self.register_buffer("J_regressor", t(J_reg), persistent=False)
        self.register_buffer("lbs_weights", t(weights), persistent=False)
        self.register_buffer("parents", torch.as_tensor(parents, device=device), persistent=False)
        self.register_buffer("world_from_smpl", t(_WORLD_FROM_SMPL), persistent=False)
        prior = np.ones(self.n_pose)
        prior[0] = 0.0
        for j in (10, 11, 22, 23):  # feet and hands: keep near rest
            if j < self.n_pose:
                prior[j] = 10.0
        self.register_buffer("pose_prior_weight", t(prior), persistent=False)
        self.landmark_ids = torch.as_tensor(face_landmark_vertex_ids, device=device)
        self.faces = faces.astype(np.int32)
        self.head_vertex_ids = np.nonzero(weights.argmax(1) == _SMPL_HEAD_JOINT)[0].astype(np.int64)
        with torch.no_grad():
            zero = torch.zeros(1, self.n_shape, dtype=dtype, device=device)
            rest = self.rest_output(zero)
            rest_coco = self.forward(torch.zeros(1, self.n_pose, 3, dtype=dtype, device=device), zero,
                                     torch.zeros(1, 3, dtype=dtype, device=device)).joints  # fmt: skip
        self._finish_face_setup(rest[0].cpu().numpy(), rest_coco[0].cpu().numpy())

    def rest_state(self, shape: torch.Tensor) -> torch.Tensor:
        return shape

    def mesh_state(self, shape: torch.Tensor) -> torch.Tensor:
        return shape

    def posed_vertices(self, pose: torch.Tensor, transl: torch.Tensor, mesh: torch.Tensor) -> torch.Tensor:
        return self.forward(pose, mesh.expand(pose.shape[0], -1), transl, full=True).vertices

    def posed_joints(self, pose: torch.Tensor, transl: torch.Tensor, rest: torch.Tensor,
                     rest_index: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        shape = rest if rest_index is None else rest[rest_index]
        return self.forward(pose, shape.expand(pose.shape[0], -1), transl).joints

    def forward(self, pose: torch.Tensor, shape: torch.Tensor, transl: torch.Tensor, full: bool = False) -> BodyOutput:
        from smplx.lbs import lbs

        B = pose.shape[0]
        full_pose = pose.new_zeros(B, self.n_model_joints, 3)
        full_pose[:, : self.n_pose] = pose
        verts, joints = lbs(shape, full_pose.reshape(B, -1), self.v_template, self.shapedirs, self.posedirs,
                            self.J_regressor, self.parents, self.lbs_weights)  # fmt: skip
        R = self.world_from_smpl
        verts = verts @ R.T + transl[:, None]
        joints = joints @ R.T + transl[:, None]
        coco = torch.cat([verts[:, self.landmark_ids], joints[:, list(_SMPL_COCO_BODY_JOINTS)]], 1)
        return BodyOutput(joints=coco, vertices=verts if full else None)


def load_smpl_model(path: str | Path, kind: str = "smpl", device: str = "cpu",
                    face_landmark_vertex_ids: tuple[int, ...] | None = None) -> SmplBodyModel:  # fmt: skip
    """Load an SMPL / SMPL-X model file (.pkl as distributed, or .npz with the same keys:
    v_template, f, shapedirs, posedirs, J_regressor, weights, kintree_table)."""
    path = Path(path).expanduser()
    if path.is_dir():
        found = [path / n for n in SMPL_MODEL_FILES[kind] if (path / n).is_file()]
        if not found:
            raise ModelFileError(f"no {kind.upper()} model file here; expected one of {', '.join(SMPL_MODEL_FILES[kind])}", path)
        path = found[0]
    if not path.is_file():
        raise ModelFileError(f"{kind.upper()} model file not found; expected one of {', '.join(SMPL_MODEL_FILES[kind])}", path)
    try:
        if path.suffix == ".npz":
            data = dict(np.load(path, allow_pickle=True))
        else:
            with open(path, "rb") as fh:
                data = pickle.load(fh, encoding="latin1")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's model file problem
        raise ModelFileError(f"cannot read {kind.upper()} model: {exc}", path) from exc
    missing = [k for k in ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table") if k not in data]
    if missing:
        raise ModelFileError(f"not a {kind.upper()} model: missing {', '.join(missing)}", path)
    return SmplBodyModel(data, kind, path, face_landmark_vertex_ids, device)


def load_body_model(cfg: BodyModelConfig) -> BodyModel:
    """Load the configured body model once (the pipeline passes it to the stages)."""
    if cfg.kind == "anny":
        from orscene.body.anny_cache import configure_anny_cache

        configure_anny_cache()
        import anny

        m = anny.Anny(skinning_method="lbs").to(device=torch_device(cfg.device), dtype=torch.float32)
        return AnnyBodyModel(m, anny.KeypointsRegressor.coco(m), cfg.keypoint_topk)
    if cfg.kind in ("smpl", "smplx"):
        if not cfg.model_path:
            raise ModelFileError(f"body model {cfg.kind!r} needs model_path: a file or folder with one of "
                                 f"{', '.join(SMPL_MODEL_FILES[cfg.kind])}")  # fmt: skip
        return load_smpl_model(cfg.model_path, cfg.kind, torch_device(cfg.device))
    raise ConfigError(f"unknown body model kind {cfg.kind!r} (anny, smpl, smplx)")


