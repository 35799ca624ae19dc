"""Joint registration of N cameras from board detections (bundle adjustment over the
camera poses and the board placements), plus the floor alignment.

Observations are keyed ``(camera, placement)``: placement ``k`` is one position of the
board, seen by any subset of cameras at once (a placement per frame when the board is
moved, or a single placement when it lies still while cameras see it in turn).
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import least_squares

from orscene.calibrate.board import BoardSpec, CharucoCorners, board_corners_m
from orscene.calibrate.intrinsics import estimate_board_pose, matrix_to_rt, rt_to_matrix
from orscene.errors import CalibrationError
from orscene.types import Intrinsics

__all__ = [
    "WorldConfig",
    "WorldResult",
    "register_cameras",
    "WORLD_FROM_BOARD_FRAME",
    "floor_alignment",
]

log = logging.getLogger(__name__)

WORLD_FROM_BOARD_FRAME = np.diag([1.0, -1.0, -1.0, 1.0])
"""With ``world = board``: world x = board x, world y = -board y, world z = -board z, i.e.
z points out of the printed face (up for a board lying face-up on the floor); origin at
the board's first outer corner."""


@dataclass(frozen=True)
class WorldConfig:
    """Joint board/camera least squares."""

    min_corners: int = 6
    """Views with fewer corners are ignored; a camera without any usable view is an error."""
    loss: str = "huber"
    """Robust loss of scipy.optimize.least_squares (``linear``, ``huber``, ``soft_l1``)."""
    loss_scale_px: float = 2.0
    """Residual (pixels) where the robust loss starts down-weighting."""
    max_view_rms_px: float = 20.0
    """Views whose solvePnP RMS exceeds this are dropped as misdetections."""


@dataclass(frozen=True)
class WorldResult:
    cam_from_world: Mapping[str, np.ndarray]
    """Per camera (4, 4), metres, in the reference frame (see :func:`register_cameras`)."""
    world_from_board: Mapping[int, np.ndarray]
    """Per board placement (4, 4), metres."""
    rms_px: Mapping[str, float]
    """Per camera reprojection RMS over all its corners, pixels."""
    n_corners: Mapping[str, int]
    """Per camera number of corner observations used."""


def _project(intr: Intrinsics, cam_from_board: np.ndarray, obj: np.ndarray) -> np.ndarray:
    r, t = matrix_to_rt(cam_from_board)
    return cv2.projectPoints(obj, r, t, intr.K_px, intr.distortion)[0].reshape(-1, 2)


def _view_poses(
    observations: Mapping[tuple[str, int], CharucoCorners], intrinsics: Mapping[str, Intrinsics], spec: BoardSpec, cfg: WorldConfig
) -> dict[tuple[str, int], np.ndarray]:
    """solvePnP ``cam_from_board`` of every usable view (enough corners, RMS within
    ``max_view_rms_px``); CalibrationError naming a camera left without one."""
    pnp: dict[tuple[str, int], np.ndarray] = {}
    for c in sorted(intrinsics):
        keys = [key for key in observations if key[0] == c]
        best = max((len(observations[k]) for k in keys), default=0)
        usable = [k for k in keys if len(observations[k]) >= cfg.min_corners]
        if not usable:
            raise CalibrationError(
                f"never sees the calibration board "
                f"(at most {best} corners in {len(keys)} views, need {cfg.min_corners}): check that the board file "
                f"matches the printed board (squares, dictionary) and that the board faces this camera, with each "
                f"marker bit 2 px or more in its images (a larger board, nearer, less oblique)",
                camera=c,
            )
        for k in usable:
            T, rms = estimate_board_pose(observations[k], spec, intrinsics[c], camera=c, min_corners=cfg.min_corners)
            if rms > cfg.max_view_rms_px:
                log.warning("camera %s placement %s: solvePnP RMS %.1f px, view dropped", c, k[1], rms)
                continue
            pnp[k] = T
        if not any(k[0] == c for k in pnp):
            raise CalibrationError("no view of the board gives a consistent pose (solvePnP RMS too high)", camera=c)
    return pnp


