"""anny (bundled) as a :class:`~orscene.body.models.BodyModel`, and the one place that
creates anny models from orscene's cache (:func:`create_anny`), for the body fit and for the
synthetic sessions alike.

Pose = root rotation + the :data:`ANNY_FIT_BONES` rotation vectors in anny's 'local-ref'
parameterization; shape = logits of anny's six phenotype values. The face region is
:func:`orscene.body.face_region.anny_face_vertex_ids`, the same vertices as the synthetic
ground truth's.
"""

import numpy as np
import torch

from orscene.body.face_region import anny_face_vertex_ids
from orscene.body.models import BodyModel, BodyOutput
from orscene.body.rotation import rigid_inverse, rotvec_to_rotmat
from orscene.errors import ConfigError

__all__ = ["ANNY_FIT_BONES", "AnnyBodyModel", "create_anny", "load_anny_body_model"]

ANNY_FIT_BONES: tuple[str, ...] = (
    "spine04", "spine02", "neck01", "head",
    "clavicle.L", "upperarm01.L", "lowerarm01.L",
    "clavicle.R", "upperarm01.R", "lowerarm01.R",
    "upperleg01.L", "lowerleg01.L", "upperleg01.R", "lowerleg01.R",
)  # fmt: skip
"""anny bones optimized by the fit (after the root); all others keep their rest pose."""

# Per-bone prior weight (relative): stiff spine and clavicles, free limbs and head.
_ANNY_PRIOR = {"spine04": 4.0, "spine02": 4.0, "neck01": 2.0, "head": 1.0, "clavicle.L": 8.0, "clavicle.R": 8.0}


def create_anny(device: str = "cpu", skinning_method: str | None = "lbs") -> torch.nn.Module:
    """A default ``anny.Anny`` (float32 on ``device``) built from orscene's cache.

    ``skinning_method`` is anny's: ``"lbs"`` (dense linear blend skinning, what the body fit
    uses) or None (anny's default: NVIDIA Warp's LBS when installed, what the synthetic
    sessions use). A truncated or unreadable cache file raises
    :class:`~orscene.errors.ModelFileError` naming it (:func:`~orscene.body.anny_cache.check_anny_cache_files`).
    """
    from orscene.body.anny_cache import check_anny_cache_files, configure_anny_cache

    configure_anny_cache()
    check_anny_cache_files()
    import anny

    return anny.Anny(skinning_method=skinning_method).to(device=device, dtype=torch.float32)


def load_anny_body_model(device: str = "cpu", keypoint_topk: int = 48,
                         skinning_method: str | None = "lbs") -> "AnnyBodyModel":  # fmt: skip
    """:class:`AnnyBodyModel` over :func:`create_anny` with anny's COCO-17 regressor."""
    import anny

    m = create_anny(device, skinning_method)
    return AnnyBodyModel(m, anny.KeypointsRegressor.coco(m), keypoint_topk)


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
        self.keypoint_regressor = regressor
        """anny's COCO regressor (``regressor(anny_output)`` -> (B, K, 3) keypoints)."""
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
        W0a_inv = rigid_inverse(W0a)
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

