from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from orscene.geometry.camera import look_at_world_from_cam
from orscene.registration import AlignConfig, align_head, align_heads
from orscene.types import BodyFit, Camera, HeadStatus, Intrinsics, PointCloud


@pytest.fixture(scope="module")
def scene(anny_body):
    """A posed anny person, two depth cameras in front, the true fit."""
    g = torch.Generator().manual_seed(3)
    pose = torch.randn(1, anny_body.n_pose, 3, generator=g) * 0.15
    shape = torch.randn(1, anny_body.n_shape, generator=g)
    with torch.no_grad():
        out = anny_body(pose, shape, torch.tensor([[1.0, 2.0, 1.0]]), full=True)
        template = anny_body.template_vertices(shape)[0].numpy()
    V = out.vertices[0].numpy()
    fit = BodyFit(0, V, anny_body.faces, out.joints[0].numpy(), anny_body.head_vertex_ids, anny_body.face_vertex_ids,
                  anny_body.world_from_head(template, V), HeadStatus.KEYPOINTS_ONLY)  # fmt: skip
    head_c = V[anny_body.head_vertex_ids].mean(0)
    front = fit.world_from_head[:3, 2]
    K = np.array([[500.0, 0, 160], [0, 500.0, 120], [0, 0, 1]])
    intr = Intrinsics(K, np.zeros(8), 320, 240)
    cams = {}
    for i, side in enumerate((-0.8, 0.8)):
        lateral = np.cross([0, 0, 1.0], front)
        eye = head_c + 2.0 * front + side * lateral + [0, 0, 0.6]
        cams[f"c{i}"] = Camera(f"c{i}", intr, look_at_world_from_cam(eye, head_c), intr, np.eye(4))
    return fit, cams


def visible_surface(fit, cams, rng, n_per_cam=1500, noise_m=0.002, radius_m=0.3):
    """Points sampled on the triangles near the head that face each camera (+ noise)."""
    V, F = fit.vertices_world_m.astype(np.float64), fit.faces
    c = V[fit.head_vertex_ids].mean(0)
    near = np.linalg.norm(V - c, axis=1) < radius_m
    tri = F[near[F].all(1)]
    v0, v1, v2 = V[tri[:, 0]], V[tri[:, 1]], V[tri[:, 2]]
    fn = np.cross(v1 - v0, v2 - v0)
    area = np.linalg.norm(fn, axis=1) / 2
    pts = []
    for cam in cams.values():
        vis = ((cam.center_world_m - (v0 + v1 + v2) / 3) * fn).sum(1) > 0
        p = area * vis
        k = rng.choice(len(tri), n_per_cam, p=p / p.sum())
        a = rng.random((n_per_cam, 2))
        flip = a.sum(1) > 1
        a[flip] = 1 - a[flip]
        pts.append(v0[k] + a[:, :1] * (v1[k] - v0[k]) + a[:, 1:] * (v2[k] - v0[k]))
    pts = np.concatenate(pts)
    return pts + rng.normal(0, noise_m, pts.shape)


def perturb(fit, rot_deg, trans_m, rng):
    """The fit with its head moved rigidly about the head centre (a keypoint-fit error)."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    d = rng.normal(size=3)
    d *= trans_m / np.linalg.norm(d)
    c = fit.vertices_world_m[fit.head_vertex_ids].mean(0)
    P = np.eye(4)
    P[:3, :3] = Rotation.from_rotvec(axis * np.radians(rot_deg)).as_matrix()
    P[:3, 3] = c - P[:3, :3] @ c + d
    v = fit.vertices_world_m.copy()
    v[fit.head_vertex_ids] = v[fit.head_vertex_ids] @ P[:3, :3].T.astype(np.float32) + P[:3, 3].astype(np.float32)
    return replace(fit, vertices_world_m=v, world_from_head=P @ fit.world_from_head)


def rot_deg(A, B):
    return np.degrees(np.arccos(np.clip((np.trace(A[:3, :3].T @ B[:3, :3]) - 1) / 2, -1, 1)))


def test_recovers_a_rigid_head_perturbation_with_outliers(scene, rng):
    fit, cams = scene
    pts = visible_surface(fit, cams, rng)
    c = fit.vertices_world_m[fit.head_vertex_ids].mean(0)
    outliers = c + rng.uniform(-0.25, 0.25, (300, 3))  # OR light, other people, flying pixels
    cloud = PointCloud(np.concatenate([pts, outliers]).astype(np.float32))
    for rot, trans in ((8.0, 0.03), (12.0, 0.045)):
        bad = perturb(fit, rot, trans, rng)
        before = np.linalg.norm(bad.world_from_head[:3, 3] - fit.world_from_head[:3, 3])
        (out,) = align_heads([bad], cloud, cams, AlignConfig())
        assert out.head_status is HeadStatus.ALIGNED
        after = np.linalg.norm(out.world_from_head[:3, 3] - fit.world_from_head[:3, 3])
        assert before > 0.02 and after < 0.008, (before, after)
        assert rot_deg(out.world_from_head, fit.world_from_head) < 4.0
        # the head vertices moved with the frame; the rest of the body did not
        err = np.linalg.norm(out.vertices_world_m[fit.face_vertex_ids] - fit.vertices_world_m[fit.face_vertex_ids], axis=1)
        assert np.median(err) < 0.008
        others = np.setdiff1d(np.arange(fit.vertices_world_m.shape[0]), fit.head_vertex_ids)
        np.testing.assert_array_equal(out.vertices_world_m[others], bad.vertices_world_m[others])


def test_too_few_points_keeps_the_keypoint_head(scene, rng):
    fit, cams = scene
    bad = perturb(fit, 5.0, 0.02, rng)
    far = PointCloud(rng.uniform(5, 6, (500, 3)).astype(np.float32))
    (out,) = align_heads([bad], far, cams, AlignConfig())
    assert out.head_status is HeadStatus.KEYPOINTS_ONLY
    np.testing.assert_array_equal(out.world_from_head, bad.world_from_head)
    np.testing.assert_array_equal(out.vertices_world_m, bad.vertices_world_m)
    sparse = PointCloud(visible_surface(fit, cams, rng, n_per_cam=20).astype(np.float32))
    assert align_head(bad, sparse, cams, AlignConfig()).status is HeadStatus.KEYPOINTS_ONLY


def test_implausible_corrections_and_poor_residuals_are_rejected(scene, rng):
    fit, cams = scene
    pts = visible_surface(fit, cams, rng)
    cloud = PointCloud(pts.astype(np.float32))
    bad = perturb(fit, 10.0, 0.04, rng)
    # a correction larger than allowed is rejected and the keypoint head stands
    strict = AlignConfig(max_translation_m=0.01)
    r = align_head(bad, cloud, cams, strict)
    assert r.status is HeadStatus.REJECTED and r.translation_m > 0.01
    (out,) = align_heads([bad], cloud, cams, strict)
    assert out.head_status is HeadStatus.REJECTED
    np.testing.assert_array_equal(out.world_from_head, bad.world_from_head)
    # a cloud that is no head at all (uniform clutter) leaves a poor residual: rejected
    c = fit.vertices_world_m[fit.head_vertex_ids].mean(0)
    clutter = PointCloud((c + rng.uniform(-0.12, 0.12, (3000, 3))).astype(np.float32))
    assert align_head(fit, clutter, cams, AlignConfig()).status is HeadStatus.REJECTED
