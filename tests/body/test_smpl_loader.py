"""The SMPL loader, tested with a tiny but structurally valid model the test writes itself
(8 vertices, 24 joints, SMPL's keys and array layouts); it tests the loading code, not SMPL."""

import pickle

import numpy as np
import pytest
import scipy.sparse
import torch

from orscene.body import BodyModelConfig, load_body_model, load_smpl_model
from orscene.errors import ModelFileError

# SMPL's kinematic tree (parent of each of the 24 joints)
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


def tiny_smpl(V: int = 30, n_betas: int = 10, seed: int = 0) -> dict:
    """A tiny model in SMPL's pickle layout, y up, facing +z; vertex k sits at joint k % 24."""
    rng = np.random.default_rng(seed)
    joints = rng.uniform(-0.3, 0.3, size=(24, 3))
    joints[15] = [0.0, 0.6, 0.0]  # head joint high up (+y in SMPL)
    v = joints[np.arange(V) % 24] + rng.normal(0, 0.01, (V, 3))
    weights = np.zeros((V, 24))
    weights[np.arange(V), np.arange(V) % 24] = 1.0
    jreg = np.zeros((24, V))
    for j in range(24):
        members = np.nonzero(np.arange(V) % 24 == j)[0]
        jreg[j, members] = 1.0 / members.size
    kintree = np.array([[4294967295] + SMPL_PARENTS[1:], list(range(24))], dtype=np.int64)
    f = np.stack([np.arange(V - 2), np.arange(1, V - 1), np.arange(2, V)], 1)
    return {
        "v_template": v,
        "f": f.astype(np.uint32),
        "shapedirs": rng.normal(0, 0.01, (V, 3, n_betas)),
        "posedirs": np.zeros((V, 3, 207)),
        "J_regressor": scipy.sparse.csc_matrix(jreg),
        "weights": weights,
        "kintree_table": kintree,
    }


def landmarks(V):
    # nose, left eye, right eye, left ear, right ear -> vertices of the head joint (15, 39 for V >= 40)
    return (15, 15, 15, 15, 15)


def write(tmp_path, data, name="SMPL_NEUTRAL.pkl"):
    path = tmp_path / name
    with open(path, "wb") as fh:
        pickle.dump(data, fh)
    return path


def test_face_landmarks_come_from_smplx_vertex_ids():
    """Nose, eyes, ears of the standard meshes are read from ``smplx.vertex_ids``, in COCO order."""
    from smplx.vertex_ids import vertex_ids

    from orscene.body.smpl import smpl_face_landmark_vertex_ids

    coco_face = ("nose", "leye", "reye", "lear", "rear")
    assert smpl_face_landmark_vertex_ids(6890) == tuple(vertex_ids["smplh"][k] for k in coco_face) == (332, 2800, 6260, 583, 4071)
    assert smpl_face_landmark_vertex_ids(10475) == tuple(vertex_ids["smplx"][k] for k in coco_face) == (9120, 9448, 9929, 6, 616)
    assert smpl_face_landmark_vertex_ids(30) is None


def test_loads_tiny_smpl_and_converts_y_up_to_z_up(tmp_path):
    data = tiny_smpl()
    path = write(tmp_path, data)
    model = load_smpl_model(path, "smpl", face_landmark_vertex_ids=landmarks(30))
    assert model.n_pose == 24 and model.n_shape == 10
    zero_pose = torch.zeros(1, 24, 3)
    out = model(zero_pose, torch.zeros(1, 10), torch.zeros(1, 3), full=True)
    # world = (x, -z_smpl, y_smpl): SMPL's +y (up) becomes world +z, its +z (front) world -y
    v = data["v_template"]
    expected = np.stack([v[:, 0], -v[:, 2], v[:, 1]], 1)
    np.testing.assert_allclose(out.vertices[0].numpy(), expected, atol=1e-5)
    # COCO: nose (landmark vertex 15) and the body joints (shoulders = SMPL joints 16, 17)
    J = data["J_regressor"].toarray() @ v
    np.testing.assert_allclose(out.joints[0, 0].numpy(), expected[15], atol=1e-5)
    np.testing.assert_allclose(out.joints[0, 5].numpy(), [J[16, 0], -J[16, 2], J[16, 1]], atol=1e-5)
    # translation and a folder path work too; head vertices = those skinned to joint 15
    m2 = load_smpl_model(tmp_path, "smpl", face_landmark_vertex_ids=landmarks(30))
    assert set(m2.head_vertex_ids.tolist()) == {15}
    moved = m2(zero_pose, torch.zeros(1, 10), torch.tensor([[1.0, 2.0, 3.0]])).joints
    np.testing.assert_allclose((moved - out.joints).numpy()[0], np.tile([1.0, 2.0, 3.0], (17, 1)), atol=1e-5)


def test_pose_rotates_children_about_their_joint(tmp_path):
    data = tiny_smpl()
    model = load_smpl_model(write(tmp_path, data), "smpl", face_landmark_vertex_ids=landmarks(30))
    pose = torch.zeros(1, 24, 3)
    pose[0, 0] = torch.tensor([0.0, np.pi / 2, 0.0])  # global orient about SMPL's y (up)
    a = model(torch.zeros(1, 24, 3), torch.zeros(1, 10), torch.zeros(1, 3), full=True).vertices[0].numpy()
    b = model(pose, torch.zeros(1, 10), torch.zeros(1, 3), full=True).vertices[0].numpy()
    root = data["J_regressor"].toarray()[0] @ data["v_template"]
    root_w = np.array([root[0], -root[2], root[1]])
    # about world z (up) through the root joint: heights unchanged, distances to the axis kept
    np.testing.assert_allclose(a[:, 2], b[:, 2], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm((a - root_w)[:, :2], axis=1), np.linalg.norm((b - root_w)[:, :2], axis=1), atol=1e-5)


def test_smpl_errors_name_the_expected_files(tmp_path):
    with pytest.raises(ModelFileError, match="SMPL_NEUTRAL.pkl"):
        load_body_model(BodyModelConfig(kind="smpl", model_path=str(tmp_path)))
    with pytest.raises(ModelFileError, match="SMPLX_NEUTRAL.npz"):
        load_body_model(BodyModelConfig(kind="smplx", model_path=str(tmp_path / "nothing.npz")))
    bad = tiny_smpl()
    del bad["weights"]
    with pytest.raises(ModelFileError, match="weights"):
        load_smpl_model(write(tmp_path, bad), "smpl", face_landmark_vertex_ids=landmarks(30))
    wrong = tiny_smpl()
    wrong["weights"] = wrong["weights"][:, :10]
    with pytest.raises(ModelFileError, match="weights"):
        load_smpl_model(write(tmp_path, wrong, "w.pkl"), "smpl", face_landmark_vertex_ids=landmarks(30))
    # a non-standard mesh needs explicit face landmarks
    with pytest.raises(ModelFileError, match="face_landmark_vertex_ids"):
        load_smpl_model(write(tmp_path, tiny_smpl(), "t.pkl"), "smpl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ModelFileError, match="cannot read"):
        load_smpl_model(tmp_path / "junk.pkl", "smpl")
