"""People of a synthetic OR: who they are, what they wear, how they move, and their meshes.

Each person is an anny body (``orscene.body``'s model, phenotype sampled per person) with an outfit painted
procedurally by the renderer from the body's rest-pose coordinates (see ``raster.py``) and a
motion script: keyframes at stations around the OR table, walks between them, entering and
leaving through the door. ``pose_people`` turns the scripts at one instant into anny pose
parameters, meshes, COCO-17 joints and head frames, all in the world frame.

Body frame (anny): metres, z up, the body faces -y, +x is the person's left, origin near
the pelvis. ``world_from_body`` = rotation about z by ``heading + pi/2`` (the person faces
``(cos heading, sin heading)``) and a translation that puts the soles on the floor.
"""

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

if TYPE_CHECKING:
    from orscene.body.anny_model import AnnyBodyModel

__all__ = [
    "Role",
    "Outfit",
    "Keyframe",
    "PersonSpec",
    "PersonState",
    "PeopleRig",
    "PosedPeople",
    "load_people_rig",
    "person_state",
    "with_tracks",
    "pose_people",
    "PHENOTYPE_LABELS",
    "DOOR_XY",
    "ROOM_HALF_EXTENT_M",
]

PHENOTYPE_LABELS = ("gender", "age", "muscle", "weight", "height", "proportions")
ROOM_HALF_EXTENT_M = (3.2, 2.6)
"""The room spans x in [-3.2, 3.2] and y in [-2.6, 2.6] (metres); the table is at the origin."""
DOOR_XY = (3.2, -1.2)
"""Centre of the door in the +x wall; people outside the room (x > 3.2) are absent."""


class Role(enum.Enum):
    SURGEON = "surgeon"
    ASSISTANT = "assistant"
    ANESTHETIST = "anesthetist"
    NURSE = "nurse"
    CIRCULATOR = "circulator"
    PATIENT = "patient"


@dataclass(frozen=True)
class Outfit:
    """Colours (linear-ish RGB in [0, 1]) and garments of one person."""

    skin: tuple[float, float, float]
    top: tuple[float, float, float]
    pants: tuple[float, float, float]
    hair: tuple[float, float, float]
    shoes: tuple[float, float, float] = (0.9, 0.9, 0.92)
    cap: tuple[float, float, float] | None = None
    """Cap colour, or None for no cap."""
    mask: tuple[float, float, float] | None = None
    """Surgical mask colour, or None for no mask."""
    gloves: tuple[float, float, float] | None = None
    gown: bool = False
    """Long-sleeved gown to the shins instead of a short-sleeved scrub top."""
    iris: tuple[float, float, float] = (0.25, 0.17, 0.1)
    glasses: bool = False
    """Spectacle frames (painted on the face)."""
    lip: tuple[float, float, float] | None = None
    """Lip colour; None = derived from the skin."""
    stubble: float = 0.0
    """Beard shadow on the jaw, 0..1."""
    hair_len_m: float = 0.008
    """Hair volume over the scalp (displaced geometry), metres."""
    pattern_seed: int = 0
    """Offsets the procedural skin, hair and cloth patterns."""


@dataclass(frozen=True)
class Keyframe:
    """The person is at ``xy_m`` facing ``heading_rad`` at ``t_s``, doing ``activity`` until
    the next keyframe starts moving them (positions between keyframes are eased)."""

    t_s: float
    xy_m: tuple[float, float]
    heading_rad: float
    work: float = 0.0
    """0 = standing idle, 1 = working at the table (leaning over it, hands forward)."""


@dataclass(frozen=True)
class PersonSpec:
    person_id: int
    role: Role
    phenotype: tuple[float, ...]
    """anny phenotype values in [0, 1], in ``PHENOTYPE_LABELS`` order."""
    outfit: Outfit
    keyframes: tuple[Keyframe, ...]
    """Motion script (ignored for the patient, who lies on the table)."""
    head_seed: int = 0
    """Seed of this person's head and arm movements (smooth, deterministic)."""
    lying_world_from_body: np.ndarray | None = field(default=None, compare=False)
    """For the patient: the fixed body pose on the table."""
    tracks: dict | None = field(default=None, compare=False, repr=False)
    """The script sampled at 100 Hz (``with_tracks``); computed on the fly when None."""


