"""Rotation and rigid-transform maths of the body stage (torch and numpy, no model data).

Conventions: rotation vectors ``r`` (axis times angle, radians); rotation matrices act on
column vectors; rigid transforms are (4, 4) ``dst_from_src``.
"""

import math

import numpy as np
import torch

__all__ = ["rotvec_to_rotmat", "rotmat_to_rotvec", "rigid_inverse", "kabsch"]


def rotvec_to_rotmat(rotvec: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, ``(..., 3) -> (..., 3, 3)``, smooth at zero:
    ``R = I + a K + b K^2`` with ``K = [r]_x``, ``a = sin(t) / t``, ``b = (1 - cos t) / t^2``,
    ``t = |r|`` (Taylor series below ``t^2 = 1e-8``)."""
    theta2 = (rotvec * rotvec).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    theta = torch.sqrt(theta2 + 1e-12)
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / (theta2 + 1e-12))
    x, y, z = rotvec[..., 0], rotvec[..., 1], rotvec[..., 2]
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*rotvec.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand_as(K)
    return eye + a * K + b * (K @ K)


def rotmat_to_rotvec(R: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) of one rotation matrix (3, 3) (numpy, float64).

    The angle is ``acos((trace R - 1) / 2)``; the axis comes from the antisymmetric part
    ``R - R^T``, or near 180 degrees from the symmetric part's leading eigenvector.

    >>> import numpy as np
    >>> rotmat_to_rotvec(np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])).round(6).tolist()
    [0.0, 0.0, 1.570796]
    """
    rotvec = np.zeros(3)
    angle = math.acos(np.clip((np.trace(R) - 1) / 2, -1, 1))
    if angle > 1e-6:
        axis = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
        n = np.linalg.norm(axis)
        if n < 1e-6:  # 180 degrees: axis from the symmetric part
            w, v = np.linalg.eigh((R + np.eye(3)) / 2)
            axis = v[:, -1]
        else:
            axis = axis / n
        rotvec = axis * angle
    return rotvec


def rigid_inverse(T: torch.Tensor) -> torch.Tensor:
    """Inverse of rigid (..., 4, 4) transforms: ``[R^T | -R^T t]``."""
    Rt = T[..., :3, :3].transpose(-1, -2)
    out = torch.zeros_like(T)
    out[..., :3, :3] = Rt
    out[..., :3, 3] = -(Rt @ T[..., :3, 3:])[..., 0]
    out[..., 3, 3] = 1
    return out


def kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rigid ``dst_from_src`` (4, 4) minimizing ``sum |R src + t - dst|^2`` (no scale), for
    point sets (N, 3) in correspondence (N >= 3, not collinear)."""
    cs, cd = src.mean(0), dst.mean(0)
    H = (src - cs).T.astype(np.float64) @ (dst - cd).astype(np.float64)
    U, _, Vt = np.linalg.svd(H)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = cd - R @ cs
    return T
