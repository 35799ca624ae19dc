"""Fit a body model to 3D COCO-17 skeletons: shape per track, pose per frame.

Objective per person and frame (all terms in m^2 or equivalent, minimized by L-BFGS in torch,
batched over people and frames):

- keypoints: ``sum_j c_j w_j |J_j(pose, shape) - x_j|^2`` with the 3D confidences ``c_j``
  (0 = missing) and ``w_j = face_weight`` for nose, eyes and ears (they fix the head's
  orientation), 1 otherwise;
- pose prior: ``pose_prior * sum_b k_b |r_b|^2`` on the rotation vectors of the fitted bones
  (regularization towards the model's neutral pose; ``k_b`` stiffer for spine and clavicles);
- shape prior: ``shape_prior * |shape|^2`` (phenotype logits towards the average person);
- temporal smoothness: ``temporal * |r_t - r_(t-1)|^2`` and ``temporal * (|t_t - t_(t-1)| / 0.1 m)^2``
  between consecutive frames of a track (and towards the previous frame when warm-started).

Bone-length consistency over a track holds by construction: one shape per track (estimated on
up to ``shape_frames`` frames), so every frame's limbs have the same lengths. Only the bones
that COCO-17 observes are optimized (see ``orscene.body.anny_model.ANNY_FIT_BONES``); fingers,
toes and face bones keep their neutral pose.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from orscene._system import torch_device
from orscene.body.config import FitConfig
from orscene.body.models import BodyModel
from orscene.body.rotation import kabsch, rotmat_to_rotvec
from orscene.errors import ConfigError, ShapeError
from orscene.types import COCO17, BodyFit, HeadStatus, PersonPose, PersonTrack

__all__ = ["FitConfig", "FitState", "TrackState", "fit_bodies", "fit_track"]

log = logging.getLogger(__name__)

_TORSO = (5, 6, 11, 12)  # shoulders, hips
_FACE = (0, 1, 2, 3, 4)


@dataclass
class TrackState:
    """What a warm start needs from one track's previous frame."""

    pose: torch.Tensor
    """(n_pose, 3) rotation vectors."""
    transl: torch.Tensor
    """(3,) root position, metres."""
    shape: torch.Tensor
    """(n_shape,) shape parameters (frozen once ``shape_frames`` frames were seen)."""
    rest_vertices: np.ndarray
    """(V, 3) the track's mesh in the model's template pose (for the head frame)."""
    rest: object = None
    """The model's ``rest_state`` for ``shape`` (one row)."""
    mesh: object = None
    """The model's ``mesh_state`` for ``shape`` (one row)."""
    frames_seen: int = 1
    history: list = field(default_factory=list)
    """(targets, weights, pose, transl) of the first frames, kept until the shape is refitted."""
    missing: int = 0
    """Consecutive frame-sets this track has been absent."""


@dataclass
class FitState:
    """Per-track warm-start state carried from one frame-set to the next."""

    tracks: dict[int, TrackState] = field(default_factory=dict)


def _targets(poses: Sequence[PersonPose], device: str, dtype: torch.dtype, cfg: FitConfig) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.stack([p.joints_world_m for p in poses]).astype(np.float32)
    c = np.stack([p.confidence for p in poses]).astype(np.float32)
    c = np.where((c >= cfg.min_confidence) & np.isfinite(x).all(-1), c, 0.0)
    x = np.nan_to_num(x)
    w = np.ones(17, dtype=np.float32)
    w[list(_FACE)] = cfg.face_weight
    return torch.as_tensor(x, device=device, dtype=dtype), torch.as_tensor(c * w, device=device, dtype=dtype)


