"""Identities over time for per-frame 3D skeletons, with gap filling and smoothing.

``track(candidates_per_frame, frame_indices, cfg, timestamps_ns=...)`` is a pure,
deterministic function; every duration is measured in seconds from the frame-sets'
timestamps:

1. **Assignment**: frame by frame, the live tracks (seen within ``max_gap_s``) and the
   frame's candidates are matched by the Hungarian algorithm (``scipy``) on the mean
   distance of the joints both have (confidence > 0), falling back to the distance of
   their confident-joint centroids. A pair is accepted only within the gate
   ``gate_m + gate_growth_m_per_s * max(0, seconds since the track was last seen -
   gate_growth_after_s)``; unmatched candidates open new tracks. A track not seen for
   more than ``max_gap_s`` ends: nothing links or interpolates across a longer gap.
2. Tracks observed in fewer than ``min_track_frames`` frame-sets are dropped (spurious).
3. **Gaps** (frame-sets without an observation, within ``max_gap_s``) are linearly
   interpolated in time, confidence 0. Joints missing at an observed frame (confidence 0)
   are interpolated from the same joint's confident neighbours in time (confidence stays
   0). When detection ran only on some frame-sets (``frame_indices`` strided) and
   ``output_frames`` asks for the frame-sets in between, those are interpolated too, with
   the confidence interpolated as well: they were not missed, only not looked at.
4. **Smoothing**: each joint trajectory is filtered with a confidence-weighted Gaussian
   over the whole track (``smoothing_sigma_frames``; zero phase, i.e. forward and backward
   alike).

``poses_at(tracks, frame_index, cfg)`` gives the poses at one frame-set;
``PersonPose.settled`` is False during a track's first ``settle_frames`` frame-sets.
Track ids are numbered ``0..n-1`` in order of first appearance.
"""

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import linear_sum_assignment

from orscene.errors import ShapeError
from orscene.pose.config import TrackingConfig
from orscene.types import PersonPose, PersonTrack, PoseCandidate

__all__ = ["TrackingConfig", "track", "poses_at", "pose_distance_m"]

_NOMINAL_FPS = 15.0
"""Frame-set rate assumed by :func:`track` when it is given no timestamps."""


def pose_distance_m(a_joints: np.ndarray, a_conf: np.ndarray, b_joints: np.ndarray, b_conf: np.ndarray) -> float:
    """Mean distance of the joints confident in both; else of the confident centroids."""
    both = (a_conf > 0) & (b_conf > 0)
    if both.sum() >= 3:
        return float(np.linalg.norm(a_joints[both] - b_joints[both], axis=-1).mean())
    ca = a_joints[a_conf > 0].mean(0) if (a_conf > 0).any() else a_joints.mean(0)
    cb = b_joints[b_conf > 0].mean(0) if (b_conf > 0).any() else b_joints.mean(0)
    return float(np.linalg.norm(ca - cb))


