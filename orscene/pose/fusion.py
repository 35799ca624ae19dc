"""Multi-view 3D skeletons from per-view 2D keypoints, in the spirit of VoxelPose.

VoxelPose (Tu et al., ECCV 2020) builds a 3D feature volume by projecting a voxel grid of
the room into every view and sampling 2D joint heatmaps there; a learned 3D CNN finds
people's roots on a coarse grid, and a second one regresses each joint in a finer cube
around each root (soft-argmax). Its networks are not available here, so each learned step
has a non-learned counterpart with the same data flow, vectorized in torch (device from
``FusionConfig.device``):

1. **Root volume** (coarse grid over the room, ``root_voxel_m``; only the heights where a
   torso centre can be, ``root_z_range_m``). In each view, every 2D skeleton votes for its
   torso centre (mean of the shoulders and hips it has) with a Gaussian whose width is
   ``root_sigma_m`` seen at the voxel's depth. The per-view evidence of a voxel is the
   strongest vote; the volume sums the evidence over the views (the voxel projections are
   kept per grid by the session's :class:`~orscene.geometry.rig.CameraRig`: cameras are static).
2. **Root proposals** (:class:`Proposal`): 3D max-pool non-maximum suppression; a peak needs support from
   ``min_views`` views. Where a view has depth, a proposal whose torso centre lies in
   measured free space (the camera sees the surface well *behind* it) is a ghost from
   crossing rays and is dropped.
3. **Association** (replaces VoxelPose's learned per-person features): proposals, strongest
   first, claim in every view the unclaimed 2D skeleton whose torso centre reprojects
   nearest, within a gate of ``assoc_gate_m`` at the proposal's depth. With depth, a 2D
   skeleton whose measured torso depth lies more than ``depth_gate_m`` *behind* the
   proposal cannot be claimed (it belongs to someone farther along the ray): this separates
   people standing behind each other. Nearer measurements are allowed: occluders (the
   table, another person) often cover a torso.
   A proposal that claims fewer than ``min_views`` skeletons is dropped; two proposals
   closer than ``merge_distance_m`` (one person's views split between two peaks) merge. Each person's
   joints therefore come only from that person's detections, and a false or wrong
   skeleton in one view stays unclaimed.
4. **Joint volumes**: a cube of ``cube_size_m`` around each root is projected into the
   person's views; for joint j the voxel score is the robust log-likelihood
   ``sum_views log(eps + c_j exp(-d^2 / 2 sigma^2))`` (``d`` the pixel distance to the claimed
   keypoint, ``c_j`` its confidence, ``eps`` an outlier floor so that one wrong keypoint
   cannot drag the joint away). Its arg-max starts ``fine_passes`` finer cubes, where the
   joint is the soft-argmax (posterior mean) of the same score (each fine cube spans two
   voxels of the previous one; the intermediate cubes re-centre on their arg-max, the
   last and smallest takes the soft-argmax). A joint that only one view saw lies somewhere
   on a ray; it is searched again with a prior at the mean of its well-seen neighbours
   (nose: eyes and ears; elbow: shoulder and wrist; a shoulder: the other shoulder...).
5. A joint's confidence is the mean confidence of the views that agree with it
   (reprojection within ``inlier_px`` or 3 sigma); with fewer than two such views it is 0.
   A person with fewer than ``min_confident_joints`` such joints, or with inhuman limb
   lengths, is a ghost assembled from different people's detections and is dropped. Two
   skeletons whose torsos coincide (one person's views split between two proposals) are
   merged and estimated again from all their views.
"""

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from orscene._system import torch_device
from orscene.errors import ShapeError
from orscene.geometry.camera import LensField, project_world, unproject_px
from orscene.geometry.rig import CameraRig, rig_of
from orscene.pose.config import FusionConfig
from orscene.types import COCO17_BONES, Camera, FrameSet, Keypoints2D, PoseCandidate, View

__all__ = ["FusionConfig", "PoseCandidate", "fuse_poses", "room_bounds_from_cameras"]

log = logging.getLogger(__name__)

