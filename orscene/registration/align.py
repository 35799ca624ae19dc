"""Rigid alignment of each fitted head to the fused point cloud (FilterReg, then ICP).

Per body fit:

1. crop the cloud to a ball around the head (its vertices' bounding radius + ``crop_margin_m``)
   and keep only points within ``prefilter_m`` of the head surface as placed by the keypoint
   fit (drops other people, the OR light, most of the shoulders);
2. too few points left -> ``HeadStatus.KEYPOINTS_ONLY`` (the keypoint-only head stands);
3. source = the head vertices facing at least one depth camera (only the camera-facing part of
   a head is observed), evenly subsampled;
4. FilterReg (probreg, point-to-point, fixed ``sigma2`` and outlier weight ``w``: its automatic
   sigma2 and ``w = 0`` are inaccurate here), then point-to-plane ICP (open3d) from its result;
5. the correction is rejected (``HeadStatus.REJECTED``) when it moves the head centre more than
   ``max_translation_m`` or turns it more than ``max_rotation_deg``, or when the ICP fitness
   (share of source points with a cloud point within ``icp_max_dist_m``) or its RMSE is poor;
6. otherwise it is applied to the head vertices and to ``world_from_head``
   (``HeadStatus.ALIGNED``).
"""

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import open3d as o3d
from probreg import filterreg
from scipy.spatial import cKDTree

from orscene.geometry.fusion import crop_points
from orscene.types import BodyFit, Camera, HeadStatus, PointCloud

__all__ = ["AlignConfig", "AlignResult", "align_heads", "align_head", "head_vertex_normals"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlignConfig:
    """Head alignment (FilterReg + ICP) and its guards."""

    crop_margin_m: float = 0.06
    """Crop ball radius = head radius + this."""
    prefilter_m: float = 0.06
    """Keep only cloud points within this distance of the keypoint-fitted head surface."""
    min_points: int = 80
    """Fewer cloud points than this after cropping: skip (keypoints only)."""
    source_points: int = 400
    """Head vertices used as the registration source (evenly subsampled)."""
    target_points: int = 1200
    """At most this many cloud points are registered to (evenly subsampled)."""
    filterreg_sigma2: float = 4e-4
    """FilterReg's GMM variance (m^2), fixed: (2 cm)^2."""
    filterreg_w: float = 0.2
    """FilterReg's outlier (uniform) weight in [0, 1)."""
    filterreg_iters: int = 20
    icp_max_dist_m: float = 0.012
    """ICP correspondence distance."""
    icp_iters: int = 20
    max_translation_m: float = 0.10
    """Reject a correction moving the head centre more than this."""
    max_rotation_deg: float = 30.0
    """Reject a correction turning the head more than this."""
    min_fitness: float = 0.5
    """Reject when fewer source points than this share have a cloud point within icp_max_dist_m."""
    max_rmse_m: float = 0.008
    """Reject when the ICP inlier RMSE exceeds this."""


@dataclass(frozen=True)
class AlignResult:
    """Diagnostics of one head alignment."""

    status: HeadStatus
    correction: np.ndarray
    """(4, 4) world-frame rigid correction applied to the head (identity unless ALIGNED)."""
    n_points: int
    fitness: float = 0.0
    rmse_m: float = 0.0
    translation_m: float = 0.0
    rotation_deg: float = 0.0


def head_vertex_normals(vertices: np.ndarray, faces: np.ndarray, vertex_ids: np.ndarray) -> np.ndarray:
    """Unit outward normals (area-weighted) of ``vertex_ids`` from the triangles touching them."""
    mask = np.zeros(vertices.shape[0], dtype=bool)
    mask[vertex_ids] = True
    tri = faces[mask[faces].any(1)]
    v0, v1, v2 = vertices[tri[:, 0]], vertices[tri[:, 1]], vertices[tri[:, 2]]
    fn = np.cross(v1 - v0, v2 - v0)
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, tri[:, k], fn)
    n = n[vertex_ids]
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _rotation_deg(R: np.ndarray) -> float:
    return math.degrees(math.acos(float(np.clip((np.trace(R) - 1) / 2, -1, 1))))


