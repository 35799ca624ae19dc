"""Optional refinement of camera poses by coloured ICP between the cameras' RGB-D point
clouds (Park et al. 2017, open3d ``registration_colored_icp``)."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from orscene.calibrate.pairwise import rotation_angle_deg

__all__ = ["IcpConfig", "refine_poses_colored_icp"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IcpConfig:
    """Coloured ICP between each camera's cloud and the union of the others'."""

    voxel_m: float = 0.02
    """Voxel size of the down-sampled clouds (normals from a radius of 2 voxels)."""
    max_correspondence_m: float = 0.04
    """Correspondence distance; should exceed the expected pose error."""
    iterations: int = 40
    min_fitness: float = 0.3
    """Fraction of the camera's points that must find a partner, else the refinement of that
    camera is rejected (too little overlap)."""
    max_correction_m: float = 0.05
    """A correction larger than this (or than ``max_correction_deg``) is rejected: ICP is a
    refinement of the board registration, not a replacement."""
    max_correction_deg: float = 2.0
    max_source_points: int = 20000
    """The moving camera's down-sampled cloud is further thinned to at most this many points
    (a seeded random subset); the target keeps all its voxels."""
    seed: int = 0


def _cloud(points: np.ndarray, colors: np.ndarray, cfg: IcpConfig):
    import open3d as o3d

    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, np.float64)))
    pc.colors = o3d.utility.Vector3dVector(np.clip(np.asarray(colors, np.float64), 0.0, 1.0))
    pc = pc.voxel_down_sample(cfg.voxel_m)
    pc.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=2 * cfg.voxel_m, max_nn=30))
    return pc


def refine_poses_colored_icp(
    clouds_cam: Mapping[str, tuple[np.ndarray, np.ndarray]],
    world_from_cam: Mapping[str, np.ndarray],
    fixed: str,
    cfg: IcpConfig = IcpConfig(),
) -> dict[str, np.ndarray]:
    """Refine ``world_from_cam`` of every camera but ``fixed``.

    ``clouds_cam[name] = (points_cam_m (N, 3), colors (N, 3) in [0, 1])`` in the camera's own
    frame. Each other camera in turn (by name) is aligned to the union of all other clouds at
    their current poses: ``world_from_cam <- T @ world_from_cam`` with ``T`` from coloured ICP
    started at identity. Corrections failing the fitness or size checks are logged and
    dropped. Returns the new poses (all cameras)."""
    import open3d as o3d

    from orscene.geometry.camera import transform_points

    reg = o3d.pipelines.registration
    poses = {n: np.asarray(T, dtype=np.float64).copy() for n, T in world_from_cam.items()}
    for name in sorted(clouds_cam):
        if name == fixed or name not in poses:
            continue
        others = [n for n in clouds_cam if n != name and n in poses]
        if not others:
            continue
        tgt_pts = np.concatenate([transform_points(poses[n], clouds_cam[n][0].astype(np.float64)) for n in others])
        tgt_col = np.concatenate([clouds_cam[n][1] for n in others])
        src = _cloud(transform_points(poses[name], clouds_cam[name][0].astype(np.float64)), clouds_cam[name][1], cfg)
        if len(src.points) > cfg.max_source_points:
            keep = np.random.default_rng(cfg.seed).choice(len(src.points), cfg.max_source_points, replace=False)
            src = src.select_by_index(np.sort(keep).tolist())
        tgt = _cloud(tgt_pts, tgt_col, cfg)
        res = reg.registration_colored_icp(
            src, tgt, cfg.max_correspondence_m, np.eye(4), reg.TransformationEstimationForColoredICP(),
            reg.ICPConvergenceCriteria(relative_fitness=1e-7, relative_rmse=1e-7, max_iteration=cfg.iterations),
        )  # fmt: skip
        T = np.asarray(res.transformation)
        d_t, d_r = float(np.linalg.norm(T[:3, 3])), rotation_angle_deg(T)
        if res.fitness < cfg.min_fitness or d_t > cfg.max_correction_m or d_r > cfg.max_correction_deg:
            log.warning(
                "camera %s: coloured ICP correction rejected (fitness %.2f, %.1f mm, %.2f deg)",
                name, res.fitness, d_t * 1e3, d_r,
            )  # fmt: skip
            continue
        log.info(
            "camera %s: coloured ICP moved it by %.1f mm, %.3f deg (fitness %.2f)", name, d_t * 1e3, d_r, res.fitness
        )
        poses[name] = T @ poses[name]
    return poses