@dataclass(frozen=True)
class PersonState:
    present: bool
    xy_m: np.ndarray
    heading_rad: float
    walk_phase_rad: float
    walk_amp: float
    work: float
    head_yaw_rad: float
    head_pitch_rad: float
    arm_wave: float


# --------------------------------------------------------------------------- motion
def _ease(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3 - 2 * s)


_TRACK_HZ = 100.0


def _tracks(spec: PersonSpec, t_end_s: float) -> dict[str, np.ndarray]:
    """Sample a person's script at 100 Hz: position, heading, walk phase and amplitude, work."""
    kfs = spec.keyframes
    t = np.arange(0.0, t_end_s + 1.0, 1.0 / _TRACK_HZ)
    xy = np.zeros((t.size, 2))
    work = np.zeros(t.size)
    head = np.zeros(t.size)
    # segment k: hold at kf[k] until the move towards kf[k+1] starts; moves take distance/speed
    times = np.array([k.t_s for k in kfs])
    for i, ti in enumerate(t):
        k = int(np.searchsorted(times, ti, side="right")) - 1
        k = max(k, 0)
        a = kfs[k]
        if k + 1 < len(kfs):
            b = kfs[k + 1]
            d = float(np.hypot(b.xy_m[0] - a.xy_m[0], b.xy_m[1] - a.xy_m[1]))
            move = max(d / 1.0, 0.6) if d > 1e-3 else 0.8
            start = b.t_s - move
            s = _ease(np.array((ti - max(start, a.t_s)) / max(b.t_s - max(start, a.t_s), 1e-6)))
            s = float(s) if ti > start else 0.0
            xy[i] = (1 - s) * np.array(a.xy_m) + s * np.array(b.xy_m)
            work[i] = (1 - s) * a.work + s * b.work
            head[i] = a.heading_rad + s * np.angle(np.exp(1j * (b.heading_rad - a.heading_rad)))
        else:
            xy[i] = a.xy_m
            work[i] = a.work
            head[i] = a.heading_rad
    vel = np.gradient(xy, 1.0 / _TRACK_HZ, axis=0)
    speed = gaussian_filter1d(np.linalg.norm(vel, axis=1), 5)
    moving_dir = np.arctan2(vel[:, 1], vel[:, 0])
    walk_amp = np.clip(speed / 0.9, 0.0, 1.0)
    # heading: direction of travel while walking, the keyframe heading while standing
    hz = np.exp(1j * head) * (1 - walk_amp) + np.exp(1j * moving_dir) * walk_amp
    hz = gaussian_filter1d(hz.real, 20) + 1j * gaussian_filter1d(hz.imag, 20)
    dist = np.cumsum(speed) / _TRACK_HZ
    return {
        "t": t,
        "xy": xy,
        "heading": np.angle(hz),
        "walk_amp": walk_amp,
        "phase": 2 * np.pi * dist / 1.3,
        "work": gaussian_filter1d(work, 15),
    }


def with_tracks(spec: PersonSpec, duration_s: float) -> PersonSpec:
    """``spec`` with its motion script sampled once (what ``person_state`` reads)."""
    return dataclasses.replace(spec, tracks=_tracks(spec, duration_s))


def person_state(spec: PersonSpec, t_s: float, duration_s: float) -> PersonState:
    """The state of a staff member at time ``t_s`` (deterministic in the spec)."""
    tr = spec.tracks if spec.tracks is not None else _tracks(spec, duration_s)
    i = min(int(round(t_s * _TRACK_HZ)), tr["t"].size - 1)
    xy = tr["xy"][i]
    present = bool(xy[0] < ROOM_HALF_EXTENT_M[0] - 0.05)
    r = np.random.default_rng(spec.head_seed)
    f = r.uniform(0.12, 0.3, 3)
    ph = r.uniform(0, 2 * np.pi, 3)
    work = float(tr["work"][i])
    yaw = 0.55 * np.sin(2 * np.pi * f[0] * t_s + ph[0]) * (1 - 0.5 * work) + 0.25 * np.sin(2 * np.pi * f[1] * 1.7 * t_s + ph[1])
    pitch = 0.38 * work + 0.12 * np.sin(2 * np.pi * f[2] * t_s + ph[2])
    wave = float(np.sin(2 * np.pi * 0.35 * t_s + ph[1]))
    return PersonState(present, xy.copy(), float(tr["heading"][i]), float(tr["phase"][i]), float(tr["walk_amp"][i]),
                       work, float(yaw), float(pitch), wave)  # fmt: skip