def _fill_joint(values: np.ndarray, known: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linearly interpolate ``values (T, 3)`` at times ``t (T,)`` where ``known`` is False
    (hold at the ends)."""
    if known.all() or not known.any():
        return values
    out = values.copy()
    for k in range(values.shape[1]):
        out[~known, k] = np.interp(t[~known], t[known], values[known, k])
    return out


def _smooth(x: np.ndarray, w: np.ndarray, sigma: float) -> np.ndarray:
    """Confidence-weighted Gaussian smoothing of ``x (T, J, 3)`` along time. The ends are
    padded by point reflection (``2 x_0 - x_k``) so that steady motion is not pulled back."""
    T = len(x)
    pad = min(T - 1, int(np.ceil(3 * sigma)))
    xp = np.concatenate([2 * x[:1] - x[pad:0:-1], x, 2 * x[-1:] - x[-2 : -pad - 2 : -1]])
    wp = np.concatenate([w[pad:0:-1], w, w[-2 : -pad - 2 : -1]])[..., None]
    num = gaussian_filter1d(xp * wp, sigma, axis=0, mode="nearest")
    den = gaussian_filter1d(np.broadcast_to(wp, xp.shape).copy(), sigma, axis=0, mode="nearest")
    return (num / den)[pad : pad + T]


def track(
    candidates_per_frame: Sequence[Sequence[PoseCandidate]],
    frame_indices: Sequence[int],
    cfg: TrackingConfig = TrackingConfig(),
    output_frames: Sequence[int] | None = None,
    timestamps_ns: Sequence[int] | None = None,
) -> list[PersonTrack]:
    """Link per-frame skeletons into tracks (see the module docstring).

    ``frame_indices`` are the frame-sets in which detection ran (one list of candidates
    each); tracks report ``output_frames`` (default: the same frame-sets).
    ``timestamps_ns`` holds the session's frame-set timestamps, indexed by frame-set index
    (it must reach the largest index used); None: frame-sets 1/15 s apart, the recordings'
    nominal rate."""
    frames = np.asarray(frame_indices, dtype=np.int64)
    if len(frames) != len(candidates_per_frame):
        raise ShapeError("track.frame_indices", f"one index per frame ({len(candidates_per_frame)})", len(frames))
    if len(frames) > 1 and np.any(np.diff(frames) <= 0):
        raise ShapeError("track.frame_indices", "strictly increasing frame indices", frames.tolist())
    last = int(max(frames.max(initial=0), max(output_frames, default=0) if output_frames is not None else 0))
    if timestamps_ns is None:
        stamps = np.round(np.arange(last + 1) * (1e9 / _NOMINAL_FPS)).astype(np.int64)
    else:
        stamps = np.asarray(timestamps_ns, np.int64)
        if stamps.shape[0] <= last:
            raise ShapeError("track.timestamps_ns", f"a timestamp for every frame-set up to {last}", stamps.shape[0])

    def secs(a: int, b: int) -> float:
        return (int(stamps[b]) - int(stamps[a])) * 1e-9

    # observations per raw track: list of (frame, joints, conf)
    raw: list[list[tuple[int, np.ndarray, np.ndarray]]] = []
    live: list[int] = []
    for f, cands in zip(frames.tolist(), candidates_per_frame):
        live = [t for t in live if secs(raw[t][-1][0], f) <= cfg.max_gap_s]
        cand = list(cands)
        matched_c: set[int] = set()
        if live and cand:
            cost = np.full((len(live), len(cand)), 1e6)
            for i, t in enumerate(live):
                lf, lj, lc = raw[t][-1]
                gate = cfg.gate_m + cfg.gate_growth_m_per_s * max(0.0, secs(lf, f) - cfg.gate_growth_after_s)
                for j, c in enumerate(cand):
                    d = pose_distance_m(lj, lc, c.joints_world_m, c.confidence)
                    if d <= gate:
                        cost[i, j] = d
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] < 1e6:
                    raw[live[r]].append((f, np.asarray(cand[c].joints_world_m, np.float64), np.asarray(cand[c].confidence, np.float64)))
                    matched_c.add(int(c))
        for j, c in enumerate(cand):
            if j not in matched_c:
                raw.append([(f, np.asarray(c.joints_world_m, np.float64), np.asarray(c.confidence, np.float64))])
                live.append(len(raw) - 1)

    tracks = []
    for obs in raw:
        if len(obs) < cfg.min_track_frames:
            continue
        f0, f1 = obs[0][0], obs[-1][0]
        span = np.arange(f0, f1 + 1)
        J = obs[0][1].shape[0]
        joints = np.zeros((len(span), J, 3))
        conf = np.zeros((len(span), J))
        seen = np.zeros(len(span), bool)
        for f, jt, cf in obs:
            joints[f - f0], conf[f - f0], seen[f - f0] = jt, cf, True
        t_s = (stamps[span] - stamps[f0]) * 1e-9
        looked = np.isin(span, frames)
        if not looked.all():  # strided detection: frame-sets in between take interpolated confidence
            for j in range(J):
                conf[~looked, j] = np.interp(t_s[~looked], t_s[looked], conf[looked, j])
        for j in range(J):
            known = seen & (conf[:, j] > 0)
            if not known.any():  # never confident: interpolate its raw positions over gaps
                known = seen
            joints[:, j] = _fill_joint(joints[:, j], known, t_s)
        if cfg.smoothing_sigma_frames > 0 and len(span) > 2:
            joints = _smooth(joints, np.where(conf > 0, conf, 1e-3), cfg.smoothing_sigma_frames)
        keep = np.isin(span, frames if output_frames is None else np.asarray(output_frames))
        tracks.append((f0, span[keep], joints[keep].astype(np.float32), conf[keep].astype(np.float32)))
    tracks.sort(key=lambda t: t[0])
    return [PersonTrack(i, fi, jt, cf) for i, (_, fi, jt, cf) in enumerate(tracks)]


def poses_at(tracks: Sequence[PersonTrack], frame_index: int, cfg: TrackingConfig = TrackingConfig()) -> list[PersonPose]:
    """The tracked poses at one frame-set (``settled`` False in a track's first frames)."""
    out = []
    for t in tracks:
        hit = np.nonzero(t.frame_indices == frame_index)[0]
        if hit.size == 0:
            continue
        i = int(hit[0])
        settled = bool(frame_index - int(t.frame_indices[0]) >= cfg.settle_frames)
        out.append(PersonPose(t.track_id, t.joints_world_m[i], t.confidence[i], settled, t.joint_names))
    return out