def align_head(fit: BodyFit, cloud: PointCloud, cameras: Mapping[str, Camera], cfg: AlignConfig) -> AlignResult:
    """Register one fitted head to the cloud and decide (see module docstring)."""
    head = fit.vertices_world_m[fit.head_vertex_ids].astype(np.float64)
    centre = head.mean(0)
    radius = float(np.linalg.norm(head - centre, axis=1).max())
    crop = crop_points(cloud, centre, radius + cfg.crop_margin_m).points_world_m.astype(np.float64)
    if crop.shape[0] >= cfg.min_points:
        d, _ = cKDTree(head).query(crop, distance_upper_bound=cfg.prefilter_m)
        crop = crop[np.isfinite(d)]
    if crop.shape[0] < cfg.min_points:
        return AlignResult(HeadStatus.KEYPOINTS_ONLY, np.eye(4), int(crop.shape[0]))
    n_points = int(crop.shape[0])
    if crop.shape[0] > cfg.target_points:
        crop = crop[np.linspace(0, crop.shape[0] - 1, cfg.target_points).round().astype(int)]
    normals = head_vertex_normals(fit.vertices_world_m.astype(np.float64), fit.faces, fit.head_vertex_ids)
    eyes = [c.center_world_m for c in cameras.values() if c.has_depth] or [c.center_world_m for c in cameras.values()]
    facing = np.zeros(head.shape[0], dtype=bool)
    for e in eyes:
        facing |= ((e[None] - head) * normals).sum(1) > 0
    src = head[facing] if facing.sum() >= 20 else head
    if src.shape[0] > cfg.source_points:
        src = src[np.linspace(0, src.shape[0] - 1, cfg.source_points).round().astype(int)]
    res = filterreg.registration_filterreg(src, crop, sigma2=cfg.filterreg_sigma2, update_sigma2=False,
                                           w=cfg.filterreg_w, maxiter=cfg.filterreg_iters, tol=1e-4)  # fmt: skip
    T1 = np.eye(4)
    T1[:3, :3] = res.transformation.rot
    T1[:3, 3] = res.transformation.t
    src_pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(src))
    tgt_pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(crop))
    tgt_pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(12))
    tgt_pcd.orient_normals_towards_camera_location(np.asarray(eyes[0], dtype=np.float64))
    icp = o3d.pipelines.registration.registration_icp(
        src_pcd, tgt_pcd, cfg.icp_max_dist_m, T1,
        o3d.pipelines.registration.TransformationEstimationPointToPlane(),
        o3d.pipelines.registration.ICPConvergenceCriteria(max_iteration=cfg.icp_iters),
    )  # fmt: skip
    T = np.asarray(icp.transformation)
    face_centre = fit.world_from_head[:3, 3]
    moved = float(np.linalg.norm(T[:3, :3] @ face_centre + T[:3, 3] - face_centre))
    angle = _rotation_deg(T[:3, :3])
    status = HeadStatus.ALIGNED
    if moved > cfg.max_translation_m or angle > cfg.max_rotation_deg:
        status = HeadStatus.REJECTED
    elif icp.fitness < cfg.min_fitness or (icp.fitness > 0 and icp.inlier_rmse > cfg.max_rmse_m):
        status = HeadStatus.REJECTED
    log.debug("head %d: %s, %d points, fitness %.2f, rmse %.4f, moved %.3f m, turned %.1f deg", fit.track_id,
              status.value, crop.shape[0], icp.fitness, icp.inlier_rmse, moved, angle)  # fmt: skip
    return AlignResult(status, T if status is HeadStatus.ALIGNED else np.eye(4), n_points,
                       float(icp.fitness), float(icp.inlier_rmse), moved, angle)  # fmt: skip


def align_heads(fits: Sequence[BodyFit], cloud: PointCloud, cameras: Mapping[str, Camera], cfg: AlignConfig) -> list[BodyFit]:
    """Align every fit's head to ``cloud``; each result carries its ``HeadStatus``.

    Accepted corrections move the head vertices and ``world_from_head``; otherwise the
    keypoint-only head pose stands (status KEYPOINTS_ONLY or REJECTED).
    """
    out = []
    for fit in fits:
        r = align_head(fit, cloud, cameras, cfg)
        if r.status is not HeadStatus.ALIGNED:
            out.append(replace(fit, head_status=r.status))
            continue
        verts = fit.vertices_world_m.copy()
        hv = verts[fit.head_vertex_ids].astype(np.float64)
        verts[fit.head_vertex_ids] = (hv @ r.correction[:3, :3].T + r.correction[:3, 3]).astype(verts.dtype)
        out.append(replace(fit, vertices_world_m=verts, world_from_head=r.correction @ fit.world_from_head,
                           head_status=HeadStatus.ALIGNED))  # fmt: skip
    return out