# --------------------------------------------------------------------------- body model
@dataclass(frozen=True)
class PeopleRig:
    """The body model (``orscene.body``'s anny) and what the generator derives from it once."""

    body: "AnnyBodyModel"
    """``orscene.body.anny_model.load_anny_body_model(skinning_method=None)`` (float32, CPU)."""
    bone_index: dict
    """Bone label -> index into the 104 bones."""
    vertex_face_incidence: object
    """Sparse (V, F) matrix for area-weighted vertex normals."""
    rest_cache: dict = field(default_factory=dict, compare=False, repr=False)
    """Phenotype -> rest model (vertices, bone poses): the rest shape is computed once per person."""
    elbow_axes: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)))
    """(2, 3) elbow hinge axes (left, right) in the rest frame: ``upper arm x forearm`` of the
    default rest pose; rotating the forearm about it by a positive angle flexes the elbow."""

    @property
    def model(self):
        """The ``anny.Anny`` instance."""
        return self.body.anny

    @property
    def keypoints(self):
        """``anny.KeypointsRegressor.coco(model)``."""
        return self.body.keypoint_regressor

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int32 triangles."""
        return self.body.faces

    @property
    def face_vertex_ids(self) -> np.ndarray:
        """Face-region vertex ids (``orscene.body.face_region.anny_face_vertex_ids``)."""
        return self.body.face_vertex_ids


def load_people_rig() -> PeopleRig:
    """Load anny with ``orscene.body``'s loader (from orscene's cache, see
    ``orscene.body.anny_cache``; anny's default skinning) and derive the rig's data."""
    import scipy.sparse as sp
    import torch

    from orscene.body.anny_model import load_anny_body_model

    body = load_anny_body_model("cpu", skinning_method=None)  # float32: 2-3x faster than float64, < 1 um apart
    model = body.anny
    faces = body.faces
    V = int(model.template_vertices.shape[0])
    rows = faces.ravel()
    cols = np.repeat(np.arange(faces.shape[0]), 3)
    inc = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(V, faces.shape[0]))
    with torch.no_grad():
        j0 = body.keypoint_regressor(model())[0, :17].cpu().numpy()
    axes = []
    for s_, e_, w_ in ((5, 7, 9), (6, 8, 10)):
        h = np.cross(j0[e_] - j0[s_], j0[w_] - j0[e_])
        axes.append(h / np.linalg.norm(h))
    return PeopleRig(
        body=body,
        bone_index={b: i for i, b in enumerate(model.bone_labels)},
        vertex_face_incidence=inc,
        elbow_axes=np.array(axes),
    )


def _rot(axis: str, angle_rad) -> np.ndarray:
    a = np.atleast_1d(np.asarray(angle_rad, dtype=np.float64))
    return Rotation.from_euler(axis, a[:, None]).as_matrix().reshape(-1, 3, 3)


def _rotvec(axis: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    return Rotation.from_rotvec(np.asarray(angle_rad, float)[:, None] * np.asarray(axis, float)[None]).as_matrix().reshape(-1, 3, 3)


def _pose_matrices(states: Sequence[PersonState | None], lying: Sequence[bool], elbow_axes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-bone (B, 3, 3) delta rotations. anny's 'local-ref' deltas rotate a bone about axes
    of the rest frame, applied after its parent's rotation (``R_child = R_parent @ D``)."""
    g = lambda name: np.array([getattr(s, name) if s is not None else 0.0 for s in states])  # noqa: E731
    amp, ph, work, yaw, pitch, wave = g("walk_amp"), g("walk_phase_rad"), g("work"), g("head_yaw_rad"), g("head_pitch_rad"), g("arm_wave")
    lying_a = np.array(lying, dtype=bool)
    d = np.deg2rad
    swing = amp * d(24) * np.sin(ph)
    knee_l = amp * d(35) * np.clip(np.sin(ph - 1.2), 0, None) + d(3)
    knee_r = amp * d(35) * np.clip(np.sin(ph + np.pi - 1.2), 0, None) + d(3)
    down = np.where(lying_a, d(44), d(38))
    lie = np.where(lying_a, 1.0, 0.0)
    arm_fwd = work * d(50) + (1 - work) * (-amp * d(16) * np.sin(ph)) + work * d(8) * wave - lie * d(15)
    arm_fwd_r = work * d(46) + (1 - work) * (amp * d(16) * np.sin(ph)) - work * d(8) * wave - lie * d(15)
    elbow = work * d(55) - (1 - work) * d(15) + amp * d(15) - lie * d(30)
    lean = work * d(11)
    out = {
        "upperleg01.L": _rot("x", -swing),
        "upperleg01.R": _rot("x", swing),
        "lowerleg01.L": _rot("x", knee_l),
        "lowerleg01.R": _rot("x", knee_r),
        "upperarm01.L": _rot("x", -arm_fwd) @ _rot("y", down),
        "upperarm01.R": _rot("x", -arm_fwd_r) @ _rot("y", -down),
        "lowerarm01.L": _rotvec(elbow_axes[0], elbow),
        "lowerarm01.R": _rotvec(elbow_axes[1], elbow),
        "spine04": _rot("x", lean),
        "spine03": _rot("x", lean),
        "neck01": _rot("x", 0.5 * pitch) @ _rot("z", 0.4 * yaw),
        "head": _rot("x", 0.5 * pitch) @ _rot("z", 0.6 * yaw),
    }
    return out


