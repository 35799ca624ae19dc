"""Azure-Kinect-like cameras and their placement in a synthetic operating room.

Intrinsics follow a real Azure Kinect DK factory calibration (the one in
``../shared/data/azure_kinect/calibration.json``): colour 1280x720 (the 4096x3072 sensor
cropped to 16:9 and scaled by 0.3125: fx ~ 612 px, rational distortion with strong
k1..k6), depth NFOV unbinned 640x576 (1024x1024 sensor cropped: fx ~ 505 px, ~75x65 deg),
the colour camera ~32 mm beside the depth sensor and tilted by ~5 deg. Each synthetic
device gets small seeded perturbations of these values, as real units differ.
"""

from collections.abc import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from orscene.errors import ConfigError
from orscene.geometry.camera import look_at_world_from_cam
from orscene.types import Camera, Intrinsics

__all__ = [
    "KINECT_COLOR_SIZE",
    "KINECT_DEPTH_SIZE",
    "kinect_color_intrinsics",
    "kinect_depth_intrinsics",
    "kinect_cam_from_depth",
    "or_camera_poses",
    "make_or_rig",
]

KINECT_COLOR_SIZE = (1280, 720)
KINECT_DEPTH_SIZE = (640, 576)

# Factory values of a real device (see module docstring), in OpenCV order k1 k2 p1 p2 k3 k4 k5 k6.
_COLOR_FX, _COLOR_FY, _COLOR_CX, _COLOR_CY = 611.8, 611.9, 639.3, 365.8
_COLOR_DIST = (0.3301, -2.4894, -0.000162, -0.000129, 1.4537, 0.2089, -2.3029, 1.3751)
_DEPTH_FX, _DEPTH_FY, _DEPTH_CX, _DEPTH_CY = 504.6, 504.7, 332.8, 304.8
_DEPTH_DIST = (0.5479, -0.02097, 0.0000206, -0.0000721, -0.002652, 0.8897, 0.08613, -0.01391)


def _device_distortion(nominal, rng: np.random.Generator) -> np.ndarray:
    """The factory radial terms (k1..k6 nearly cancel in the rational model, so perturbing
    them independently would change the lens wildly) with device-specific tangential terms."""
    d = np.array(nominal, dtype=np.float64)
    d[2:4] += rng.normal(0, 5e-5, 2)
    return d


def kinect_color_intrinsics(width_px: int, height_px: int, rng: np.random.Generator) -> Intrinsics:
    """Colour intrinsics of one device, for an image of ``width_px x height_px`` (the
    1280x720 mode scaled; other aspect ratios keep fx = fy and centre the principal point)."""
    s = width_px / KINECT_COLOR_SIZE[0]
    fx = (_COLOR_FX + rng.normal(0, 3.0)) * s
    fy = fx * (_COLOR_FY / _COLOR_FX)
    cx = (_COLOR_CX + 0.5 + rng.normal(0, 1.5)) * s - 0.5
    cy = (_COLOR_CY + 0.5 + rng.normal(0, 1.5)) * (height_px / KINECT_COLOR_SIZE[1]) - 0.5
    dist = _device_distortion(_COLOR_DIST, rng)
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
    return Intrinsics(K, dist, width_px, height_px)


def kinect_depth_intrinsics(scale: float, rng: np.random.Generator) -> Intrinsics:
    """NFOV unbinned depth intrinsics (640x576 at ``scale`` 1)."""
    w, h = round(KINECT_DEPTH_SIZE[0] * scale), round(KINECT_DEPTH_SIZE[1] * scale)
    fx = (_DEPTH_FX + rng.normal(0, 1.0)) * scale
    fy = fx * (_DEPTH_FY / _DEPTH_FX)
    cx = (_DEPTH_CX + 0.5 + rng.normal(0, 1.0)) * scale - 0.5
    cy = (_DEPTH_CY + 0.5 + rng.normal(0, 1.0)) * scale - 0.5
    dist = _device_distortion(_DEPTH_DIST, rng)
    return Intrinsics(np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), dist, w, h)


def kinect_cam_from_depth(rng: np.random.Generator) -> np.ndarray:
    """Colour-from-depth extrinsics: ~32 mm baseline along -x, ~5 deg downward tilt."""
    T = np.eye(4)
    rotvec = np.array([-0.0862, 0.0005, 0.0012]) + rng.normal(0, 0.002, 3)
    T[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    T[:3, 3] = np.array([-0.03208, -0.00221, 0.00388]) + rng.normal(0, 0.0005, 3)
    return T


# (eye, target) of the default layout: two high "surgical" cameras looking down onto the
# table, then two "workflow" cameras in opposite room corners (cf. the MVOR rig: ceiling
# cameras 2.3-2.8 m high, 30-60 deg down). The table is centred at the origin along x.
_LAYOUT: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = (
    ((-0.55, -1.75, 2.70), (0.05, 0.05, 1.05)),
    ((0.60, 1.75, 2.70), (-0.05, -0.05, 1.05)),
    ((2.75, -2.15, 2.45), (0.0, 0.0, 1.0)),
    ((-2.75, 2.15, 2.45), (0.0, 0.0, 1.0)),
)


def or_camera_poses(n_cameras: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``world_from_cam`` of ``n_cameras`` cameras: the default four, then more on a ring
    2.3-2.6 m high around the table. Positions jitter by a few centimetres."""
    poses = []
    for i in range(n_cameras):
        if i < len(_LAYOUT):
            eye, target = (np.array(p) for p in _LAYOUT[i])
        else:
            a = 2 * np.pi * (i - len(_LAYOUT)) / max(1, n_cameras - len(_LAYOUT)) + np.pi / 4
            eye = np.array([2.6 * np.cos(a), 2.0 * np.sin(a), 2.3 + 0.3 * ((i % 2) == 0)])
            target = np.array([0.0, 0.0, 1.0])
        eye = eye + rng.normal(0, 0.03, 3)
        target = target + rng.normal(0, 0.05, 3)
        poses.append(look_at_world_from_cam(eye, target))
    return poses


def make_or_rig(
    n_cameras: int, rgb_only: int, width_px: int, height_px: int, rng: np.random.Generator, names: Sequence[str] | None = None
) -> dict[str, Camera]:
    """The synthetic rig: ``cam0..camN-1``; the last ``rgb_only`` have no depth sensor.
    The depth grid scales with the colour width (640x576 at 1280 px wide)."""
    if n_cameras < 1:
        raise ConfigError(f"--cameras must be at least 1, got {n_cameras}")
    if not 0 <= rgb_only <= n_cameras:
        raise ConfigError(f"--rgb-only must be between 0 and --cameras ({n_cameras}), got {rgb_only}")
    names = list(names) if names is not None else [f"cam{i}" for i in range(n_cameras)]
    poses = or_camera_poses(n_cameras, rng)
    depth_scale = width_px / KINECT_COLOR_SIZE[0]
    cams = {}
    for i, (name, pose) in enumerate(zip(names, poses)):
        color = kinect_color_intrinsics(width_px, height_px, rng)
        depth = kinect_depth_intrinsics(depth_scale, rng)
        cam_from_depth = kinect_cam_from_depth(rng)
        has_depth = i < n_cameras - rgb_only
        cams[name] = Camera(
            name=name,
            color=color,
            world_from_cam=pose,
            depth=depth if has_depth else None,
            cam_from_depth=cam_from_depth if has_depth else None,
        )
    return cams
