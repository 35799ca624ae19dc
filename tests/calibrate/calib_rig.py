"""A small Kinect-like camera model shared by the calibration tests."""

import numpy as np

from orscene.types import Intrinsics


def kinect_like_intrinsics(w: int = 640, h: int = 480) -> Intrinsics:
    """Kinect-like colour intrinsics with mild rational distortion."""
    K = np.array([[520.0, 0.0, w / 2 - 0.7], [0.0, 520.4, h / 2 + 1.3], [0.0, 0.0, 1.0]])
    dist = np.array([0.42, -2.5, 6e-4, -3e-4, 1.45, 0.30, -2.35, 1.38])
    return Intrinsics(K, dist, w, h)