def _world_from_body_standing(xy: np.ndarray, heading: float, lift_m: float) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = _rot("z", heading + np.pi / 2)[0]
    T[:3, 3] = (xy[0], xy[1], lift_m)
    return T


@dataclass(frozen=True)
class PosedPeople:
    """All present people at one instant (index ``i`` = ``person_ids[i]``)."""

    person_ids: np.ndarray
    vertices_world_m: np.ndarray
    """(P, V, 3) float32."""
    normals_world: np.ndarray
    """(P, V, 3) float32 unit vertex normals."""
    rest_vertices_m: np.ndarray
    """(P, V, 3) float32 rest-pose body-frame vertices (the renderer paints clothes with them)."""
    joints_world_m: np.ndarray
    """(P, 17, 3) COCO-17."""
    world_from_head: np.ndarray
    """(P, 4, 4): origin at the face centre, +x the person's left, +y up, +z out of the face."""
    world_from_body: np.ndarray
    """(P, 4, 4)."""
    pose_parameters: np.ndarray
    """(P, 104, 4, 4) anny local-ref delta transforms (the root is identity)."""
    rest_landmarks_m: np.ndarray
    """(P, 17, 3) COCO-17 joints in the rest pose (body frame)."""


def _posed_forward(body: PeopleRig, pose, phen: np.ndarray) -> dict:
    """anny's forward pass with the rest shape of each phenotype cached (what
    ``RiggedModel.forward`` does after ``get_rest_model``)."""
    import torch

    rest_v, rest_b = [], []
    for row in phen:
        key = tuple(float(x) for x in row)
        hit = body.rest_cache.get(key)
        if hit is None:
            o = body.model(phenotype_kwargs={k: torch.tensor([row[i]]) for i, k in enumerate(PHENOTYPE_LABELS)})
            hit = body.rest_cache[key] = (o["rest_vertices"][0], o["rest_bone_poses"][0])
        rest_v.append(hit[0])
        rest_b.append(hit[1])
    rest_vertices = torch.stack(rest_v)
    rest_bone_poses = torch.stack(rest_b)
    bone_transforms, bone_poses = body.model.get_bone_transforms(pose, rest_bone_poses)
    vertices = body.model.get_skinned_vertices(bone_transforms=bone_transforms, rest_vertices=rest_vertices)
    return {"vertices": vertices, "bone_poses": bone_poses, "rest_vertices": rest_vertices, "rest_bone_poses": rest_bone_poses}


