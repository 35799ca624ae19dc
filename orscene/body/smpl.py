"""SMPL / SMPL-X from the user's model file as a :class:`~orscene.body.models.BodyModel`,
posed with ``smplx.lbs.lbs``.

SMPL is y up and faces +z; orscene's world is z up and a body at rest faces -y: one rotation
``world_from_smpl`` (x -> x, y -> z, z -> -y, +90 degrees about x) turns every output into
the world convention. The COCO-17 face keypoints (nose, eyes, ears) are mesh vertices, read
from smplx's own vertex-id tables (``smplx.vertex_ids``: its ``smplh`` table for SMPL's
6890-vertex mesh, ``smplx`` for SMPL-X's 10475); the body keypoints are model joints. The
face region is :func:`orscene.body.face_region.derive_face_region` on the head vertices.
"""

import pickle
from pathlib import Path

import numpy as np
import torch

from orscene.body.models import BodyModel, BodyOutput
from orscene.errors import ModelFileError

__all__ = ["SMPL_MODEL_FILES", "SmplBodyModel", "load_smpl_model", "smpl_face_landmark_vertex_ids"]

SMPL_MODEL_FILES: dict[str, tuple[str, ...]] = {
    "smpl": ("SMPL_NEUTRAL.pkl", "SMPL_MALE.pkl", "SMPL_FEMALE.pkl", "SMPL_NEUTRAL.npz"),
    "smplx": ("SMPLX_NEUTRAL.npz", "SMPLX_MALE.npz", "SMPLX_FEMALE.npz", "SMPLX_NEUTRAL.pkl"),
}
"""File names looked for when ``BodyModelConfig.model_path`` is a folder."""

# SMPL / SMPL-X joint indices for COCO-17 body joints (shoulders ... ankles)
_SMPL_COCO_BODY_JOINTS = (16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)
_SMPL_HEAD_JOINT = 15
_COCO_FACE = ("nose", "leye", "reye", "lear", "rear")
"""COCO-17's first five keypoints, by their names in ``smplx.vertex_ids``."""
_VERTEX_ID_TABLE = {6890: "smplh", 10475: "smplx"}
"""smplx's vertex-id table for each standard mesh size (SMPL and SMPL+H share a topology)."""

# world_from_smpl: SMPL is y up and faces +z; our world is z up and a body at rest faces -y.
# x -> x, y -> z, z -> -y (a +90 deg rotation about x).
_WORLD_FROM_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def smpl_face_landmark_vertex_ids(n_vertices: int) -> tuple[int, ...] | None:
    """Vertex ids of nose, left eye, right eye, left ear, right ear on a standard SMPL (6890
    vertices) or SMPL-X (10475) mesh, from ``smplx.vertex_ids``; None for another mesh."""
    from smplx.vertex_ids import vertex_ids

    table = _VERTEX_ID_TABLE.get(int(n_vertices))
    return None if table is None else tuple(int(vertex_ids[table][k]) for k in _COCO_FACE)


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
            face_landmark_vertex_ids = smpl_face_landmark_vertex_ids(V)
            if face_landmark_vertex_ids is None:
                raise ModelFileError(f"{V} vertices: pass face_landmark_vertex_ids for a non-standard mesh", path)
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

