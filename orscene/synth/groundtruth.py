"""Ground truth of a synthetic session: ``annotations/groundtruth.npz``.

Written by ``orscene.synth.generate``; read with :func:`load_groundtruth`. Arrays are
indexed ``[T frames, P persons]`` (and ``C`` cameras for the 2D keypoints); entries of a
person absent at a frame (outside the room) are NaN. World frame: metres, z up.

Keys of the .npz (all plain numpy, no pickles):

=======================  ==================  ==============================================
``frames``               (T,) int64          frame-set indices 0..T-1
``timestamps_ns``        (T,) int64          nominal frame-set times (cameras jitter < 1 ms)
``person_ids``           (P,) int64          ids used in ``faces.json``
``roles``                (P,) str            surgeon, assistant, anesthetist, nurse, circulator, patient
``present``              (T, P) bool         the person is in the room
``joints_world_m``       (T, P, 17, 3)       COCO-17 joints (anny's COCO regressor)
``world_from_head``      (T, P, 4, 4)        origin at the face centre, +x the person's left, +y up, +z out of the face
``face_center_world_m``  (T, P, 3)           centroid of the posed face region (= ``world_from_head[..., :3, 3]``)
``world_from_body``      (T, P, 4, 4)        anny body frame to world
``pose_parameters``      (T, P, 104, 4, 4)   anny 'local-ref' bone deltas (float32); with ``phenotype`` and ``world_from_body`` they reproduce the exact mesh
``phenotype``            (P, 6)              anny gender, age, muscle, weight, height, proportions
``camera_names``         (C,) str
``keypoints_px``         (T, C, P, 17, 2)    COCO-17 joints projected with the lens distortion
``keypoint_visibility``  (T, C, P, 17) int8  COCO flags: 0 outside the image/absent, 1 inside but occluded, 2 visible
``face_visible_fraction`` (T, C, P)          share of the face's front-facing area visible in the view (NaN if absent)
``face_vertex_ids``      (Vf,) int64         ``orscene.body.face_region.anny_face_vertex_ids``
``head_center_world_m``  (T, P, 3)           optional (sessions written since the head stage): centre of the
                                             box of anny's ``head`` part vertices, axes of the head frame
=======================  ==================  ==============================================

Optional keys (``OPTIONAL_GROUNDTRUTH_KEYS``) may be missing in sessions written by older
versions; :meth:`SessionGroundTruth.head_centers` then falls back to an approximation.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orscene.errors import AnnotationError
from orscene.recording.session import atomic_write_bytes

__all__ = ["SessionGroundTruth", "load_groundtruth", "save_groundtruth", "GROUNDTRUTH_KEYS", "OPTIONAL_GROUNDTRUTH_KEYS", "head_box_centers"]

GROUNDTRUTH_KEYS = (
    "frames", "timestamps_ns", "person_ids", "roles", "present", "joints_world_m", "world_from_head",
    "face_center_world_m", "world_from_body", "pose_parameters", "phenotype", "camera_names", "keypoints_px",
    "keypoint_visibility", "face_visible_fraction", "face_vertex_ids",
)  # fmt: skip
OPTIONAL_GROUNDTRUTH_KEYS = ("head_center_world_m",)


def head_box_centers(vertices_world_m: np.ndarray, world_from_head: np.ndarray, head_vertex_ids: np.ndarray) -> np.ndarray:
    """(P, 3) head centres: the centre of the box, aligned with the head frame, that holds
    the posed head vertices (``vertices_world_m`` (P, V, 3), ``world_from_head`` (P, 4, 4))."""
    out = np.zeros((vertices_world_m.shape[0], 3))
    for p in range(vertices_world_m.shape[0]):
        R, t = world_from_head[p, :3, :3], world_from_head[p, :3, 3]
        local = (vertices_world_m[p, head_vertex_ids].astype(np.float64) - t) @ R  # head frame
        out[p] = R @ (0.5 * (local.min(axis=0) + local.max(axis=0))) + t
    return out


@dataclass(frozen=True)
class SessionGroundTruth:
    """Exact ground truth of a synthetic session (see the module docstring for shapes)."""

    frames: np.ndarray
    """(T,) int64 frame-set indices."""
    timestamps_ns: np.ndarray
    """(T,) int64 nominal frame-set times, ns since the session start."""
    person_ids: np.ndarray
    """(P,) int64 person ids, as in ``faces.json``."""
    roles: tuple[str, ...]
    """(P,) role per person; ``"patient"`` lies on the table."""
    present: np.ndarray
    """(T, P) bool: the person is in the room."""
    joints_world_m: np.ndarray
    """(T, P, 17, 3) float64 COCO-17 joints, world metres; NaN when absent."""
    world_from_head: np.ndarray
    """(T, P, 4, 4) float64 head frame (origin face centre, +x person's left, +y up, +z out of the face)."""
    face_center_world_m: np.ndarray
    """(T, P, 3) float64 face centre, world metres."""
    world_from_body: np.ndarray
    """(T, P, 4, 4) float64 anny body frame to world."""
    pose_parameters: np.ndarray
    """(T, P, 104, 4, 4) float32 anny 'local-ref' bone deltas."""
    phenotype: np.ndarray
    """(P, 6) float64 anny phenotype (gender, age, muscle, weight, height, proportions)."""
    camera_names: tuple[str, ...]
    """(C,) camera names, the order of the per-camera arrays."""
    keypoints_px: np.ndarray
    """(T, C, P, 17, 2) float32 projected COCO-17 joints, pixels (distortion included)."""
    keypoint_visibility: np.ndarray
    """(T, C, P, 17) int8 COCO flags: 0 outside/absent, 1 occluded, 2 visible."""
    face_visible_fraction: np.ndarray
    """(T, C, P) float64 visible share of the face (0 hidden or turned away, NaN absent)."""
    face_vertex_ids: np.ndarray
    """(Vf,) int64 anny face-region vertex ids."""
    head_center_world_m: np.ndarray | None = None
    """(T, P, 3) float64 head centre (centre of the head-frame box of anny's ``head`` part),
    world metres; None in sessions written before it existed (see :meth:`head_centers`)."""

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_persons(self) -> int:
        return int(self.person_ids.shape[0])

    def person_index(self, person_id: int) -> int:
        hit = np.nonzero(self.person_ids == person_id)[0]
        if hit.size == 0:
            raise KeyError(f"no person with id {person_id}")
        return int(hit[0])

    def camera_index(self, camera: str) -> int:
        return self.camera_names.index(camera)

    def head_centers(self) -> np.ndarray:
        """(T, P, 3) head centres: ``head_center_world_m`` when the session has it, else an
        approximation 8 cm behind the face centre along the face direction (older sessions)."""
        if self.head_center_world_m is not None:
            return self.head_center_world_m
        return self.face_center_world_m - 0.08 * self.world_from_head[..., :3, 2]

    def staff_mask(self) -> np.ndarray:
        """(P,) bool: everyone but the patient."""
        return np.array([r != "patient" for r in self.roles])


def save_groundtruth(path: str | Path, gt: SessionGroundTruth) -> Path:
    import io

    path = Path(path)
    arrays = {k: getattr(gt, k) for k in GROUNDTRUTH_KEYS}
    arrays.update({k: getattr(gt, k) for k in OPTIONAL_GROUNDTRUTH_KEYS if getattr(gt, k) is not None})
    arrays["roles"] = np.array(gt.roles, dtype=np.str_)
    arrays["camera_names"] = np.array(gt.camera_names, dtype=np.str_)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_groundtruth(path: str | Path) -> SessionGroundTruth:
    """Read ``groundtruth.npz`` (a file, or a session folder holding ``annotations/groundtruth.npz``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "annotations" / "groundtruth.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in GROUNDTRUTH_KEYS if k not in z.files]
            if missing:
                raise AnnotationError(f"ground truth lacks {missing}", path)
            d = {k: z[k] for k in GROUNDTRUTH_KEYS}
            d.update({k: z[k] for k in OPTIONAL_GROUNDTRUTH_KEYS if k in z.files})
    except FileNotFoundError:
        raise AnnotationError("ground truth file not found", path) from None
    except (ValueError, OSError) as e:
        raise AnnotationError(f"cannot read ground truth: {e}", path) from None
    d["roles"] = tuple(str(r) for r in d["roles"])
    d["camera_names"] = tuple(str(c) for c in d["camera_names"])
    T, P = d["present"].shape
    if d["joints_world_m"].shape != (T, P, 17, 3):
        raise AnnotationError(f"joints_world_m has shape {d['joints_world_m'].shape}, expected {(T, P, 17, 3)}", path)
    return SessionGroundTruth(**d)