def pose_people(body: PeopleRig, specs: Sequence[PersonSpec], t_s: float, duration_s: float) -> PosedPeople:
    """Pose every person present at ``t_s`` in one batched anny forward pass."""
    import torch

    states: list[PersonState | None] = []
    keep: list[PersonSpec] = []
    for s in specs:
        if s.role is Role.PATIENT:
            keep.append(s)
            states.append(None)
            continue
        st = person_state(s, t_s, duration_s)
        if st.present:
            keep.append(s)
            states.append(st)
    P = len(keep)
    V = int(body.model.template_vertices.shape[0])
    if P == 0:
        e = np.zeros((0,), np.int64)
        return PosedPeople(e, np.zeros((0, V, 3), np.float32), np.zeros((0, V, 3), np.float32), np.zeros((0, V, 3), np.float32),
                           np.zeros((0, 17, 3)), np.zeros((0, 4, 4)), np.zeros((0, 4, 4)), np.zeros((0, 104, 4, 4), np.float32),
                           np.zeros((0, 17, 3)))  # fmt: skip
    lying = [s.role is Role.PATIENT for s in keep]
    # the patient: small breathing-like head motion only
    states_f = [
        st if st is not None else PersonState(True, np.zeros(2), 0.0, 0.0, 0.0, 0.0, 0.15 * np.sin(0.4 * t_s + sp.head_seed), 0.0, 0.0)
        for st, sp in zip(states, keep)
    ]
    rots = _pose_matrices(states_f, lying, body.elbow_axes)
    nb = len(body.bone_index)
    pose = np.tile(np.eye(4), (P, nb, 1, 1))
    for bone, R in rots.items():
        pose[:, body.bone_index[bone], :3, :3] = R
    phen = np.array([s.phenotype for s in keep], dtype=np.float32)
    with torch.no_grad():
        out = _posed_forward(body, torch.from_numpy(pose.astype(np.float32)), phen)
        joints = body.keypoints(out)[:, :17].cpu().numpy().astype(np.float64)
        rest_out = out["rest_vertices"].cpu().numpy()
        verts = out["vertices"].cpu().numpy()
        bone_poses = out["bone_poses"].cpu().numpy().astype(np.float64)
        rest_bone_poses = out["rest_bone_poses"].cpu().numpy().astype(np.float64)
        rest_kp = body.keypoints({"vertices": out["rest_vertices"]})[:, :17].cpu().numpy().astype(np.float64)
    if rest_out.shape[0] != P:
        rest_out = np.broadcast_to(rest_out, (P,) + rest_out.shape[1:])
    hi = body.bone_index["head"]
    fid = body.face_vertex_ids
    wfb = np.zeros((P, 4, 4))
    wfh = np.zeros((P, 4, 4))
    for p, (s, st) in enumerate(zip(keep, states_f)):
        if s.role is Role.PATIENT:
            wfb[p] = s.lying_world_from_body
        else:
            wfb[p] = _world_from_body_standing(st.xy_m, st.heading_rad, -float(rest_out[p, :, 2].min()))
        rel = bone_poses[p, hi] @ np.linalg.inv(rest_bone_poses[min(p, rest_bone_poses.shape[0] - 1), hi])
        rest_head = np.eye(4)
        rest_head[:3, 0], rest_head[:3, 1], rest_head[:3, 2] = (1, 0, 0), (0, 0, 1), (0, -1, 0)
        rest_head[:3, 3] = rest_out[p, fid].mean(axis=0)
        wfh[p] = wfb[p] @ rel @ rest_head
    R = wfb[:, :3, :3]
    tr = wfb[:, None, :3, 3]
    verts_w = (np.einsum("pij,pvj->pvi", R, verts) + tr).astype(np.float32)
    joints_w = np.einsum("pij,pkj->pki", R, joints) + tr
    normals = np.empty_like(verts_w)
    F = body.faces
    for p in range(P):
        v = verts_w[p]
        fn = np.cross(v[F[:, 1]] - v[F[:, 0]], v[F[:, 2]] - v[F[:, 0]])
        n = body.vertex_face_incidence @ fn
        normals[p] = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return PosedPeople(
        person_ids=np.array([s.person_id for s in keep], dtype=np.int64),
        vertices_world_m=verts_w,
        normals_world=normals,
        rest_vertices_m=np.ascontiguousarray(rest_out, dtype=np.float32),
        joints_world_m=joints_w,
        world_from_head=wfh,
        world_from_body=wfb,
        pose_parameters=pose.astype(np.float32),
        rest_landmarks_m=rest_kp if rest_kp.shape[0] == P else np.broadcast_to(rest_kp, (P, 17, 3)).copy(),
    )