_TORSO = (5, 6, 11, 12)  # shoulders and hips (COCO-17)
# joints whose mean is a prior for a joint that only one view saw (COCO-17): the face
# around the nose, an elbow/knee between its neighbours, otherwise the left/right partner
_NEIGHBOURS = (
    (1, 2, 3, 4), (0, 2), (0, 1), (1, 2, 4), (1, 2, 3), (6,), (5,), (5, 9), (6, 10), (7,), (8,),
    (12,), (11,), (11, 15), (12, 16), (13, 16), (14, 15),
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Proposal:
    """One person proposed by the root volume, with the 2D skeletons it claimed."""

    root_m: np.ndarray
    """(3,) float64 world position of the torso centre (the root)."""
    claim: Mapping[str, int]
    """Camera name -> index of the claimed 2D skeleton in that view's ``Keypoints2D``."""
    score: float
    """Root-volume evidence of the peak (summed over merged proposals)."""


# ----------------------------------------------------------------------------- projection


@dataclass(frozen=True)
class _CamT:
    """A camera's projection parameters, prepared once per call (rotation as a tensor,
    scalars as Python floats: cheaper than 0-d tensors in the element-wise formulas), and
    its colour image's lens field (whose validity rule drops rays beyond the lens model)."""

    R: torch.Tensor
    t: torch.Tensor
    fx: float
    fy: float
    cx: float
    cy: float
    skew: float
    dist: tuple[float, ...]
    width: int
    height: int
    focal: float
    lens: LensField


def _prepare(cam: Camera, lens: LensField, device: torch.device) -> _CamT:
    T = cam.cam_from_world
    K = cam.color.K_px
    return _CamT(
        torch.as_tensor(T[:3, :3], dtype=torch.float32, device=device),
        torch.as_tensor(T[:3, 3], dtype=torch.float32, device=device),
        float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), float(K[0, 1]),
        tuple(float(v) for v in cam.color.distortion),
        cam.color.width_px, cam.color.height_px, float(0.5 * (K[0, 0] + K[1, 1])), lens,
    )  # fmt: skip


def _project(cam: _CamT, pts_world: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Torch version of ``orscene.geometry.camera.project_world`` (same distortion model,
    float32). ``pts_world (..., 3)`` -> ``uv_px (..., 2)``, ``z_m (...)``; points behind the
    camera, or outside the lens model's valid field (``LensField.valid``: there the rational
    model may fold them back into the image), get +inf."""
    p = pts_world @ cam.R.T + cam.t
    z = p[..., 2]
    zs = torch.where(z > 1e-6, z, 1.0)
    x, y = p[..., 0] / zs, p[..., 1] / zs
    k1, k2, p1, p2, k3, k4, k5, k6 = cam.dist
    r2 = x * x + y * y
    if any(cam.dist):
        radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
        xy2 = 2 * x * y
        xd = x * radial + p1 * xy2 + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + p2 * xy2
    else:
        xd, yd = x, y
    uv = torch.stack([cam.fx * xd + cam.skew * yd + cam.cx, cam.fy * yd + cam.cy], -1)
    bad = (z <= 1e-6) | ~cam.lens.valid_radius2(r2)
    return uv.masked_fill(bad[..., None], float("inf")), z


def _in_image(cam: _CamT, uv: torch.Tensor) -> torch.Tensor:
    u, v = uv[..., 0], uv[..., 1]
    return (u >= -0.5) & (u <= cam.width - 0.5) & (v >= -0.5) & (v <= cam.height - 0.5)


# ----------------------------------------------------------------------------- the room grid


def room_bounds_from_cameras(cameras: Mapping[str, Camera], cfg: FusionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Room volume for the root grid: given in the config, or where the view frusta meet the
    slab of torso heights (``root_z_range_m``), within ``max_range_m`` of a camera."""
    if cfg.room_min_m is not None and cfg.room_max_m is not None:
        return np.asarray(cfg.room_min_m, float), np.asarray(cfg.room_max_m, float)
    hits = []
    for cam in cameras.values():
        w, h = cam.color.width_px, cam.color.height_px
        us, vs = np.meshgrid(np.linspace(-0.5, w - 0.5, 9), np.linspace(-0.5, h - 0.5, 9))
        rays_cam = unproject_px(cam.color, np.stack([us.ravel(), vs.ravel()], -1), np.ones(us.size))
        R, t = cam.world_from_cam[:3, :3], cam.world_from_cam[:3, 3]
        dirs = rays_cam @ R.T
        dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
        for zp in cfg.root_z_range_m:
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (zp - t[2]) / dirs[:, 2]
            s = np.where(np.isfinite(s) & (s > 0), np.minimum(s, cfg.max_range_m), cfg.max_range_m)
            hits.append(t + dirs * s[:, None])
        hits.append(t[None])
    pts = np.concatenate(hits)
    lo = np.array([pts[:, 0].min(), pts[:, 1].min(), cfg.root_z_range_m[0]])
    hi = np.array([pts[:, 0].max(), pts[:, 1].max(), cfg.root_z_range_m[1]])
    return lo, hi


def _root_grid(cameras: Mapping[str, Camera], cfg: FusionConfig) -> tuple[np.ndarray, tuple[int, int, int]]:
    lo, hi = room_bounds_from_cameras(cameras, cfg)
    lo = lo.copy()
    hi = hi.copy()
    lo[2], hi[2] = max(lo[2], cfg.root_z_range_m[0]), min(hi[2], cfg.root_z_range_m[1])
    n = np.maximum(1, np.ceil((hi - lo) / cfg.root_voxel_m).astype(int) + 1)
    axes = [lo[i] + cfg.root_voxel_m * np.arange(n[i]) for i in range(3)]
    X, Y, Z = np.meshgrid(*axes, indexing="ij")
    return np.stack([X, Y, Z], -1).reshape(-1, 3), (int(n[0]), int(n[1]), int(n[2]))


