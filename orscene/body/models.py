"""Parametric body models behind one interface (:class:`BodyModel`) and the one loader
(:func:`load_body_model`): anny (default, :mod:`orscene.body.anny_model`) and SMPL / SMPL-X
(:mod:`orscene.body.smpl`).

Style of smplx's ``SMPLLayer``: the model data lives in buffers, loaded once by
:func:`load_body_model` and passed in; pose, shape and translation are call arguments.

Every model is expressed in orscene's world convention (metres, z up) and, at rest, faces
-y with the person's left towards +x. A model's pose is ``(B, n_pose, 3)`` rotation vectors
(index 0 the global orientation), its shape ``(B, n_shape)`` unconstrained reals, and its
translation ``(B, 3)`` metres.

The face region, its UVs and the rest head frame are defined in
:mod:`orscene.body.face_region`. A posed head frame (``world_from_head``) is the rest frame
moved by the rigid (Kabsch) fit of the template face vertices to the posed face vertices
(for anny's face, skinned to the head bone, this is the head bone's transform); the
template pose is the model's rest pose (anny: the blend-shaped template before any bone
transform).
"""

from dataclasses import dataclass

import numpy as np
import torch

from orscene._system import torch_device
from orscene.body.config import BodyModelConfig
from orscene.body.face_region import REST_HEAD_AXES, derive_face_region, frontal_uv
from orscene.body.rotation import kabsch
from orscene.errors import ConfigError, ModelFileError

__all__ = ["BodyModelConfig", "BodyModel", "BodyOutput", "load_body_model"]


@dataclass
class BodyOutput:
    """What a body model returns (torch tensors, world frame, metres)."""

    joints: torch.Tensor
    """(B, 17, 3) COCO-17 joints."""
    vertices: torch.Tensor | None = None
    """(B, V, 3) posed vertices (``full=True`` only)."""


class BodyModel(torch.nn.Module):
    """Common interface (buffers + metadata). Subclasses implement :meth:`forward`.

    Attributes set by subclasses: ``name``, ``n_pose``, ``n_shape``, ``faces`` (F, 3) int32,
    ``head_vertex_ids``, and the buffer ``pose_prior_weight`` (n_pose,); ``face_vertex_ids``,
    ``face_uv`` (Vf, 2) and ``face_triangles`` come from :meth:`_finish_face_setup`.
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
        """Face region (``face_vertex_ids``, or :func:`derive_face_region`'s rule), its UVs and
        triangles, from the rest mesh (V, 3) and its COCO joints (17, 3)."""
        if face_vertex_ids is None:
            ids, uv = derive_face_region(rest_vertices, self.head_vertex_ids, rest_coco)
        else:
            ids = np.sort(face_vertex_ids).astype(np.int64)
            uv = frontal_uv(rest_vertices[ids])
        self.face_vertex_ids, self.face_uv = ids, uv
        lookup = -np.ones(rest_vertices.shape[0], dtype=np.int64)
        lookup[self.face_vertex_ids] = np.arange(self.face_vertex_ids.size)
        tri = lookup[self.faces]
        self.face_triangles = tri[(tri >= 0).all(1)].astype(np.int32)


def load_body_model(cfg: BodyModelConfig) -> BodyModel:
    """Load the configured body model once (the pipeline passes it to the stages)."""
    if cfg.kind == "anny":
        from orscene.body.anny_model import load_anny_body_model

        return load_anny_body_model(torch_device(cfg.device), cfg.keypoint_topk)
    if cfg.kind in ("smpl", "smplx"):
        from orscene.body.smpl import SMPL_MODEL_FILES, load_smpl_model

        if not cfg.model_path:
            raise ModelFileError(f"body model {cfg.kind!r} needs model_path: a file or folder with one of "
                                 f"{', '.join(SMPL_MODEL_FILES[cfg.kind])}")  # fmt: skip
        return load_smpl_model(cfg.model_path, cfg.kind, torch_device(cfg.device))
    raise ConfigError(f"unknown body model kind {cfg.kind!r} (anny, smpl, smplx)")
