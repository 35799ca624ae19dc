"""Plausible COCO-17 skeletons and rooms for fusion tests and benchmarks.

Used where no synthetic session (``orscene.synth``) is at hand: a standing or walking
adult of a given height, and a ring of cameras looking at the room centre. Positions are
world metres, z up, the floor at z = 0.
"""

import numpy as np

from orscene.geometry.camera import look_at_world_from_cam
from orscene.types import Camera, Intrinsics

__all__ = ["standing_skeleton", "walking_skeletons", "ring_cameras"]

# (forward, left, up) of each COCO-17 joint for a 1.75 m adult standing upright
_TEMPLATE = np.array([
    [0.10, 0.00, 1.62], [0.08, 0.035, 1.66], [0.08, -0.035, 1.66], [0.00, 0.075, 1.64], [0.00, -0.075, 1.64],
    [0.00, 0.19, 1.45], [0.00, -0.19, 1.45], [0.00, 0.22, 1.15], [0.00, -0.22, 1.15],
    [0.05, 0.22, 0.88], [0.05, -0.22, 0.88], [0.00, 0.10, 0.95], [0.00, -0.10, 0.95],
    [0.02, 0.10, 0.52], [0.02, -0.10, 0.52], [0.00, 0.10, 0.08], [0.00, -0.10, 0.08],
])  # fmt: skip


def standing_skeleton(centre_xy, yaw_rad: float, height_m: float = 1.75, phase_rad: float | None = None) -> np.ndarray:
    """``(17, 3)`` world joints of a person at ``centre_xy`` facing ``yaw`` (0 = +x).

    With ``phase_rad`` the legs and arms swing as in walking (amplitude about 0.25 m)."""
    t = _TEMPLATE.copy() * np.array([1.0, 1.0, height_m / 1.75])
    if phase_rad is not None:
        swing = 0.25 * np.sin(phase_rad)
        t[[13, 15], 0] += np.array([0.5, 1.0]) * swing  # left leg
        t[[14, 16], 0] -= np.array([0.5, 1.0]) * swing  # right leg
        t[[7, 9], 0] -= np.array([0.3, 0.6]) * swing  # arms opposite
        t[[8, 10], 0] += np.array([0.3, 0.6]) * swing
    f = np.array([np.cos(yaw_rad), np.sin(yaw_rad), 0.0])
    left = np.array([-f[1], f[0], 0.0])
    c = np.array([centre_xy[0], centre_xy[1], 0.0])
    return (c + t[:, :1] * f + t[:, 1:2] * left + t[:, 2:3] * np.array([0, 0, 1.0])).astype(np.float64)


def walking_skeletons(
    n_people: int, n_frames: int, fps: float, rng: np.random.Generator, room_half_m: float = 2.5, min_distance_m: float = 0.6
) -> np.ndarray:
    """``(T, P, 17, 3)``: people walking at 0.3-1 m/s on smooth curves inside the room; a
    person about to come closer than ``min_distance_m`` to another stops and turns."""
    starts = []
    while len(starts) < n_people:
        p = rng.uniform(-room_half_m * 0.7, room_half_m * 0.7, 2)
        if all(np.linalg.norm(p - q) > 0.8 for q in starts):
            starts.append(p)
    out = np.zeros((n_frames, n_people, 17, 3))
    pos = np.array(starts, dtype=np.float64)
    yaw = rng.uniform(-np.pi, np.pi, n_people)
    speed = rng.uniform(0.3, 1.0, n_people)
    turn = rng.uniform(-0.4, 0.4, n_people)
    height = rng.uniform(1.6, 1.9, n_people)
    phase = np.zeros(n_people)
    for t in range(n_frames):
        for i in range(n_people):
            out[t, i] = standing_skeleton(pos[i], yaw[i], height[i], phase[i])
        for i in range(n_people):
            heading = np.array([np.cos(yaw[i]), np.sin(yaw[i])])
            nxt = pos[i] + speed[i] / fps * heading
            others = np.delete(pos, i, axis=0)
            crowded = others.size and np.linalg.norm(others - nxt, axis=-1).min() < min_distance_m
            if np.abs(nxt).max() > room_half_m * 0.85 or crowded:
                # turn away (towards the room centre at a wall), and wait while crowded
                turn[i] = 1.5 if np.cross(heading, -pos[i]) >= 0 else -1.5
                if crowded:
                    yaw[i] += turn[i] / fps
                    continue
            yaw[i] += turn[i] / fps
            pos[i] = pos[i] + speed[i] / fps * np.array([np.cos(yaw[i]), np.sin(yaw[i])])
            phase[i] += 2 * np.pi * speed[i] / 1.2 / fps
    return out


def ring_cameras(n_cam: int = 4, radius_m: float = 3.5, height_m: float = 2.6, size_wh=(640, 480), f_px: float = 520.0, distortion=None) -> dict[str, Camera]:
    """``n_cam`` cameras on a circle around the origin, looking at (0, 0, 1) m."""
    w, h = size_wh
    K = np.array([[f_px, 0, (w - 1) / 2], [0, f_px, (h - 1) / 2], [0, 0, 1]])
    dist = np.zeros(8) if distortion is None else np.asarray(distortion, float)
    cams = {}
    for i in range(n_cam):
        a = 2 * np.pi * i / n_cam + 0.3
        eye = [radius_m * np.cos(a), radius_m * np.sin(a), height_m]
        cams[f"cam{i}"] = Camera(f"cam{i}", Intrinsics(K, dist, w, h), look_at_world_from_cam(eye, [0, 0, 1.0]))
    return cams
