"""Rigid alignment of each fitted head to the fused point cloud (FilterReg, then ICP).

Per body fit:

1. crop the cloud to a ball around the head (its vertices' bounding radius + ``crop_margin_m``)
   and keep only points within ``prefilter_m`` of the head surface as placed by the keypoint
   fit (drops other people, the OR light, most of the shoulders);
2. too few points left -> ``HeadStatus.KEYPOINTS_ONLY`` (the keypoint-only head stands);
3. FilterReg (probreg, point-to-point, fixed ``sigma2`` = (5 mm)^2 and outlier weight
   ``w = 0.5``: its automatic sigma2 and ``w = 0`` drift badly on noisy partial views) of the
   cropped cloud to the model head vertices that face some depth camera (only the camera-facing
   part of a head is observed);
4. from there, point-to-plane ICP (open3d) of the cloud to the full model head with the mesh's
   normals and a Tukey robust loss (the depth noise is ~1 cm at 3 m; other people's points and
   masks are down-weighted). Registering cloud -> model handles partial visibility: only the
   observed surface pulls, unobserved model parts stay out of it. The inverse is the model's
   correction;
5. the correction is rejected (``HeadStatus.REJECTED``) when it moves the face centre more than
   ``max_translation_m`` or turns the head more than ``max_rotation_deg``, or when the ICP
   fitness (share of cloud points within ``icp_max_dist_m`` of the head) or its RMSE is poor;
6. otherwise it is applied to the head vertices and to ``world_from_head``
   (``HeadStatus.ALIGNED``).
"""

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

from orscene.geometry.fusion import crop_points
from orscene.types import BodyFit, Camera, HeadAlignment, HeadStatus, PointCloud