def _root_projection(rig: CameraRig, cfg: FusionConfig, device: torch.device):
    """Root grid, its shape and its projection into every camera of ``rig`` (camera name ->
    ``(in-image voxel indices, their pixels, 1 / 2 sigma_px^2)``): a pure function of the
    cameras and the config, so a session's rig keeps it (cameras are static)."""
    key = (
        __name__, "root_projection", tuple(rig),
        cfg.room_min_m, cfg.room_max_m, cfg.max_range_m, cfg.root_voxel_m, cfg.root_z_range_m, cfg.root_sigma_m, str(device),
    )  # fmt: skip
    return rig.derived(key, lambda: _build_root_projection(rig, cfg, device))


def _build_root_projection(rig: CameraRig, cfg: FusionConfig, device: torch.device):
    grid_np, shape = _root_grid(rig, cfg)
    grid = torch.as_tensor(grid_np, dtype=torch.float32, device=device)
    proj = {}
    for name, cam in rig.items():
        ct = _prepare(cam, rig.lens(name), device)
        uv, z = _project(ct, grid)
        sel = _in_image(ct, uv).nonzero().squeeze(1)
        inv2s2 = 0.5 / (ct.focal * cfg.root_sigma_m / z[sel].clamp(min=0.1)) ** 2
        proj[name] = (sel, uv[sel].contiguous(), inv2s2)
    return grid, shape, proj


# ----------------------------------------------------------------------------- helpers


