"""Outputs must not depend on how the threads of a busy machine are scheduled."""

import numpy as np


def _icp_once(src_pts, tgt_pts, normals):
    import open3d as o3d

    reg = o3d.pipelines.registration
    src = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(src_pts))
    tgt = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(tgt_pts))
    tgt.normals = o3d.utility.Vector3dVector(normals)
    est = reg.TransformationEstimationPointToPlane(reg.TukeyLoss(k=0.01))
    res = reg.registration_icp(src, tgt, 0.02, np.eye(4), est, reg.ICPConvergenceCriteria(max_iteration=30))
    return np.asarray(res.transformation).tobytes() + np.float64(res.inlier_rmse).tobytes()


def test_phase_c_libraries_make_open3d_icp_reproducible():
    """The worker's open3d import leaves open3d on one thread: the same ICP problem then
    gives the same bits every time (with several threads its reductions sum in the order
    the threads finish, and results differed from run to run)."""
    import open3d as o3d

    from orscene.pipeline.run import _import_open3d

    before = o3d.utility.get_max_threads()
    try:
        _import_open3d()
        assert o3d.utility.get_max_threads() == 1
        rng = np.random.default_rng(0)
        u = rng.normal(size=(20000, 3))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        tgt = u * 0.1
        turn = np.array([[1, 0.02, 0], [-0.02, 1, 0], [0, 0, 1]])
        src = (tgt[::3] + rng.normal(scale=0.003, size=tgt[::3].shape)) @ turn.T + 0.01
        assert len({_icp_once(src, tgt, u) for _ in range(10)}) == 1
    finally:
        o3d.utility.set_max_threads(before)