def _chain_poses(
    pnp: Mapping[tuple[str, int], np.ndarray], cams: list[str], reference: str | None
) -> tuple[dict[str, np.ndarray], dict[int, np.ndarray]]:
    """Initial ``(cam_from_world, world_from_board)``: breadth-first chaining of the view
    poses over the bipartite camera/placement graph from the gauge (the reference camera
    at the origin, or the first placement at :data:`WORLD_FROM_BOARD_FRAME`)."""
    cam_from_world: dict[str, np.ndarray] = {}
    world_from_board: dict[int, np.ndarray] = {}
    if reference is not None:
        cam_from_world[reference] = np.eye(4)
    else:
        world_from_board[sorted({k for _, k in pnp})[0]] = WORLD_FROM_BOARD_FRAME.copy()
    changed = True
    while changed:
        changed = False
        for (c, k), c_from_b in pnp.items():
            if c in cam_from_world and k not in world_from_board:
                world_from_board[k] = np.linalg.inv(cam_from_world[c]) @ c_from_b
                changed = True
            elif k in world_from_board and c not in cam_from_world:
                cam_from_world[c] = c_from_b @ np.linalg.inv(world_from_board[k])
                changed = True
    for c in cams:
        if c not in cam_from_world:
            raise CalibrationError(
                "shares no board placement with the other cameras (not connected to the world frame)", camera=c
            )
    return cam_from_world, world_from_board