__all__ = ["AlignConfig", "AlignResult", "align_heads", "align_head", "head_vertex_normals"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlignConfig:
    """Head alignment (FilterReg + ICP) and its guards."""

    crop_margin_m: float = 0.06
    """Crop ball radius = head radius + this."""
    prefilter_m: float = 0.05
    """Keep only cloud points within this distance of the keypoint-fitted head surface."""
    min_points: int = 60
    """Fewer cloud points than this after cropping: skip (keypoints only)."""
    use_filterreg: bool = True
    """Run FilterReg before ICP (coarse capture of errors beyond the ICP's reach)."""
    filterreg_points: int = 300
    """Cloud points (evenly subsampled) and, twice that, model vertices used by FilterReg."""
    filterreg_sigma2: float = 2.5e-5
    """FilterReg's GMM variance (m^2), fixed at (5 mm)^2 (its automatic update drifts)."""
    filterreg_w: float = 0.5
    """FilterReg's outlier (uniform) weight in [0, 1): half the crop may be clutter."""
    filterreg_iters: int = 10
    icp_points: int = 1500
    """At most this many cloud points go into ICP (evenly subsampled)."""
    icp_max_dist_m: float = 0.03
    """ICP correspondence distance (the depth noise is ~1 cm at 3 m)."""
    icp_tukey_m: float = 0.015
    """Scale of ICP's Tukey robust loss."""
    icp_iters: int = 30
    max_translation_m: float = 0.10
    """Reject a correction moving the face centre more than this."""
    max_rotation_deg: float = 30.0
    """Reject a correction turning the head more than this."""
    neck_cut_m: float = 0.02
    """Drop cloud points and head vertices lower (along the head's up axis) than the chin minus
    this: the neck and shoulders are no part of the rigid head."""
    min_fitness: float = 0.3
    """Reject when fewer cloud points than this share lie within icp_max_dist_m of the head."""
    max_rmse_m: float = 0.016
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


def _subsample(points: np.ndarray, n: int) -> np.ndarray:
    if points.shape[0] <= n:
        return points
    return points[np.linspace(0, points.shape[0] - 1, n).round().astype(int)]


def align_head(fit: BodyFit, cloud: PointCloud, cameras: Mapping[str, Camera], cfg: AlignConfig) -> AlignResult:
    """Register one fitted head to the cloud and decide (see module docstring).

    Both stages register the cloud to the model (the observed part of the head finds its
    place on the full head; unobserved model parts stay out of it) and the result is inverted
    into the model's correction.
    """
    head = fit.vertices_world_m[fit.head_vertex_ids].astype(np.float64)
    centre = head.mean(0)
    radius = float(np.linalg.norm(head - centre, axis=1).max())
    crop = crop_points(cloud, centre, radius + cfg.crop_margin_m).points_world_m.astype(np.float64)
    up = fit.world_from_head[:3, 1]
    chin = float((fit.vertices_world_m[fit.face_vertex_ids].astype(np.float64) @ up).min())
    keep_v = head @ up >= chin - cfg.neck_cut_m
    if keep_v.sum() >= 50:
        head_all, head = head, head[keep_v]
    else:
        head_all = head
    crop = crop[crop @ up >= chin - cfg.neck_cut_m]
    if crop.shape[0] >= cfg.min_points:
        from scipy.spatial import cKDTree  # here, not at the top: reading AlignConfig stays light

        d, _ = cKDTree(head).query(crop, distance_upper_bound=cfg.prefilter_m)
        crop = crop[np.isfinite(d)]
    if crop.shape[0] < cfg.min_points:
        return AlignResult(HeadStatus.KEYPOINTS_ONLY, np.eye(4), int(crop.shape[0]))
    n_points = int(crop.shape[0])
    normals = head_vertex_normals(fit.vertices_world_m.astype(np.float64), fit.faces, fit.head_vertex_ids)
    if head.shape[0] != head_all.shape[0]:
        normals = normals[keep_v]
    # open3d and probreg load in ~3 s (probreg pulls in matplotlib and scikit-learn): imported
    # where used, so that commands and processes that never align do not pay for them
    import open3d as o3d
    from probreg import filterreg

    if cfg.use_filterreg:
        eyes = [c.center_world_m for c in cameras.values() if c.has_depth] or [c.center_world_m for c in cameras.values()]
        facing = np.zeros(head.shape[0], dtype=bool)
        for e in eyes:
            facing |= ((e[None] - head) * normals).sum(1) > 0
        model_pts = _subsample(head[facing] if facing.sum() >= 20 else head, 2 * cfg.filterreg_points)
        # probreg's small per-iteration OpenMP kernels run ~3x slower with several threads on
        # a busy machine: one thread for the duration of the call (restored afterwards)
        with threadpool_limits(limits=1):
            res = filterreg.registration_filterreg(_subsample(crop, cfg.filterreg_points), model_pts,
                                                   sigma2=cfg.filterreg_sigma2, update_sigma2=False, w=cfg.filterreg_w,
                                                   maxiter=cfg.filterreg_iters, tol=1e-4)  # fmt: skip
        model_from_cloud = np.eye(4)
        model_from_cloud[:3, :3] = res.transformation.rot
        model_from_cloud[:3, 3] = res.transformation.t
    else:
        model_from_cloud = np.eye(4)
    src = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(_subsample(crop, cfg.icp_points)))
    tgt = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(head))
    tgt.normals = o3d.utility.Vector3dVector(normals)
    reg = o3d.pipelines.registration
    icp = reg.registration_icp(
        src, tgt, cfg.icp_max_dist_m, model_from_cloud,
        reg.TransformationEstimationPointToPlane(reg.TukeyLoss(k=cfg.icp_tukey_m)),
        reg.ICPConvergenceCriteria(max_iteration=cfg.icp_iters),
    )  # fmt: skip
    cloud_from_model = np.linalg.inv(np.asarray(icp.transformation))
    T = cloud_from_model
    face_centre = fit.world_from_head[:3, 3]
    moved = float(np.linalg.norm(T[:3, :3] @ face_centre + T[:3, 3] - face_centre))
    angle = _rotation_deg(T[:3, :3])
    status = HeadStatus.ALIGNED
    if moved > cfg.max_translation_m or angle > cfg.max_rotation_deg:
        status = HeadStatus.REJECTED
    elif icp.fitness < cfg.min_fitness or icp.inlier_rmse > cfg.max_rmse_m:
        status = HeadStatus.REJECTED
    log.debug("head %d: %s, %d points, fitness %.2f, rmse %.4f, moved %.3f m, turned %.1f deg", fit.track_id,
              status.value, n_points, icp.fitness, icp.inlier_rmse, moved, angle)  # fmt: skip
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
        diag = HeadAlignment(r.n_points, r.fitness, r.rmse_m, r.translation_m, r.rotation_deg)
        if r.status is not HeadStatus.ALIGNED:
            out.append(replace(fit, head_status=r.status, alignment=diag))
            continue
        verts = fit.vertices_world_m.copy()
        hv = verts[fit.head_vertex_ids].astype(np.float64)
        verts[fit.head_vertex_ids] = (hv @ r.correction[:3, :3].T + r.correction[:3, 3]).astype(verts.dtype)
        out.append(replace(fit, vertices_world_m=verts, world_from_head=r.correction @ fit.world_from_head,
                           head_status=HeadStatus.ALIGNED, alignment=diag))  # fmt: skip
    return out
