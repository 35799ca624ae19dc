"""The synthetic operating room: static furniture, surgical lights, and the cast per scenario.

World frame: metres, z up, floor at z = 0. The OR table is centred at the origin, its long
axis along x, the patient's head towards -x. The door is in the +x wall.
"""

import dataclasses
import enum
from dataclasses import dataclass

import numpy as np

from orscene.synth.meshes import Material, Mesh, box_mesh, concat_meshes, cylinder_mesh, frame_from_z
from orscene.synth.people import DOOR_XY, ROOM_HALF_EXTENT_M, Keyframe, Outfit, PersonSpec, Role, with_tracks

__all__ = [
    "Scenario",
    "SurgicalLight",
    "SceneSpec",
    "ObjectId",
    "TABLE_TOP_Z_M",
    "build_scene_spec",
    "static_room_mesh",
    "lights_mesh",
    "light_center_at",
    "spot_lights",
]

TABLE_TOP_Z_M = 0.92
ROOM_HEIGHT_M = 3.0


class Scenario(enum.Enum):
    """DisguisOR-like difficulty levels."""

    EASY = "easy"
    """Up to 4 people in scrubs and masks, lights mostly out of the way."""
    MEDIUM = "medium"
    """5-6 people, mixed garments, lights regularly obstructing faces."""
    HARD = "hard"
    """4 people in caps, masks and gowns; lights frequently obstruct faces in the two
    surgical (high) views."""


class ObjectId:
    """Object ids written into the renderer's id buffer (0 = background / person)."""

    FLOOR = 1
    WALL = 2
    CEILING = 3
    TABLE = 4
    DRAPE = 5
    FURNITURE = 6
    MONITOR = 7
    LIGHT = 20
    """Surgical light ``i`` has id ``LIGHT + i`` (its arm too)."""


@dataclass(frozen=True)
class SurgicalLight:
    """A ceiling-mounted surgical light: a lamp head (disc) on an articulated arm."""

    anchor_xy_m: tuple[float, float]
    """Ceiling mount."""
    center_m: tuple[float, float, float]
    """Lamp head centre at t = 0."""
    drift_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Amplitude of a slow sinusoidal repositioning."""
    drift_hz: float = 0.05
    drift_phase: float = 0.0
    radius_m: float = 0.33
    tilt_deg: float = 10.0
    """Tilt of the lamp's face from straight down, towards the table centre."""


@dataclass(frozen=True)
class SceneSpec:
    """Everything that defines a synthetic session apart from the cameras."""

    scenario: Scenario
    duration_s: float
    people: tuple[PersonSpec, ...]
    lights: tuple[SurgicalLight, ...]
    patient_face_covered: bool
    furniture_seed: int


def light_center_at(light: SurgicalLight, t_s: float) -> np.ndarray:
    c = np.asarray(light.center_m, float)
    return c + np.asarray(light.drift_m) * np.sin(2 * np.pi * light.drift_hz * t_s + light.drift_phase)