@dataclass(frozen=True)
class _Problem:
    """The least-squares problem: the views' board corners (object points and pixels) and
    which poses are free (the gauge's camera or placement stays fixed)."""

    intrinsics: Mapping[str, Intrinsics]
    obs_keys: list[tuple[str, int]]
    obs_obj: dict[tuple[str, int], np.ndarray]
    obs_img: dict[tuple[str, int], np.ndarray]
    free_cams: list[str]
    free_pl: list[int]

    def unpack(
        self, x: np.ndarray, cam_from_world: Mapping[str, np.ndarray], world_from_board: Mapping[int, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[int, np.ndarray]]:
        """The poses with the free ones read from ``x`` (6 values each: rotation vector, translation)."""
        cw = dict(cam_from_world)
        wb = dict(world_from_board)
        for i, c in enumerate(self.free_cams):
            cw[c] = rt_to_matrix(x[6 * i : 6 * i + 3], x[6 * i + 3 : 6 * i + 6])
        off = 6 * len(self.free_cams)
        for i, k in enumerate(self.free_pl):
            wb[k] = rt_to_matrix(x[off + 6 * i : off + 6 * i + 3], x[off + 6 * i + 3 : off + 6 * i + 6])
        return cw, wb

    def view_errors(self, key: tuple[str, int], cw: Mapping[str, np.ndarray], wb: Mapping[int, np.ndarray]) -> np.ndarray:
        """(N, 2) reprojection error of one view's corners, pixels."""
        c, k = key
        return _project(self.intrinsics[c], cw[c] @ wb[k], self.obs_obj[key]) - self.obs_img[key]


def _bundle_adjust(
    problem: _Problem, cam_from_world: dict[str, np.ndarray], world_from_board: dict[int, np.ndarray], cfg: WorldConfig
) -> tuple[dict[str, np.ndarray], dict[int, np.ndarray]]:
    """Refine the free poses by robust trust-region least squares over every corner."""
    x0 = np.concatenate(
        [np.concatenate(matrix_to_rt(cam_from_world[c])) for c in problem.free_cams]
        + [np.concatenate(matrix_to_rt(world_from_board[k])) for k in problem.free_pl]
        + [np.zeros(0)]
    )

    def residuals(x: np.ndarray) -> np.ndarray:
        cw, wb = problem.unpack(x, cam_from_world, world_from_board)
        return np.concatenate([problem.view_errors(key, cw, wb).ravel() for key in problem.obs_keys])

    x = x0
    if x0.size:
        x = least_squares(
            residuals, x0, loss=cfg.loss, f_scale=cfg.loss_scale_px, x_scale="jac", method="trf", xtol=1e-12, ftol=1e-12
        ).x
    return problem.unpack(x, cam_from_world, world_from_board)


def register_cameras(
    observations: Mapping[tuple[str, int], CharucoCorners],
    intrinsics: Mapping[str, Intrinsics],
    spec: BoardSpec,
    reference: str | None = None,
    cfg: WorldConfig = WorldConfig(),
) -> WorldResult:
    """Estimate every camera's pose from board corners seen in several cameras.

    Unknowns: ``cam_from_world`` per camera and ``world_from_board`` per placement, all
    6-DoF. Gauge: ``reference`` camera fixed at the world origin (world = that camera's
    frame), or with ``reference=None`` placement ``min(k)`` fixed at
    :data:`WORLD_FROM_BOARD_FRAME` (world = the board, z out of its face). Initialised
    by chaining per-view solvePnP poses over the camera/placement graph, then
    ``min sum_(c,k,j) rho(||project_c(cam_from_world_c @ world_from_board_k @ X_j) - x_ckj||^2)``
    with scipy's trust-region least squares.

    Raises CalibrationError naming a camera that never sees the board with enough
    corners, or that is not connected to the reference through shared placements.
    """
    cams = sorted(intrinsics)
    pnp = _view_poses(observations, intrinsics, spec, cfg)
    if reference is not None and reference not in intrinsics:
        raise CalibrationError(f"reference camera not among {cams}", camera=reference)
    cam_from_world, world_from_board = _chain_poses(pnp, cams, reference)
    placements = sorted(world_from_board)
    obs_keys = sorted(pnp)
    obj_all = board_corners_m(spec)
    problem = _Problem(
        intrinsics,
        obs_keys,
        {key: obj_all[observations[key].ids] for key in obs_keys},
        {key: observations[key].corners_px for key in obs_keys},
        [c for c in cams if c != reference],
        [k for k in placements if not (reference is None and k == placements[0])],
    )
    cw, wb = _bundle_adjust(problem, cam_from_world, world_from_board, cfg)
    rms: dict[str, float] = {}
    n_corners: dict[str, int] = {}
    for c in cams:
        e = np.concatenate([np.sum(problem.view_errors(key, cw, wb) ** 2, axis=1) for key in obs_keys if key[0] == c])
        rms[c] = float(np.sqrt(e.mean()))
        n_corners[c] = int(e.size)
        log.info("camera %s: %d corners, reprojection RMS %.3f px", c, e.size, rms[c])
    return WorldResult(cw, wb, rms, n_corners)


def floor_alignment(
    points_world_m: np.ndarray,
    camera_centres_world_m: np.ndarray,
    camera_up_world: np.ndarray,
    distance_threshold_m: float = 0.02,
    n_planes: int = 3,
    max_points: int = 20000,
    min_alignment: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, int]:
    """``new_world_from_world`` (4, 4) putting the floor at z = 0 with z up.

    Fits up to ``n_planes`` planes by RANSAC (open3d ``segment_plane``, each on the points
    left by the previous, refined by least squares over the inliers) and takes as the floor the largest one whose normal is within
    ``acos(min_alignment)`` of the cameras' mean up direction (``camera_up_world``, unit,
    usually ``-y`` of the cameras) and that has all camera centres on one side. The
    normal is oriented towards the cameras; x keeps the old x direction projected onto the
    floor. At most ``max_points`` (a seeded random subset) enter the RANSAC.
    Returns the transform and the number of floor inliers; raises CalibrationError
    if no plane qualifies.
    """
    import open3d as o3d

    pts = np.asarray(points_world_m, dtype=np.float64).reshape(-1, 3)
    if pts.shape[0] < 100:
        raise CalibrationError(f"only {pts.shape[0]} depth points to find the floor")
    if pts.shape[0] > max_points:  # RANSAC on a seeded random subset
        pts = pts[np.random.default_rng(seed).choice(pts.shape[0], max_points, replace=False)]
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    o3d.utility.random.seed(seed)
    up = np.asarray(camera_up_world, dtype=np.float64)
    up /= np.linalg.norm(up)
    centres = np.asarray(camera_centres_world_m, dtype=np.float64).reshape(-1, 3)
    candidates = []
    rest = pcd
    for _ in range(n_planes):
        if len(rest.points) < 100:
            break
        plane, inliers = rest.segment_plane(distance_threshold_m, 3, 1000)
        # refine the RANSAC model by least squares over its inliers (centroid + smallest
        # singular vector)
        inl = np.asarray(rest.points)[inliers]
        centroid = inl.mean(axis=0)
        n = np.linalg.svd(inl - centroid, full_matrices=False)[2][2]
        if n @ np.asarray(plane[:3]) < 0:
            n = -n
        d = -float(n @ centroid)
        side = centres @ n + d
        if np.mean(side) < 0:
            n, d, side = -n, -d, -side
        candidates.append((len(inliers), n, d, bool(np.all(side > 0))))
        rest = rest.select_by_index(inliers, invert=True)
    good = [c for c in candidates if c[3] and float(c[1] @ up) >= min_alignment]
    if not good:
        raise CalibrationError("no floor plane found in the depth points (none faces the cameras from below)")
    count, n, d, _ = max(good, key=lambda c: c[0])
    z = n
    x = np.array([1.0, 0.0, 0.0]) - z[0] * z
    if np.linalg.norm(x) < 1e-6:
        x = np.array([0.0, 1.0, 0.0]) - z[1] * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])  # rows: new axes in old coordinates
    T = np.eye(4)
    T[:3, :3] = R
    # a point p on the plane satisfies n.p + d = 0 -> new z = n.p + d
    T[:3, 3] = np.array([0.0, 0.0, d])
    return T, count