def _init_pose(model: BodyModel, rest_joints: np.ndarray, x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Root rotation vector and translation from a Kabsch fit of the neutral torso (and head)
    joints to the target; falls back to the confident joints' centroid."""
    idx = [j for j in (*_TORSO, 0, 1, 2) if c[j] > 0]
    rotvec = np.zeros(3)
    if len(idx) >= 3:
        T = kabsch(rest_joints[idx], x[idx])
        rotvec = rotmat_to_rotvec(T[:3, :3])
        transl = T[:3, 3]
    else:
        ok = c > 0
        transl = (x[ok].mean(0) - rest_joints[ok].mean(0)) if ok.any() else np.zeros(3)
    return rotvec, transl


@dataclass(frozen=True)
class _Problem:
    """What one L-BFGS run fits: B items (person-frames), each with its COCO-17 targets."""

    x: torch.Tensor
    """(B, 17, 3) target joints, metres (0 where missing)."""
    w: torch.Tensor
    """(B, 17) joint weights (confidence x face weight; 0 = missing)."""
    shape_index: torch.Tensor
    """(B,) each item's row of the shape (S, n_shape)."""
    prev_pose: torch.Tensor | None = None
    """(B, n_pose, 3) a previous frame's pose that pulls each item (with ``prev_transl``)."""
    prev_transl: torch.Tensor | None = None
    """(B, 3) a previous frame's translation, metres."""
    track_chain: torch.Tensor | None = None
    """(B,) bool: item i's predecessor in its track is item i-1 (smoothness between them)."""


@dataclass(frozen=True)
class _Params:
    """The variables of a fit: pose (B, n_pose, 3), transl (B, 3) metres, shape (S, n_shape)."""

    pose: torch.Tensor
    transl: torch.Tensor
    shape: torch.Tensor


def _optimize(model: BodyModel, problem: _Problem, start: _Params, cfg: FitConfig, iters: int, fit_shape: bool,
              rest: object = None) -> _Params:  # fmt: skip
    """L-BFGS over pose and transl, and with ``fit_shape`` the shape too, from ``start``.

    With ``fit_shape``, the pose is first refined alone (``iters`` iterations, cheap), then
    pose and shape together for ``3 iters / 4`` iterations (each costs a shape evaluation).
    Without it, the shape stays fixed; ``rest`` is its precomputed ``model.rest_state``.
    """
    x, w, shape_index = problem.x, problem.w, problem.shape_index
    prev_pose, prev_transl, track_chain = problem.prev_pose, problem.prev_transl, problem.track_chain
    pose, transl, shape = start.pose, start.transl, start.shape
    if fit_shape:
        rest0 = model.rest_state(shape.detach()) if rest is None else rest
        first = _optimize(model, problem, start, cfg, iters, False, rest0)
        pose, transl = first.pose, first.transl
        iters = max(iters * 3 // 4, 3)
    pose = pose.detach().clone().requires_grad_(True)
    transl = transl.detach().clone().requires_grad_(True)
    shape = shape.detach().clone().requires_grad_(fit_shape)
    params = [pose, transl] + ([shape] if fit_shape else [])
    rest_fixed = None if fit_shape else (model.rest_state(shape) if rest is None else rest)
    prior_w = model.pose_prior_weight
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iters, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)  # fmt: skip

    def closure() -> torch.Tensor:
        opt.zero_grad()
        rest = model.rest_state(shape) if fit_shape else rest_fixed
        joints = model.posed_joints(pose, transl, rest, shape_index)
        loss = (w * ((joints - x) ** 2).sum(-1)).sum()
        loss = loss + cfg.pose_prior * (prior_w[None, :] * (pose**2).sum(-1)).sum()
        if fit_shape:
            loss = loss + cfg.shape_prior * (shape**2).sum()
        if prev_pose is not None:
            loss = loss + cfg.temporal * (((pose[:, 1:] - prev_pose[:, 1:]) ** 2).sum() + ((transl - prev_transl) ** 2).sum() / 0.01)
        if track_chain is not None and pose.shape[0] > 1:
            m = track_chain[1:].to(pose.dtype)
            dp = ((pose[1:, 1:] - pose[:-1, 1:]) ** 2).sum((-1, -2))
            dt = ((transl[1:] - transl[:-1]) ** 2).sum(-1) / 0.01
            loss = loss + cfg.temporal * (m * (dp + dt)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return _Params(pose.detach(), transl.detach(), shape.detach())


def _neutral_joints(model: BodyModel, shape: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        B = shape.shape[0]
        zero = torch.zeros(B, model.n_pose, 3, dtype=model.dtype, device=model.device)
        return model.posed_joints(zero, torch.zeros(B, 3, dtype=model.dtype, device=model.device), model.rest_state(shape)).cpu().numpy()


def _cat_rows(states: list) -> object:
    """Concatenate per-track model states (tensors or tuples of tensors) along the batch."""
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*states))
    return torch.cat(states)


def _shape_data(model: BodyModel, shape: torch.Tensor) -> tuple[object, object, np.ndarray]:
    """(rest_state, mesh_state, template-pose vertices (V, 3)) for one shape row (1, n_shape)."""
    with torch.no_grad():
        rest = model.rest_state(shape)
        mesh = model.mesh_state(shape)
        template = model.template_vertices(shape)
    return rest, mesh, template[0].cpu().numpy()


def _meshes(model: BodyModel, pose: torch.Tensor, transl: torch.Tensor, rest: object, mesh: object) -> tuple[np.ndarray, np.ndarray]:
    """Posed vertices (B, V, 3) and COCO joints (B, 17, 3) over one shape's states."""
    with torch.no_grad():
        verts = model.posed_vertices(pose, transl, mesh)
        joints = model.posed_joints(pose, transl, rest)
    return verts.cpu().numpy().astype(np.float32), joints.cpu().numpy().astype(np.float32)


def _body_fit(model: BodyModel, track_id: int, verts: np.ndarray, joints: np.ndarray, rest_verts: np.ndarray,
              x: np.ndarray, c: np.ndarray) -> BodyFit:  # fmt: skip
    ok = c > 0
    resid = float(np.sqrt(((joints[ok] - x[ok]) ** 2).sum(-1).mean())) if ok.any() else float("inf")
    return BodyFit(
        track_id=track_id,
        vertices_world_m=verts,
        faces=model.faces,
        joints_world_m=joints,
        head_vertex_ids=model.head_vertex_ids,
        face_vertex_ids=model.face_vertex_ids,
        world_from_head=model.world_from_head(rest_verts, verts),
        head_status=HeadStatus.KEYPOINTS_ONLY,
        fit_residual_m=resid,
    )


def _check_device(model: BodyModel, cfg: FitConfig) -> None:
    if torch.device(torch_device(cfg.device)).type != model.device.type:
        raise ConfigError(f"FitConfig.device is {cfg.device!r} but the body model lives on {model.device} (load it there)")


def _check_pose(p: PersonPose) -> None:
    if tuple(p.joint_names) != COCO17:
        raise ShapeError(f"PersonPose[{p.track_id}].joint_names", "COCO-17", p.joint_names[:3])


def fit_bodies(model: BodyModel, poses: Sequence[PersonPose], cfg: FitConfig,
               warm: FitState | None = None) -> tuple[list[BodyFit], FitState]:  # fmt: skip
    """Fit every person of one frame-set, warm-started from the previous frame's state.

    A track new to ``warm`` gets a cold start (torso Kabsch, then shape and pose on this
    frame); a known track refines its pose only, pulled towards its previous pose. When a
    track reaches ``shape_frames`` frames, its shape is refitted once on all of them jointly
    (consistent bone lengths over the track) and frozen. Poses with fewer than ``min_joints``
    confident joints get no fit. Returns the fits (in the order of ``poses``, skipping
    unfitted ones) and the new state (tracks absent from ``poses`` are dropped).
    """
    _check_device(model, cfg)
    state = FitState() if warm is None else warm
    new_state = FitState()
    dev, dt = model.device, model.dtype
    for p in poses:
        _check_pose(p)
    poses = [p for p in poses if int((p.confidence >= cfg.min_confidence).sum()) >= cfg.min_joints]
    present = {p.track_id for p in poses}
    for tid, ts in state.tracks.items():
        if tid not in present and ts.missing + 1 < cfg.keep_missing_frames:
            new_state.tracks[tid] = replace(ts, missing=ts.missing + 1)
    if not poses:
        return [], new_state
    x, w = _targets(poses, str(dev), dt, cfg)
    xn, cn = x.cpu().numpy(), (w > 0).cpu().numpy()
    P = len(poses)
    pose = torch.zeros(P, model.n_pose, 3, dtype=dt, device=dev)
    transl = torch.zeros(P, 3, dtype=dt, device=dev)
    shape = torch.zeros(P, model.n_shape, dtype=dt, device=dev)
    cold = [i for i, p in enumerate(poses) if p.track_id not in state.tracks]
    known = [i for i, p in enumerate(poses) if p.track_id in state.tracks]
    if cold:
        idx = torch.as_tensor(cold, device=dev)
        s0 = torch.zeros(len(cold), model.n_shape, dtype=dt, device=dev)
        neutral = _neutral_joints(model, s0[:1])[0]
        p0 = torch.zeros(len(cold), model.n_pose, 3, dtype=dt, device=dev)
        t0 = torch.zeros(len(cold), 3, dtype=dt, device=dev)
        for k, i in enumerate(cold):
            rv, t = _init_pose(model, neutral, xn[i], cn[i])
            p0[k, 0] = torch.as_tensor(rv, dtype=dt, device=dev)
            t0[k] = torch.as_tensor(t, dtype=dt, device=dev)
        problem = _Problem(x[idx], w[idx], torch.arange(len(cold), device=dev))
        fit = _optimize(model, problem, _Params(p0, t0, s0), cfg, cfg.iters_cold, True)
        pose[idx], transl[idx], shape[idx] = fit.pose, fit.transl, fit.shape
    if known:
        idx = torch.as_tensor(known, device=dev)
        tss = [state.tracks[poses[i].track_id] for i in known]
        s_k = torch.stack([t.shape for t in tss])
        prev_pose, prev_tr = torch.stack([t.pose for t in tss]), torch.stack([t.transl for t in tss])
        rest = _cat_rows([t.rest for t in tss])
        problem = _Problem(x[idx], w[idx], torch.arange(len(known), device=dev), prev_pose=prev_pose, prev_transl=prev_tr)
        fit = _optimize(model, problem, _Params(prev_pose, prev_tr, s_k), cfg, cfg.iters_warm, False, rest=rest)
        pose[idx], transl[idx], shape[idx] = fit.pose, fit.transl, s_k
    # shape refit for tracks that reach shape_frames now, on all their frames so far
    shape_data: dict[int, tuple] = {}
    for i in known:
        ts = state.tracks[poses[i].track_id]
        if ts.frames_seen + 1 != cfg.shape_frames or not ts.history:
            continue
        hx = torch.stack([h[0] for h in ts.history] + [x[i]])
        hw = torch.stack([h[1] for h in ts.history] + [w[i]])
        hp = torch.stack([h[2] for h in ts.history] + [pose[i]])
        ht = torch.stack([h[3] for h in ts.history] + [transl[i]])
        zero = torch.zeros(hx.shape[0], dtype=torch.long, device=dev)
        fit = _optimize(model, _Problem(hx, hw, zero), _Params(hp, ht, ts.shape[None]), cfg, cfg.iters_warm * 2, True)
        hp, ht, s_new = fit.pose, fit.transl, fit.shape
        pose[i], transl[i], shape[i] = hp[-1], ht[-1], s_new[0]
        shape_data[i] = _shape_data(model, s_new)
    for i in cold:
        shape_data[i] = _shape_data(model, shape[i : i + 1])
    fits = []
    for i, p in enumerate(poses):
        prev = state.tracks.get(p.track_id)
        rest, mesh, rest_v = shape_data[i] if i in shape_data else (prev.rest, prev.mesh, prev.rest_vertices)
        verts, joints = _meshes(model, pose[i : i + 1], transl[i : i + 1], rest, mesh)
        fits.append(_body_fit(model, p.track_id, verts[0], joints[0], rest_v, xn[i], cn[i]))
        n = 1 if prev is None else prev.frames_seen + 1
        history = [] if n >= cfg.shape_frames else (([] if prev is None else prev.history) + [(x[i], w[i], pose[i], transl[i])])
        new_state.tracks[p.track_id] = TrackState(pose[i], transl[i], shape[i], rest_v, rest, mesh, n, history)
    return fits, new_state


def fit_track(model: BodyModel, track: PersonTrack, cfg: FitConfig) -> list[BodyFit]:
    """Fit a whole track at once: shape on up to ``shape_frames`` frames (jointly with their
    poses), then every frame's pose with temporal smoothness, batched over frames.

    Frames with fewer than ``min_joints`` confident joints are fitted from their neighbours
    through the smoothness term. Returns one BodyFit per frame of the track.
    """
    _check_device(model, cfg)
    if tuple(track.joint_names) != COCO17:
        raise ShapeError(f"PersonTrack[{track.track_id}].joint_names", "COCO-17", track.joint_names[:3])
    dev, dt = model.device, model.dtype
    T = track.frame_indices.shape[0]
    poses = [PersonPose(track.track_id, track.joints_world_m[t], track.confidence[t]) for t in range(T)]
    x, w = _targets(poses, str(dev), dt, cfg)
    xn, cn = x.cpu().numpy(), (w > 0).cpu().numpy()
    good = np.nonzero(cn.sum(1) >= cfg.min_joints)[0]
    if good.size == 0:
        return []
    # stage 1: shape from up to shape_frames evenly spaced good frames
    sel = good[np.linspace(0, good.size - 1, min(cfg.shape_frames, good.size)).round().astype(int)]
    shape = torch.zeros(1, model.n_shape, dtype=dt, device=dev)
    neutral = _neutral_joints(model, shape)[0]
    init = [_init_pose(model, neutral, xn[t], cn[t]) for t in range(T)]
    pose0 = torch.zeros(T, model.n_pose, 3, dtype=dt, device=dev)
    pose0[:, 0] = torch.as_tensor(np.stack([r for r, _ in init]), dtype=dt, device=dev)
    tr0 = torch.as_tensor(np.stack([t for _, t in init]), dtype=dt, device=dev)
    sel_t = torch.as_tensor(sel, device=dev)
    zeros = torch.zeros(len(sel), dtype=torch.long, device=dev)
    problem = _Problem(x[sel_t], w[sel_t], zeros)
    fit = _optimize(model, problem, _Params(pose0[sel_t], tr0[sel_t], shape), cfg, cfg.iters_cold, True)
    p_sel, t_sel, shape = fit.pose, fit.transl, fit.shape
    # stage 2: all frames, shape frozen; start each frame from the nearest shape frame's pose
    nearest = np.abs(np.arange(T)[:, None] - sel[None, :]).argmin(1)
    pose0 = p_sel[torch.as_tensor(nearest, device=dev)].clone()
    tr0 = t_sel[torch.as_tensor(nearest, device=dev)] + (tr0 - tr0[torch.as_tensor(sel[nearest], device=dev)])
    chain = torch.ones(T, dtype=torch.bool, device=dev)
    chain[1:] = torch.as_tensor(np.diff(track.frame_indices) == 1, device=dev)
    chain[0] = False
    problem = _Problem(x, w, torch.zeros(T, dtype=torch.long, device=dev), track_chain=chain)
    fit = _optimize(model, problem, _Params(pose0, tr0, shape), cfg, cfg.iters_track, False)
    pose, transl = fit.pose, fit.transl
    rest, mesh, rest_v = _shape_data(model, shape)
    verts, joints = _meshes(model, pose, transl, rest, mesh)
    return [_body_fit(model, track.track_id, verts[t], joints[t], rest_v, xn[t], cn[t]) for t in range(T)]
