import numpy as np
import pytest
import torch

from orscene.body import face_mesh
from orscene.body.face_region import REST_HEAD_AXES
from orscene.body.rotation import kabsch, rotmat_to_rotvec, rotvec_to_rotmat
from orscene.types import BodyFit, HeadStatus


def _random_inputs(model, n, seed, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(n, model.n_pose, 3, generator=g) * scale
    shape = torch.randn(n, model.n_shape, generator=g)
    transl = torch.randn(n, 3, generator=g)
    return pose, shape, transl


def test_rotvec_to_rotmat_matches_scipy(rng):
    from scipy.spatial.transform import Rotation

    rv = rng.normal(size=(20, 3))
    rv[0] = 0
    R = rotvec_to_rotmat(torch.as_tensor(rv)).numpy()
    np.testing.assert_allclose(R, Rotation.from_rotvec(rv).as_matrix(), atol=1e-9)


def test_rotmat_to_rotvec_inverts_rodrigues(rng):
    import doctest

    import orscene.body.rotation

    axes = rng.normal(size=(20, 3))
    rv = axes / np.linalg.norm(axes, axis=1, keepdims=True) * rng.uniform(0.01, 3.1, size=(20, 1))
    rv[0] = 0
    rv[1] = [0.0, np.pi, 0.0]  # 180 degrees: the axis comes from the symmetric part
    rv[2] = axes[2] / np.linalg.norm(axes[2]) * np.pi
    R = rotvec_to_rotmat(torch.as_tensor(rv)).numpy()
    for k in range(len(rv)):
        back = rotmat_to_rotvec(R[k])
        if k in (1, 2):  # +-axis * pi are the same rotation
            back = back if back @ rv[k] > 0 else -back
        np.testing.assert_allclose(back, rv[k], atol=1e-6)
    assert doctest.testmod(orscene.body.rotation).failed == 0


def test_kabsch_recovers_rigid_transform(rng):
    from scipy.spatial.transform import Rotation

    src = rng.normal(size=(50, 3))
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec([0.3, -0.2, 1.0]).as_matrix()
    T[:3, 3] = [0.1, 2.0, -1.0]
    np.testing.assert_allclose(kabsch(src, src @ T[:3, :3].T + T[:3, 3]), T, atol=1e-9)


def test_reduced_kinematics_match_anny_forward(anny_body):
    """The fit's reduced kinematics give anny's own joints and vertices."""
    pose, shape, transl = _random_inputs(anny_body, 3, 0)
    with torch.no_grad():
        full = anny_body(pose, shape, transl, full=True)
        joints = anny_body.posed_joints(pose, transl, anny_body.rest_state(shape))
        verts = anny_body.posed_vertices(pose, transl, anny_body.mesh_state(shape))
    assert full.vertices.shape == (3, 13718, 3)
    # the fit regresses each joint from its 48 heaviest vertices: < 2 mm from the dense regressor
    assert (joints - full.joints).norm(dim=-1).max() < 2e-3
    assert (verts - full.vertices).norm(dim=-1).max() < 1e-4


def test_root_translation_and_rotation_are_world(anny_body):
    pose, shape, _ = _random_inputs(anny_body, 1, 1)
    with torch.no_grad():
        rest = anny_body.rest_state(shape)
        j0 = anny_body.posed_joints(pose, torch.zeros(1, 3), rest)
        j1 = anny_body.posed_joints(pose, torch.tensor([[1.0, -2.0, 0.5]]), rest)
        # rotating the root by 90 deg about z rotates the whole body about the origin
        pose_r = pose.clone()
        pose_r[0, 0] = 0
        jr0 = anny_body.posed_joints(pose_r, torch.zeros(1, 3), rest)
        pose_r[0, 0] = torch.tensor([0.0, 0.0, np.pi / 2])
        jr1 = anny_body.posed_joints(pose_r, torch.zeros(1, 3), rest)
    np.testing.assert_allclose((j1 - j0).numpy()[0], np.tile([1.0, -2.0, 0.5], (17, 1)), atol=1e-5)
    Rz = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(jr1.numpy(), (jr0 @ Rz.T).numpy(), atol=1e-5)


def test_neutral_body_faces_minus_y_with_left_at_plus_x(anny_body):
    with torch.no_grad():
        out = anny_body(torch.zeros(1, anny_body.n_pose, 3), torch.zeros(1, anny_body.n_shape), torch.zeros(1, 3), full=True)
    j = out.joints[0].numpy()
    assert j[0, 1] < j[3, 1] - 0.05  # nose in front (-y) of the ears
    assert j[5, 0] > 0.1 and j[6, 0] < -0.1  # left shoulder at +x
    assert j[0, 2] > j[11, 2] + 0.4  # z up


def test_face_region_and_uv(anny_body):
    from orscene.body.face_region import anny_face_vertex_ids

    ids = anny_body.face_vertex_ids
    assert np.array_equal(ids, anny_face_vertex_ids(anny_body.anny))  # same faces as the ground truth
    assert np.isin(ids, anny_body.head_vertex_ids).all()
    assert 500 < ids.size < anny_body.head_vertex_ids.size
    uv = anny_body.face_uv
    assert uv.shape == (ids.size, 2) and uv.min() >= 0 and uv.max() <= 1
    rest = anny_body.rest_output(torch.zeros(1, anny_body.n_shape))[0].detach().numpy()[ids]
    assert np.corrcoef(uv[:, 0], rest[:, 0])[0, 1] > 0.99  # u grows towards the person's left (+x)
    assert np.corrcoef(uv[:, 1], rest[:, 2])[0, 1] > 0.99  # v grows upwards
    # the face lies between the chin and the top of the head, in front of the ears
    head = rest = anny_body.rest_output(torch.zeros(1, anny_body.n_shape))[0].detach().numpy()
    face = head[ids]
    assert face[:, 2].max() < head[anny_body.head_vertex_ids, 2].max() - 0.03
    assert anny_body.face_triangles.shape[1] == 3 and anny_body.face_triangles.max() < ids.size


def test_world_from_head_follows_the_head(anny_body):
    shape = torch.zeros(1, anny_body.n_shape)
    template = anny_body.template_vertices(shape)[0].detach().numpy()
    pose = torch.zeros(1, anny_body.n_pose, 3)
    pose[0, 0] = torch.tensor([0.0, 0.0, np.pi / 2])  # body turned to face +x
    with torch.no_grad():
        v = anny_body(pose, shape, torch.tensor([[1.0, 2.0, 0.0]]), full=True).vertices[0].numpy()
    T = anny_body.world_from_head(template, v)
    np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(T[:3, 3], v[anny_body.face_vertex_ids].mean(0), atol=1e-4)
    assert T[:3, 2] @ np.array([1.0, 0.0, 0.0]) > 0.95  # out of the face = +x now
    assert T[:3, 1] @ np.array([0.0, 0.0, 1.0]) > 0.95  # up stays up
    assert np.allclose(REST_HEAD_AXES[:, 2], [0, -1, 0])

    fit = BodyFit(3, v, anny_body.faces, np.zeros((17, 3), np.float32), anny_body.head_vertex_ids,
                  anny_body.face_vertex_ids, T, HeadStatus.ALIGNED)  # fmt: skip
    fm = face_mesh(anny_body, fit)
    assert fm.vertices_world_m.shape == (anny_body.face_vertex_ids.size, 3)
    assert fm.faces.max() < fm.vertices_world_m.shape[0] and fm.head_status is HeadStatus.ALIGNED
    np.testing.assert_array_equal(fm.vertices_world_m, v[anny_body.face_vertex_ids])


def test_unknown_kind_and_missing_smpl_path_raise():
    from orscene.body import BodyModelConfig, load_body_model
    from orscene.errors import ConfigError, ModelFileError

    with pytest.raises(ConfigError):
        load_body_model(BodyModelConfig(kind="star"))
    with pytest.raises(ModelFileError, match="SMPL_NEUTRAL.pkl"):
        load_body_model(BodyModelConfig(kind="smpl"))