def _torso_centres(kp: Keypoints2D, min_conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Per 2D skeleton: torso centre (P, 2) and a weight (P,) (0 = no torso keypoint)."""
    conf = np.where(kp.confidence >= min_conf, kp.confidence, 0.0)
    tc = conf[:, list(_TORSO)]
    tk = kp.keypoints_px[:, list(_TORSO)]
    # pair left/right so that a lone shoulder does not pull the centre sideways
    sh = (tc[:, 0] > 0) & (tc[:, 1] > 0)
    hp = (tc[:, 2] > 0) & (tc[:, 3] > 0)
    mid_sh = 0.5 * (tk[:, 0] + tk[:, 1])
    mid_hp = 0.5 * (tk[:, 2] + tk[:, 3])
    centre = np.where((sh & hp)[:, None], 0.5 * (mid_sh + mid_hp), np.where(hp[:, None], mid_hp, mid_sh))
    weight = np.where(sh & hp, tc.mean(1), np.where(sh | hp, 0.7 * tc.max(1), 0.0))
    # no left/right pair: the mean of the torso keypoints it has, else of all its keypoints
    any_t = (tc > 0).any(1)
    mean_t = (tk * (tc > 0)[..., None]).sum(1) / np.maximum((tc > 0).sum(1), 1)[:, None]
    ok_all = conf > 0
    mean_all = (kp.keypoints_px * ok_all[..., None]).sum(1) / np.maximum(ok_all.sum(1), 1)[:, None]
    lone = weight == 0
    centre = np.where((lone & any_t)[:, None], mean_t, np.where((lone & ~any_t)[:, None], mean_all, centre))
    weight = np.where(lone & any_t, 0.5 * tc.max(1), np.where(lone & (ok_all.sum(1) >= 3), 0.3 * conf.max(1), weight))
    return centre.astype(np.float32), weight.astype(np.float32)


def _window_centres(uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ok (N,), xy (N, 2) int64)``: the pixel each window of :func:`_sample_depth` is
    centred on (``ok`` False for non-finite ``uv``)."""
    uv = np.asarray(uv, np.float64).reshape(-1, 2)
    ok = np.isfinite(uv).all(-1)
    return ok, np.where(ok[:, None], np.round(uv), -1e6).astype(np.int64)


def _window_boxes(uv: np.ndarray, r: int, merge_px: int = 24) -> list[tuple[int, int, int, int]]:
    """Colour boxes ``(x0, y0, x1, y1)`` holding every pixel that :func:`_sample_depth`
    reads for ``uv`` and ``r``; windows closer than ``merge_px`` merge into one box."""
    ok, xy = _window_centres(uv)
    xy = xy[ok]
    if not len(xy):
        return []
    boxes = np.concatenate([xy - r, xy + r + 1], 1)
    merged = True
    while merged and len(boxes) > 1:  # merge overlapping (grown) boxes until none overlap
        g = boxes + np.array([-merge_px, -merge_px, merge_px, merge_px])
        hit = (g[:, None, 0] < g[None, :, 2]) & (g[None, :, 0] < g[:, None, 2]) & (g[:, None, 1] < g[None, :, 3]) & (g[None, :, 1] < g[:, None, 3])
        group = hit.argmax(1)  # the first box each box overlaps (itself at the latest)
        merged = bool((group != np.arange(len(boxes))).any())
        if merged:
            keys = np.unique(group)
            boxes = np.stack([np.concatenate([boxes[group == k, :2].min(0), boxes[group == k, 2:].max(0)]) for k in keys])
    return [tuple(int(v) for v in b) for b in boxes]


def _sample_depth(depth: np.ndarray, uv: np.ndarray, r: int = 2) -> np.ndarray:
    """Median of the valid depths in a (2r+1)^2 window around each pixel ``uv (N, 2)``
    (0 = none), vectorized."""
    h, w = depth.shape
    uv = np.asarray(uv, np.float64).reshape(-1, 2)
    ok, xy = _window_centres(uv)
    o = np.arange(-r, r + 1)
    xs = np.clip(xy[:, 0, None, None] + o[None, None, :], 0, w - 1)  # (N, 1, k)
    ys = np.clip(xy[:, 1, None, None] + o[None, :, None], 0, h - 1)  # (N, k, 1)
    win = depth[ys, xs].reshape(len(uv), -1).astype(np.float32)  # (N, k*k)
    inside = ok & (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    win = np.where(win > 0, win, np.nan)
    win[~inside] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows -> 0 below
        med = np.nanmedian(win, axis=1) if len(uv) else np.zeros(0)
    return np.nan_to_num(med, nan=0.0).astype(np.float32)


def _merge_split_people(people: list[Proposal], merge_m: float) -> list[Proposal]:
    """Two proposals whose roots are closer than ``merge_m`` are one person whose views were
    split between two peaks (no two torsos are that close): merge their claims when they
    come from different views; otherwise keep the stronger proposal only."""
    out: list[Proposal] = []
    for p in people:  # strongest first
        for i, q in enumerate(out):
            if np.linalg.norm(p.root_m - q.root_m) < merge_m:
                if not set(p.claim) & set(q.claim):
                    w = len(q.claim) / (len(q.claim) + len(p.claim))
                    out[i] = Proposal(w * q.root_m + (1 - w) * p.root_m, {**q.claim, **p.claim}, q.score + p.score)
                break
        else:
            out.append(p)
    return out


def _plausible(joints: np.ndarray, conf: np.ndarray, min_m: float = 0.05, max_m: float = 0.7) -> bool:
    """Limbs and torso sides of the confident joints have human lengths (at most a quarter
    of them outside ``[min_m, max_m]``)."""
    bones = [(a, b) for a, b in COCO17_BONES if a >= 5 and conf[a] > 0 and conf[b] > 0]
    if not bones:
        return True
    lengths = np.array([np.linalg.norm(joints[a] - joints[b]) for a, b in bones])
    return float(np.mean((lengths < min_m) | (lengths > max_m))) <= 0.25


def _cube(centres: torch.Tensor, size_m: float, n: int) -> torch.Tensor:
    """Voxel centres of cubes around ``centres (..., 3)``: ``(..., n^3, 3)``."""
    ax = (torch.arange(n, device=centres.device, dtype=centres.dtype) - (n - 1) / 2) * (size_m / n)
    X, Y, Z = torch.meshgrid(ax, ax, ax, indexing="ij")
    offs = torch.stack([X, Y, Z], -1).reshape(-1, 3)
    return centres[..., None, :] + offs


# ----------------------------------------------------------------------------- main


def fuse_poses(
    keypoints: Mapping[str, Keypoints2D],
    cameras: Mapping[str, Camera],
    frames: FrameSet | None,
    cfg: FusionConfig = FusionConfig(),
) -> list[PoseCandidate]:
    """3D COCO-17 skeletons of the people seen in one frame-set (see the module docstring).

    ``keypoints``: camera name -> 2D skeletons of that view (views may be missing);
    ``cameras``: calibration of (at least) those cameras, best the session's
    :class:`~orscene.geometry.rig.CameraRig` (it keeps the root grid's projection from
    frame-set to frame-set; plain cameras: built for the call); ``frames``: the frame-set,
    used for the views' depth maps when present (None = no depth).

    Torch runs with the process's thread setting (the pipeline sets it once per worker)."""
    device = torch.device(torch_device(cfg.device))
    names = _views_to_fuse(keypoints, cameras, cfg)
    if len(names) < cfg.min_views:
        return []
    rig = rig_of(cameras)
    grid, shape, proj = _root_projection(rig.subset(sorted(rig)), cfg, device)
    centres, weights = {}, {}
    for n in names:
        centres[n], weights[n] = _torso_centres(keypoints[n], cfg.min_keypoint_conf)
    # 1. root volume, 2. its peaks
    vol, evidence = _root_volume(centres, weights, proj, grid.shape[0], shape, cfg, device)
    roots_np, root_scores = _root_peaks(vol, evidence, grid, shape, cfg, device)
    if not len(roots_np):
        return []
    # 2.-3. ghost rejection with depth, then association
    ct = {n: _prepare(rig[n], rig.lens(n), device) for n in names}
    people = _proposals(roots_np, root_scores, keypoints, names, rig, _depth_views(frames, names), centres, weights, ct, cfg)
    if not people:
        return []
    # 4.-5. joints and their confidences
    joints_np, conf_np = _estimate_joints(people, keypoints, names, ct, cfg, device)
    # one person's views split between two proposals shows as two skeletons at one place
    torso = [joints_np[i, list(_TORSO)].mean(0).astype(np.float64) for i in range(len(people))]
    merged = _merge_split_people([Proposal(torso[i], p.claim, p.score) for i, p in enumerate(people)], cfg.merge_distance_m)
    if len(merged) < len(people):
        people = merged
        joints_np, conf_np = _estimate_joints(people, keypoints, names, ct, cfg, device)
    return _confident_people(people, joints_np, conf_np, cfg)


def _views_to_fuse(keypoints: Mapping[str, Keypoints2D], cameras: Mapping[str, Camera], cfg: FusionConfig) -> list[str]:
    """The calibrated views that have 2D skeletons; ShapeError for an uncalibrated view or
    keypoints that are not COCO-17."""
    names = [n for n in keypoints if n in cameras and keypoints[n].n_persons > 0]
    missing = [n for n in keypoints if n not in cameras]
    if missing:
        raise ShapeError("fuse_poses.keypoints", f"cameras that are calibrated ({sorted(cameras)})", missing)
    for n in names:
        if tuple(keypoints[n].joint_names) != tuple(keypoints[names[0]].joint_names) or len(keypoints[n].joint_names) != 17:
            raise ShapeError(f"fuse_poses.keypoints[{n}]", "COCO-17 keypoints", keypoints[n].joint_names)
    return names


def _depth_views(frames: FrameSet | None, names: list[str]) -> dict[str, View]:
    """Camera -> its view, for the views whose depth is registered or registrable in boxes."""
    out = {}
    if frames is not None:
        for n in names:
            v = frames.views.get(n)
            if v is not None and (v.depth_m is not None or v.depth_in_boxes is not None):
                out[n] = v
    return out


# ----------------------------------------------------------------------------- 1.-2. roots


def _root_volume(
    centres: Mapping[str, np.ndarray], weights: Mapping[str, np.ndarray], proj: Mapping, n_voxels: int,
    shape: tuple[int, int, int], cfg: FusionConfig, device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``(volume (shape), evidence (n_voxels,))``: every view's strongest torso-centre vote
    per voxel, summed over the views; the volume keeps the voxels that ``min_views`` views support."""
    evidence = torch.zeros(n_voxels, device=device)
    support = torch.zeros(n_voxels, device=device)
    for n, c_np in centres.items():
        w_np = weights[n]
        ok = w_np > 0
        if not ok.any():
            continue
        sel, uv, inv2s2 = proj[n]
        c = torch.as_tensor(c_np[ok], device=device)
        w = torch.as_tensor(w_np[ok], device=device)
        d2 = torch.cdist(uv, c).square_()  # (N_in, P)
        e = (torch.exp(-d2 * inv2s2[:, None]) * w[None]).amax(1)
        evidence.index_add_(0, sel, e)
        support.index_add_(0, sel, (e > cfg.min_root_evidence).float())
    vol = torch.where(support >= cfg.min_views, evidence, torch.zeros_like(evidence)).reshape(shape)
    return vol, evidence


def _root_peaks(
    vol: torch.Tensor, evidence: torch.Tensor, grid: torch.Tensor, shape: tuple[int, int, int], cfg: FusionConfig, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """``(roots (R, 3) float64, scores (R,))``, strongest first: the volume's local maxima
    (3D max-pool suppression), each refined to the evidence-weighted mean of its 3x3x3
    neighbourhood."""
    k = cfg.nms_kernel
    pooled = torch.nn.functional.max_pool3d(vol[None, None], k, stride=1, padding=k // 2)[0, 0]
    peaks = ((vol == pooled) & (vol > 0)).reshape(-1).nonzero().squeeze(1)
    if peaks.numel() == 0:
        return np.zeros((0, 3)), np.zeros(0, np.float32)
    order = torch.argsort(evidence[peaks], descending=True)[: cfg.max_people * 3]
    peaks = peaks[order]
    nx, ny, nz = shape
    idx3 = torch.stack([peaks // (ny * nz), (peaks // nz) % ny, peaks % nz], -1)
    offs = torch.stack(torch.meshgrid(*(torch.arange(-1, 2, device=device),) * 3, indexing="ij"), -1).reshape(-1, 3)
    nb = idx3[:, None, :] + offs[None]
    nb = torch.maximum(torch.minimum(nb, torch.tensor([nx - 1, ny - 1, nz - 1], device=device)), torch.zeros(3, dtype=torch.long, device=device))
    flat = nb[..., 0] * ny * nz + nb[..., 1] * nz + nb[..., 2]
    w_nb = vol.reshape(-1)[flat]
    roots = (grid[flat] * w_nb[..., None]).sum(1) / w_nb.sum(1, keepdim=True).clamp(min=1e-9)
    return roots.double().cpu().numpy(), evidence[peaks].cpu().numpy()


# ----------------------------------------------------------------------------- 2.-3. proposals


def _proposals(
    roots_np: np.ndarray, root_scores: np.ndarray, keypoints: Mapping[str, Keypoints2D], names: list[str], cameras: Mapping[str, Camera],
    depth_views: Mapping[str, View], centres: Mapping[str, np.ndarray], weights: Mapping[str, np.ndarray],
    ct: Mapping[str, _CamT], cfg: FusionConfig,
) -> list[Proposal]:  # fmt: skip
    """The roots, strongest first, that are not in measured free space, each with the 2D
    skeletons it claims (at least ``min_views``); split people merged."""
    root_uv, root_z = {}, {}
    for n in names:
        root_uv[n], root_z[n] = project_world(cameras[n], roots_np)
    det_depth, root_meas = _depth_evidence(keypoints, depth_views, root_uv, cfg)
    claimed = {n: np.zeros(keypoints[n].n_persons, bool) for n in names}
    people: list[Proposal] = []
    for ri, (r, score) in enumerate(zip(roots_np, root_scores)):
        if len(people) >= cfg.max_people:
            break
        if _in_free_space(ri, root_uv, root_z, root_meas, cfg):
            log.debug("root %s rejected: in free space for most depth views", r.round(2))
            continue
        claim: dict[str, int] = {}
        for n in names:
            best = _claim(n, root_uv[n][ri], root_z[n][ri], claimed[n], centres[n], weights[n], det_depth.get(n), ct[n].focal, cfg)
            if best is not None:
                claim[n] = best
        if len(claim) < cfg.min_views:
            continue
        for n, p in claim.items():
            claimed[n][p] = True
        people.append(Proposal(r, claim, float(score)))
    return _merge_split_people(people, cfg.merge_distance_m)


def _depth_evidence(
    keypoints: Mapping[str, Keypoints2D], depth_views: Mapping[str, View], root_uv: Mapping[str, np.ndarray], cfg: FusionConfig
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per view with depth: ``det_depth`` (per 2D skeleton, the median measured depth at its
    confident torso keypoints; 0 = none) and ``root_meas`` (measured depth at each root's
    projection). Depth is read only around the torso keypoints and the roots' projections."""
    depth = {}
    for n, v in depth_views.items():
        torso = keypoints[n].keypoints_px[:, list(_TORSO)].reshape(-1, 2)
        depth[n] = v.depth_m if v.depth_m is not None else v.depth_in_boxes(_window_boxes(np.concatenate([torso, root_uv[n]]), 3))
    det_depth = {}
    for n in depth:
        kp = keypoints[n]
        pts = kp.keypoints_px[:, list(_TORSO)].reshape(-1, 2)
        d = _sample_depth(depth[n], pts, r=1).reshape(kp.n_persons, len(_TORSO))
        d = np.where((kp.confidence[:, list(_TORSO)] >= cfg.min_keypoint_conf) & (d > 0), d, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # no valid depth -> 0 below
            det_depth[n] = np.nan_to_num(np.nanmedian(d, axis=1), nan=0.0) if kp.n_persons else np.zeros(0)
    root_meas = {n: _sample_depth(depth[n], root_uv[n], r=3) for n in depth}
    return det_depth, root_meas


def _in_free_space(ri: int, root_uv: Mapping[str, np.ndarray], root_z: Mapping[str, np.ndarray], root_meas: Mapping[str, np.ndarray], cfg: FusionConfig) -> bool:
    """Whether root ``ri`` lies where the cameras with depth see through: a body cannot be
    there. One clear view of free space suffices (ties count), so that two-camera ghosts
    are caught."""
    ghost_votes, seen = 0, 0
    for n, meas_n in root_meas.items():
        uv, z = root_uv[n][ri], root_z[n][ri]
        if not np.isfinite(uv).all() or z <= 0:
            continue
        meas = meas_n[ri]
        if meas > 0:
            seen += 1
            ghost_votes += int(meas > z + cfg.depth_free_space_m)
    return bool(ghost_votes and ghost_votes * 2 >= seen)


def _claim(
    n: str, uv: np.ndarray, z: float, claimed: np.ndarray, centres: np.ndarray, weights: np.ndarray,
    det_depth: np.ndarray | None, focal: float, cfg: FusionConfig,
) -> int | None:  # fmt: skip
    """The unclaimed 2D skeleton of view ``n`` whose torso centre lies nearest to a root's
    projection ``uv`` (depth ``z``), within ``assoc_gate_m`` at that depth; None if none.
    A skeleton whose visible torso lies behind the root is someone farther away (nearer
    surfaces may be occluders)."""
    if not np.isfinite(uv).all() or z <= 0:
        return None
    free = (~claimed) & (weights > 0)
    if not free.any():
        return None
    d = np.linalg.norm(centres - uv, axis=-1)
    gate = focal * cfg.assoc_gate_m / z
    d = np.where(free & (d <= gate), d, np.inf)
    if det_depth is not None:
        d = np.where((det_depth > 0) & (det_depth > z + cfg.depth_gate_m), np.inf, d)
    best = int(np.argmin(d))
    return best if np.isfinite(d[best]) else None


# ----------------------------------------------------------------------------- 4.-5. joints


@dataclass(frozen=True)
class _JointViews:
    """The claimed 2D skeletons of K people in the views that saw any of them, as tensors:
    ``kp[n] (K, J, 2)`` pixels and ``cf[n] (K, J)`` confidences (0 = not seen there)."""

    views: list[str]
    ct: Mapping[str, _CamT]
    kp: dict[str, torch.Tensor]
    cf: dict[str, torch.Tensor]
    cfg: FusionConfig
    device: torch.device


def _joint_views(
    people: list[Proposal], keypoints: Mapping[str, Keypoints2D], names: list[str], ct: Mapping[str, _CamT], cfg: FusionConfig, device: torch.device
) -> _JointViews:
    K, J = len(people), 17
    views = [n for n in names if any(n in p.claim for p in people)]
    kp_t, cf_t = {}, {}
    for n in views:
        kp = np.zeros((K, J, 2), np.float32)
        cf = np.zeros((K, J), np.float32)
        for i, p in enumerate(people):
            if n in p.claim:
                kp[i] = keypoints[n].keypoints_px[p.claim[n]]
                c = keypoints[n].confidence[p.claim[n]]
                cf[i] = np.where(c >= cfg.min_keypoint_conf, c, 0.0)
        kp_t[n] = torch.as_tensor(kp, device=device)
        cf_t[n] = torch.as_tensor(cf, device=device)
    return _JointViews(views, ct, kp_t, cf_t, cfg, device)


def _score_points(jv: _JointViews, pts: torch.Tensor, vox_m: float, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Robust log-likelihood of joint positions ``pts (K', J or 1, M, 3)`` -> (K', J, M)
    (``rows``: which of the K people the K' rows are; all by default)."""
    cfg = jv.cfg
    total = torch.zeros(pts.shape[0], 17, pts.shape[2], device=jv.device)
    for n in jv.views:
        cam = jv.ct[n]
        kp_n = jv.kp[n] if rows is None else jv.kp[n][rows]
        cf_n = jv.cf[n] if rows is None else jv.cf[n][rows]
        if not bool((cf_n > 0).any()):
            continue
        uv, z = _project(cam, pts)
        inside = _in_image(cam, uv)
        sig = torch.clamp(cam.focal * 0.5 * vox_m / z.clamp(min=0.1), min=cfg.keypoint_sigma_px)
        du = uv[..., 0] - kp_n[:, :, None, 0]  # (K', J, M)
        dv = uv[..., 1] - kp_n[:, :, None, 1]
        g = torch.exp((du * du + dv * dv) * (-0.5 / (sig * sig))) * cf_n[:, :, None]
        g = g.masked_fill(~inside, 0.0)
        total += torch.log1p(g / cfg.outlier_floor)
    return total


def _search(jv: _JointViews, centres: torch.Tensor, size_m: float, prior_m: torch.Tensor, prior_w: float, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Arg-max of the joint score (plus a Gaussian prior of width 1 m x ``1/prior_w`` at
    ``prior_m (K, J, 3)``) over a cube around ``centres (K, 1 or J, 3)``, then soft-argmax in
    ``fine_passes`` finer cubes (the prior stays in the score)."""
    cfg, J = jv.cfg, 17
    n_c = max(2, int(round(size_m / cfg.cube_voxel_m)))
    cube = _cube(centres, size_m, n_c)  # (K, 1|J, M, 3)
    s = _score_points(jv, cube, size_m / n_c, rows)
    s = s - prior_w * ((cube - prior_m[:, :, None, :]) ** 2).sum(-1) / 2
    best = s.argmax(-1)  # (K, J)
    joints = torch.gather(cube.expand(-1, J, -1, -1), 2, best[..., None, None].expand(-1, -1, 1, 3))[:, :, 0]
    vox = size_m / n_c
    for i in range(cfg.fine_passes):
        size = vox * 2.0  # the optimum is within half a voxel of the arg-max; keep margin
        vox = size / cfg.fine_voxels
        pts = _cube(joints, size, cfg.fine_voxels)  # (K, J, M, 3)
        sc = _score_points(jv, pts, vox, rows) - prior_w * ((pts - prior_m[:, :, None, :]) ** 2).sum(-1) / 2
        if i + 1 < cfg.fine_passes:  # re-centre on the arg-max (no truncation bias)
            best = sc.argmax(-1)
            joints = torch.gather(pts, 2, best[..., None, None].expand(-1, -1, 1, 3))[:, :, 0]
        else:  # the last, smallest cube: soft-argmax
            joints = (torch.softmax(sc, dim=-1)[..., None] * pts).sum(2)
    return joints


def _agreement(jv: _JointViews, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per joint ``(K, J)``: how many views agree with it (reprojection within ``inlier_px``
    or 3 sigma of a confident keypoint), and the sum of their confidences."""
    cfg = jv.cfg
    K, J = joints.shape[:2]
    agree = torch.zeros(K, J, device=jv.device)
    conf_sum = torch.zeros(K, J, device=jv.device)
    for n in jv.views:
        uv, _ = _project(jv.ct[n], joints[:, :, None, :])
        d = (uv[:, :, 0] - jv.kp[n]).norm(dim=-1)
        ok = (jv.cf[n] > 0) & (d <= max(cfg.inlier_px, 3 * cfg.keypoint_sigma_px))
        agree += ok.float()
        conf_sum += torch.where(ok, jv.cf[n], torch.zeros_like(jv.cf[n]))
    return agree, conf_sum


def _estimate_joints(
    people: list[Proposal], keypoints: Mapping[str, Keypoints2D], names: list[str], ct: Mapping[str, _CamT], cfg: FusionConfig, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """Joints ``(K, 17, 3)`` and confidences ``(K, 17)`` of the proposals (steps 4 and 5)."""
    J = 17
    jv = _joint_views(people, keypoints, names, ct, cfg, device)
    roots_t = torch.as_tensor(np.stack([p.root_m for p in people]), dtype=torch.float32, device=device)
    # a weak prior towards the root keeps every joint inside the body's reach
    joints = _search(jv, roots_t[:, None], cfg.cube_size_m, roots_t[:, None].expand(-1, J, -1), 0.1)
    agree, conf_sum = _agreement(jv, joints)
    # joints seen by fewer than two agreeing views lie somewhere on one ray: take the point
    # of the ray nearest to the mean of their well-seen neighbours (``_NEIGHBOURS``)
    nb = torch.zeros(J, J, device=device)
    for j, ns in enumerate(_NEIGHBOURS):
        nb[j, list(ns)] = 1.0
    good = (agree >= 2).float()  # (K, J)
    n_good = good @ nb.T  # (K, J): well-seen neighbours of each joint
    weak = (agree < 2) & (n_good > 0)
    if bool(weak.any()):
        rows = weak.any(1).nonzero().squeeze(1)
        prior = torch.einsum("jn,knc->kjc", nb, joints[rows] * good[rows][..., None]) / n_good[rows].clamp(min=1)[..., None]
        redo = _search(jv, prior, 1.2, prior, 1.0 / 0.25**2, rows)
        joints[rows] = torch.where(weak[rows][..., None], redo, joints[rows])
    # 5. confidences: the mean confidence of the agreeing views, 0 with fewer than two
    conf = torch.where(agree >= 2, conf_sum / agree.clamp(min=1), torch.zeros_like(conf_sum))
    return joints.cpu().numpy().astype(np.float32), conf.cpu().numpy().astype(np.float32)


def _confident_people(people: list[Proposal], joints_np: np.ndarray, conf_np: np.ndarray, cfg: FusionConfig) -> list[PoseCandidate]:
    """The candidates with ``min_confident_joints`` joints the views agree on and human limb
    lengths (the others are ghosts assembled from several people's detections)."""
    out = []
    for i, p in enumerate(people):
        if int((conf_np[i] > 0).sum()) < cfg.min_confident_joints:
            log.debug("person %d dropped: too few joints on which views agree", i)
            continue
        if not _plausible(joints_np[i], conf_np[i]):
            log.debug("person %d dropped: implausible limb lengths (assembled from several people)", i)
            continue
        cams = tuple(sorted(p.claim))
        out.append(PoseCandidate(joints_np[i], conf_np[i], cams, p.score, tuple(p.claim[c] for c in cams)))
    return out