def spot_lights(lights: tuple[SurgicalLight, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each surgical light's beam: (lamp face centre, unit axis) at the lamp's mean position
    (the beam lights the static scene too, which is rendered once per camera)."""
    out = []
    for L in lights:
        c = np.asarray(L.center_m, float)
        to_table = np.array([-c[0], -c[1], 0.0])
        to_table /= max(np.linalg.norm(to_table), 1e-6)
        t = np.deg2rad(L.tilt_deg)
        down = np.array([0, 0, -np.cos(t)]) + np.sin(t) * to_table
        out.append((c + 0.08 * down, down / np.linalg.norm(down)))
    return out


def lights_mesh(lights: tuple[SurgicalLight, ...], t_s: float) -> Mesh | None:
    meshes = []
    for i, L in enumerate(lights):
        c = light_center_at(L, t_s)
        oid = ObjectId.LIGHT + i
        to_table = np.array([-c[0], -c[1], 0.0])
        to_table /= max(np.linalg.norm(to_table), 1e-6)
        t = np.deg2rad(L.tilt_deg)
        down = np.array([0, 0, -np.cos(t)]) + np.sin(t) * to_table
        R = frame_from_z(down)
        # lamp head: a flat housing with a glass face underneath
        meshes.append(cylinder_mesh(c - 0.02 * down, c + 0.07 * down, L.radius_m, (0.85, 0.86, 0.88), oid, Material.PLAIN, 28))
        meshes.append(cylinder_mesh(c + 0.07 * down, c + 0.075 * down, L.radius_m * 0.8, (0.95, 0.95, 0.9), oid, Material.SPECULAR, 28))
        meshes.append(cylinder_mesh(c + 0.075 * down, c + 0.16 * down, 0.025, (0.3, 0.3, 0.32), oid, Material.DARK, 10))
        top = c - 0.02 * down
        elbow = np.array([L.anchor_xy_m[0] * 0.5 + top[0] * 0.5, L.anchor_xy_m[1] * 0.5 + top[1] * 0.5, top[2] + 0.35])
        anchor = np.array([L.anchor_xy_m[0], L.anchor_xy_m[1], ROOM_HEIGHT_M])
        meshes.append(cylinder_mesh(anchor, anchor - np.array([0, 0, 0.5]), 0.05, (0.8, 0.8, 0.82), oid, Material.PLAIN, 12))
        meshes.append(cylinder_mesh(anchor - np.array([0, 0, 0.5]), elbow, 0.035, (0.8, 0.8, 0.82), oid, Material.PLAIN, 12))
        meshes.append(cylinder_mesh(elbow, top + 0.0 * R[:, 0], 0.03, (0.8, 0.8, 0.82), oid, Material.PLAIN, 12))
    return concat_meshes(meshes) if meshes else None


def static_room_mesh(spec: SceneSpec) -> Mesh:
    """Floor, walls (door in the +x wall), ceiling, OR table with drapes, furniture."""
    rng = np.random.default_rng(spec.furniture_seed)
    X, Y = ROOM_HALF_EXTENT_M
    H = ROOM_HEIGHT_M
    wall_c = tuple(np.array([0.78, 0.84, 0.82]) + rng.normal(0, 0.02, 3))
    m = [
        box_mesh((0, 0, -0.05), (2 * X + 0.4, 2 * Y + 0.4, 0.1), (0.55, 0.6, 0.58), ObjectId.FLOOR, Material.FLOOR),
        box_mesh((0, 0, H + 0.05), (2 * X + 0.4, 2 * Y + 0.4, 0.1), (0.9, 0.9, 0.9), ObjectId.CEILING, Material.WALL),
        box_mesh((-X - 0.05, 0, H / 2), (0.1, 2 * Y, H), wall_c, ObjectId.WALL, Material.WALL),
        box_mesh((0, -Y - 0.05, H / 2), (2 * X, 0.1, H), wall_c, ObjectId.WALL, Material.WALL),
        box_mesh((0, Y + 0.05, H / 2), (2 * X, 0.1, H), wall_c, ObjectId.WALL, Material.WALL),
    ]
    # +x wall with a door opening (1.2 m wide, 2.2 m high) and a dark corridor behind
    dy0, dy1 = DOOR_XY[1] - 0.6, DOOR_XY[1] + 0.6
    m.append(box_mesh((X + 0.05, (-Y + dy0) / 2, H / 2), (0.1, dy0 + Y, H), wall_c, ObjectId.WALL, Material.WALL))
    m.append(box_mesh((X + 0.05, (Y + dy1) / 2, H / 2), (0.1, Y - dy1, H), wall_c, ObjectId.WALL, Material.WALL))
    m.append(box_mesh((X + 0.05, DOOR_XY[1], (H + 2.2) / 2), (0.1, 1.2, H - 2.2), wall_c, ObjectId.WALL, Material.WALL))
    m.append(box_mesh((X + 1.6, DOOR_XY[1], H / 2), (0.1, 3.0, H), (0.35, 0.38, 0.4), ObjectId.WALL, Material.WALL))
    m.append(box_mesh((X + 0.9, DOOR_XY[1], -0.05), (1.6, 3.0, 0.1), (0.4, 0.42, 0.42), ObjectId.FLOOR, Material.FLOOR))
    # wall cabinets and a wall monitor
    for x0 in (-2.2, -1.2):
        m.append(box_mesh((x0, Y - 0.2, 1.0), (0.9, 0.4, 2.0), (0.85, 0.86, 0.86), ObjectId.FURNITURE))
    m.append(box_mesh((1.0, Y - 0.03, 1.7), (1.2, 0.05, 0.7), (0.05, 0.06, 0.08), ObjectId.MONITOR, Material.DARK))
    # OR table: base column, pedestal, top with mattress and green/blue drapes
    T = TABLE_TOP_Z_M
    m.append(box_mesh((0.2, 0, 0.05), (0.8, 0.5, 0.1), (0.4, 0.42, 0.45), ObjectId.TABLE, Material.SPECULAR))
    m.append(box_mesh((0.2, 0, 0.45), (0.35, 0.28, 0.8), (0.75, 0.76, 0.78), ObjectId.TABLE))
    m.append(box_mesh((0, 0, T - 0.06), (2.05, 0.55, 0.1), (0.2, 0.2, 0.22), ObjectId.TABLE, Material.DARK))
    drape_c = (0.22, 0.45, 0.55) if rng.random() < 0.5 else (0.25, 0.5, 0.38)
    m.append(box_mesh((0.35, 0, T - 0.15), (1.4, 0.78, 0.3), drape_c, ObjectId.DRAPE))  # hanging sides
    # instrument table (Mayo) and back table, carts, anaesthesia machine, boom monitors
    m.append(box_mesh((1.05, -1.35, 0.9), (1.1, 0.6, 0.04), (0.3, 0.5, 0.6), ObjectId.FURNITURE))
    for dx, dy in ((-0.5, -0.25), (0.5, -0.25), (-0.5, 0.25), (0.5, 0.25)):
        m.append(cylinder_mesh((1.05 + dx, -1.35 + dy, 0), (1.05 + dx, -1.35 + dy, 0.88), 0.02, (0.7, 0.7, 0.72), ObjectId.FURNITURE, Material.SPECULAR, 8))
    for k in range(6):  # instruments on the tray
        x = 0.7 + 0.12 * k
        m.append(box_mesh((x, -1.35 + rng.uniform(-0.15, 0.15), 0.93), (0.02, 0.2, 0.015), (0.8, 0.8, 0.85), ObjectId.FURNITURE, Material.SPECULAR))
    m.append(box_mesh((2.3, 1.75, 0.5), (0.7, 0.5, 1.0), (0.75, 0.78, 0.8), ObjectId.FURNITURE))
    m.append(box_mesh((2.3, 1.75, 1.02), (0.7, 0.5, 0.04), (0.3, 0.32, 0.35), ObjectId.FURNITURE))
    m.append(box_mesh((-2.15, 0.9, 0.7), (0.7, 0.6, 1.4), (0.82, 0.83, 0.8), ObjectId.FURNITURE))
    m.append(box_mesh((-2.15, 0.9, 1.6), (0.5, 0.1, 0.4), (0.05, 0.05, 0.06), ObjectId.MONITOR, Material.DARK))
    m.append(box_mesh((-2.0, -1.9, 0.45), (0.5, 0.45, 0.9), (0.65, 0.7, 0.85), ObjectId.FURNITURE))
    m.append(cylinder_mesh((-1.4, -1.6, H), (-1.4, -1.6, 1.95), 0.04, (0.8, 0.8, 0.82), ObjectId.MONITOR, Material.PLAIN, 10))
    m.append(box_mesh((-1.4, -1.6, 1.75), (0.65, 0.06, 0.42), (0.06, 0.06, 0.07), ObjectId.MONITOR, Material.DARK,
                      rotation=frame_from_z((0.5, 0.86, 0.0))))  # fmt: skip
    # clutter, clear of every walking path: a second (back) table with a draped tray and
    # instrument sets along the -y wall, a cart with a monitor and a cable on the floor
    # (its own random stream, so the furniture above stays where it was)
    crng = np.random.default_rng([spec.furniture_seed, 2])
    m.append(box_mesh((-0.2, -2.27, 0.88), (1.3, 0.5, 0.04), (0.7, 0.72, 0.74), ObjectId.FURNITURE, Material.SPECULAR))
    m.append(box_mesh((-0.2, -2.27, 0.91), (1.2, 0.46, 0.02), (0.3, 0.5, 0.6), ObjectId.DRAPE))
    for dx, dy in ((-0.6, -0.2), (0.6, -0.2), (-0.6, 0.2), (0.6, 0.2)):
        m.append(cylinder_mesh((-0.2 + dx, -2.27 + dy, 0), (-0.2 + dx, -2.27 + dy, 0.86), 0.018, (0.7, 0.7, 0.72), ObjectId.FURNITURE, Material.SPECULAR, 8))
    for k in range(5):  # instrument trays and wrapped sets
        x = -0.72 + 0.24 * k + crng.uniform(-0.03, 0.03)
        colour = (0.75, 0.76, 0.8) if k % 2 == 0 else tuple(np.array([0.35, 0.55, 0.7]) + crng.normal(0, 0.04, 3))
        m.append(box_mesh((x, -2.27 + crng.uniform(-0.08, 0.08), 0.93 + 0.02), (0.2, 0.28, 0.04 + 0.04 * (k % 2)), colour, ObjectId.FURNITURE,
                          Material.SPECULAR if k % 2 == 0 else Material.PLAIN))  # fmt: skip
    m.append(box_mesh((0.9, 2.3, 0.45), (0.55, 0.45, 0.9), (0.78, 0.8, 0.82), ObjectId.FURNITURE))
    m.append(box_mesh((0.9, 2.3, 0.91), (0.6, 0.5, 0.03), (0.25, 0.26, 0.28), ObjectId.FURNITURE))
    m.append(box_mesh((0.9, 2.42, 1.18), (0.5, 0.04, 0.34), (0.05, 0.05, 0.06), ObjectId.MONITOR, Material.DARK))
    m.append(box_mesh((0.9 + 0.6, 1.2, 0.005), (1.8, 0.02, 0.01), (0.12, 0.12, 0.13), ObjectId.FURNITURE, Material.DARK,
                      rotation=frame_from_z((0.0, 0.0, 1.0))))  # fmt: skip
    return concat_meshes(m)


def patient_drape_mesh(spec: SceneSpec, patient_head_xy: tuple[float, float]) -> Mesh:
    """The drape over the patient's body (and over the face when covered)."""
    T = TABLE_TOP_Z_M
    drape = (0.25, 0.5, 0.62)
    meshes = [
        box_mesh((0.3, 0, T + 0.2), (1.4, 0.76, 0.2), drape, ObjectId.DRAPE),
        box_mesh((0.88, 0, T + 0.22), (0.4, 0.6, 0.36), drape, ObjectId.DRAPE),  # over the feet
    ]
    # anaesthesia screen (drape frame) between head and body
    meshes.append(box_mesh((-0.45, 0, T + 0.4), (0.03, 0.8, 0.5), drape, ObjectId.DRAPE))
    if spec.patient_face_covered:
        hx, hy = patient_head_xy
        # a tent from the table top over the whole head
        meshes.append(box_mesh((hx + 0.02, hy, T + 0.19), (0.34, 0.4, 0.36), drape, ObjectId.DRAPE))
    return concat_meshes(meshes)


# --------------------------------------------------------------------------- cast
_SKIN = ((0.95, 0.80, 0.69), (0.87, 0.70, 0.58), (0.78, 0.60, 0.47), (0.64, 0.46, 0.34), (0.48, 0.33, 0.23), (0.34, 0.23, 0.16))
_HAIR = ((0.08, 0.06, 0.05), (0.25, 0.16, 0.09), (0.45, 0.32, 0.18), (0.7, 0.58, 0.38), (0.55, 0.55, 0.55))
_SCRUBS = ((0.25, 0.45, 0.62), (0.22, 0.52, 0.46), (0.16, 0.22, 0.42), (0.45, 0.6, 0.7), (0.5, 0.25, 0.35), (0.3, 0.55, 0.65))
_GOWNS = ((0.45, 0.62, 0.78), (0.35, 0.55, 0.7), (0.4, 0.62, 0.52), (0.25, 0.38, 0.6))
_MASKS = ((0.55, 0.75, 0.88), (0.92, 0.93, 0.95), (0.45, 0.7, 0.55), (0.6, 0.78, 0.92))
_CAPS = ((0.3, 0.5, 0.72), (0.9, 0.9, 0.92), (0.2, 0.5, 0.4), (0.55, 0.3, 0.5), (0.15, 0.25, 0.5))


def _pick(rng, options):
    return tuple(float(c) for c in options[rng.integers(len(options))])


def _outfit(rng: np.random.Generator, scenario: Scenario, role: Role) -> Outfit:
    skin = _pick(rng, _SKIN)
    hair = _pick(rng, _HAIR)
    scrub = _pick(rng, _SCRUBS)
    if role is Role.PATIENT:
        return Outfit(skin=skin, top=(0.75, 0.8, 0.85), pants=(0.75, 0.8, 0.85), hair=hair)
    sterile = role in (Role.SURGEON, Role.ASSISTANT, Role.NURSE)
    if scenario is Scenario.HARD:
        gown, cap, mask = True, True, True
    elif scenario is Scenario.MEDIUM:
        gown = sterile and rng.random() < 0.6
        cap = rng.random() < 0.75
        mask = rng.random() < 0.75
    else:
        gown, cap, mask = False, rng.random() < 0.4, rng.random() < 0.85
    top = _pick(rng, _GOWNS) if gown else scrub
    return Outfit(
        skin=skin,
        top=top,
        pants=scrub,
        hair=hair,
        cap=_pick(rng, _CAPS) if cap else None,
        mask=_pick(rng, _MASKS) if mask else None,
        gloves=(0.93, 0.88, 0.72) if (sterile and rng.random() < 0.7) else ((0.55, 0.6, 0.85) if rng.random() < 0.4 else None),
        gown=gown,
        shoes=_pick(rng, ((0.9, 0.9, 0.92), (0.2, 0.3, 0.5), (0.1, 0.1, 0.1))),
    )


_IRIS = ((0.25, 0.17, 0.1), (0.12, 0.08, 0.05), (0.3, 0.42, 0.55), (0.32, 0.38, 0.22), (0.4, 0.3, 0.18))


def _vary_outfit(outfit: Outfit, seed: int, role: Role) -> Outfit:
    """Per-person details drawn from the person's own seed (the scene's random stream, and so
    every layout and motion script, stays as it was): skin tone jitter, lips, iris, beard
    shadow, glasses, hair volume, pattern offsets."""
    r = np.random.default_rng([seed, 19])
    tone = np.clip(np.asarray(outfit.skin) * (1.0 + r.normal(0, 0.05)) * (1.0 + r.normal(0, 0.025, 3)), 0.05, 1.0)
    lip = np.clip(tone * np.array([0.8, 0.5, 0.52]) * (1.0 + r.normal(0, 0.05, 3)), 0.02, 1.0)
    return dataclasses.replace(
        outfit,
        skin=tuple(float(v) for v in tone),
        lip=tuple(float(v) for v in lip),
        iris=_pick(r, _IRIS),
        glasses=bool(role is not Role.PATIENT and r.random() < 0.25),
        stubble=float(r.uniform(0.3, 0.8)) if r.random() < 0.3 else 0.0,
        hair_len_m=float(r.uniform(0.004, 0.02)),
        pattern_seed=int(r.integers(1000)),
    )


def _phenotype(rng: np.random.Generator, role: Role) -> tuple[float, ...]:
    gender = float(rng.uniform(0.0, 1.0))
    age = float(rng.uniform(0.35, 0.8))
    muscle = float(rng.uniform(0.3, 0.7))
    weight = float(rng.uniform(0.3, 0.7))
    height = float(rng.uniform(0.35, 0.85))
    prop = float(rng.uniform(0.4, 0.6))
    return (gender, age, muscle, weight, height, prop)


_UP, _DOWN, _PX, _MX = np.pi / 2, -np.pi / 2, 0.0, np.pi


def _staff_script(rng: np.random.Generator, role: Role, slot: int, duration_s: float, scenario: Scenario) -> tuple[Keyframe, ...]:
    """Keyframes of one staff member (stations around the table, walks, door)."""
    kfs: list[Keyframe] = []
    t = 0.0
    j = lambda s=0.05: float(rng.normal(0, s))  # noqa: E731
    if role in (Role.SURGEON, Role.ASSISTANT):
        # surgeons alternate sides starting at -y, assistants starting at +y (face to face)
        side = (-1 if slot % 2 == 0 else 1) * (1 if role is Role.SURGEON else -1)
        x0 = (0.05 if role is Role.SURGEON else 0.6) + j(0.1)
        heading = _UP if side < 0 else _DOWN
        y0 = side * 0.64
        kfs.append(Keyframe(0.0, (x0, y0), heading + j(0.1), work=1.0))
        while t < duration_s:
            t += float(rng.uniform(2.0, 4.5))
            if rng.random() < 0.3:  # step back, look around, return
                kfs.append(Keyframe(t, (x0 + j(0.1), y0 + side * 0.25), heading + j(0.6), work=0.1))
                t += float(rng.uniform(1.5, 3.0))
            x0 = float(np.clip(x0 + j(0.15), -0.3, 0.8))
            kfs.append(Keyframe(t, (x0, y0), heading + j(0.15), work=float(rng.uniform(0.6, 1.0))))
    elif role is Role.ANESTHETIST:
        home = (-1.38, 0.25 + j(0.05))
        kfs.append(Keyframe(0.0, home, _PX + j(0.2), work=0.2))
        while t < duration_s:
            t += float(rng.uniform(2.5, 4.5))
            if rng.random() < 0.5:
                kfs.append(Keyframe(t, (-1.75, 0.55), np.pi * 0.8, work=0.0))
                t += float(rng.uniform(1.5, 3.0))
            kfs.append(Keyframe(t, home, _PX + j(0.3), work=float(rng.uniform(0.0, 0.5))))
    elif role is Role.NURSE:
        a, b = (1.05, -0.8), (0.75, -0.66)
        kfs.append(Keyframe(0.0, a, _DOWN + j(0.1), work=0.8))
        at_a = True
        while t < duration_s:
            t += float(rng.uniform(2.0, 4.0))
            at_a = not at_a
            p, h = (a, _DOWN) if at_a else (b, _UP)
            kfs.append(Keyframe(t, (p[0] + j(0.05), p[1] + j(0.03)), h + j(0.15), work=float(rng.uniform(0.4, 1.0))))
    else:  # circulator: perimeter stations; enters and leaves through the door
        stations = [(2.3, 1.2, _UP), (2.6, -1.2, _PX), (1.5, -1.9, _PX * 0 + _MX / 2), (-1.6, -1.2, _MX), (1.6, 1.3, _DOWN), (-1.0, 1.45, _DOWN)]
        outside = (DOOR_XY[0] + 0.9, DOOR_XY[1])
        inside = (DOOR_XY[0] - 0.6, DOOR_XY[1])
        enter = rng.random() < 0.5
        if enter:
            t0 = float(rng.uniform(0.0, max(0.5, duration_s * 0.3)))
            kfs.append(Keyframe(0.0, outside, np.pi, 0.0))
            kfs.append(Keyframe(t0 + 1.5, inside, np.pi, 0.0))
            t = t0 + 1.5
            cur = inside
        else:
            s = stations[rng.integers(len(stations))]
            kfs.append(Keyframe(0.0, s[:2], s[2], 0.2))
            cur = s[:2]
        leave_at = duration_s * float(rng.uniform(0.6, 0.9)) if (not enter and rng.random() < 0.5) else None
        while t < duration_s:
            t += float(rng.uniform(1.5, 3.5))
            if leave_at is not None and t > leave_at:
                kfs.append(Keyframe(t, inside, 0.0, 0.0))
                kfs.append(Keyframe(t + 1.6, outside, 0.0, 0.0))
                break
            s = stations[rng.integers(len(stations))]
            d = np.hypot(s[0] - cur[0], s[1] - cur[1])
            # never cut across the table: go round via a perimeter corner when needed
            if cur[1] * s[1] < 0 and abs(cur[0]) < 1.8 and abs(s[0]) < 1.8:
                corner = (2.0 if cur[0] + s[0] > 0 else -2.1, 0.0)
                t += np.hypot(corner[0] - cur[0], corner[1] - cur[1]) / 0.9
                kfs.append(Keyframe(t, corner, 0.0, 0.0))
                d = np.hypot(s[0] - corner[0], s[1] - corner[1])
            t += d / 0.9
            kfs.append(Keyframe(t, s[:2], s[2] + j(0.3), float(rng.uniform(0.0, 0.4))))
            cur = s[:2]
    return tuple(kfs)


def _patient_pose(rest_height_guess_m: float = 0.0) -> np.ndarray:
    """Supine on the table: body z (head) -> world -x, body front (-y) -> world +z."""
    T = np.eye(4)
    T[:3, 0] = (0, 1, 0)
    T[:3, 1] = (0, 0, -1)
    T[:3, 2] = (-1, 0, 0)
    T[:3, 3] = (-0.05, 0.0, TABLE_TOP_Z_M + 0.11)
    return T


def _lights(rng: np.random.Generator, scenario: Scenario) -> tuple[SurgicalLight, ...]:
    if scenario is Scenario.EASY:
        return (
            SurgicalLight((-0.3, 0.3), (-1.2 + rng.normal(0, 0.1), 1.35, 2.25), drift_m=(0.05, 0.05, 0.0), drift_phase=float(rng.uniform(0, 6))),
            SurgicalLight((0.3, -0.3), (1.6 + rng.normal(0, 0.1), -0.4, 2.35), drift_m=(0.05, 0.0, 0.0), drift_phase=float(rng.uniform(0, 6))),
        )
    if scenario is Scenario.MEDIUM:
        return (
            SurgicalLight((0.0, 0.4), (0.1 + rng.normal(0, 0.1), -0.25, 2.15), drift_m=(0.3, 0.12, 0.05), drift_hz=0.07, drift_phase=float(rng.uniform(0, 6))),
            SurgicalLight((0.3, -0.4), (0.4 + rng.normal(0, 0.1), 0.35, 2.2), drift_m=(0.25, 0.1, 0.05), drift_hz=0.05, drift_phase=float(rng.uniform(0, 6))),
        )
    # hard: lamp heads low, on the lines from the two surgical cameras to the faces at the table
    return (
        SurgicalLight((0.0, 0.6), (0.05 + rng.normal(0, 0.05), -0.05, 1.98), drift_m=(0.3, 0.2, 0.04), drift_hz=0.08, drift_phase=float(rng.uniform(0, 6)), radius_m=0.36),
        SurgicalLight((0.2, -0.6), (0.55 + rng.normal(0, 0.05), 0.1, 2.02), drift_m=(0.3, 0.2, 0.04), drift_hz=0.06, drift_phase=float(rng.uniform(0, 6)), radius_m=0.36),
        SurgicalLight((-0.5, 0.0), (-0.45, 0.55, 2.1), drift_m=(0.15, 0.25, 0.0), drift_hz=0.05, drift_phase=float(rng.uniform(0, 6))),
    )  # fmt: skip


_CASTS = {
    Scenario.EASY: (Role.SURGEON, Role.SURGEON, Role.ANESTHETIST, Role.CIRCULATOR),
    Scenario.MEDIUM: (Role.SURGEON, Role.SURGEON, Role.ANESTHETIST, Role.NURSE, Role.CIRCULATOR, Role.ASSISTANT),
    Scenario.HARD: (Role.SURGEON, Role.SURGEON, Role.ASSISTANT, Role.NURSE),
}


def build_scene_spec(scenario: Scenario, duration_s: float, rng: np.random.Generator, patient_face_covered: bool = True,
                     n_people: int | None = None) -> SceneSpec:  # fmt: skip
    """Sample the cast, their garments and motion scripts, and the lights for a scenario.

    ``n_people`` (staff, not counting the patient) defaults to the scenario's: easy 3-4,
    medium 5-6, hard 4. Person ids: staff 0..n-1, the patient n.
    """
    cast = list(_CASTS[scenario])
    if n_people is None:
        n_people = {Scenario.EASY: int(rng.integers(3, 5)), Scenario.MEDIUM: int(rng.integers(5, 7)), Scenario.HARD: 4}[scenario]
    while len(cast) < n_people:
        cast.append(Role.CIRCULATOR)
    cast = cast[:n_people]
    people = []
    for i, role in enumerate(cast):
        slot = sum(1 for r in cast[:i] if r is role) if role in (Role.SURGEON, Role.ASSISTANT) else i
        people.append(with_tracks(
            PersonSpec(
                person_id=i,
                role=role,
                phenotype=_phenotype(rng, role),
                outfit=_outfit(rng, scenario, role),
                keyframes=_staff_script(rng, role, slot, duration_s, scenario),
                head_seed=int(rng.integers(2**31)),
            ), float(duration_s)
        ))  # fmt: skip
    people.append(
        PersonSpec(
            person_id=len(cast),
            role=Role.PATIENT,
            phenotype=_phenotype(rng, Role.PATIENT),
            outfit=_outfit(rng, scenario, Role.PATIENT),
            keyframes=(),
            head_seed=int(rng.integers(2**31)),
            lying_world_from_body=_patient_pose(),
        )
    )
    people = [dataclasses.replace(p, outfit=_vary_outfit(p.outfit, p.head_seed, p.role)) for p in people]
    return SceneSpec(scenario, float(duration_s), tuple(people), _lights(rng, scenario), bool(patient_face_covered), int(rng.integers(2**31)))
