"""Headless OpenGL rendering of the synthetic OR through a distorted (Brown-Conrady) lens.

Each view is rendered by moderngl (EGL: Mesa llvmpipe on a CPU, the GPU where there is one)
as a pinhole image over a field of view slightly larger than the lens's, then resampled
onto the distorted pixel grid with precomputed maps (``cv2.remap``): exact per pixel, since
the pinhole image is rendered at the lens's centre focal length. Four buffers come back on
the distorted grid:

* ``rgb``   uint8 (H, W, 3), shaded and textured (bilinear resampling);
* ``ids``   uint8 (H, W, 4): person id + 1 (0 = nobody), face flag, object id, material
  (nearest resampling);
* ``z_m``   float32 (H, W): depth along the camera's +z axis, 0 = nothing (nearest);
* ``albedo`` float32 (H, W): surface reflectance, for the depth sensor's dark-surface dropout.

People are painted procedurally in the fragment shader from their rest-pose body
coordinates (clothes by body region; skin with tone blotches and pores; a face with eyes
(sclera, iris, pupil, catch light, lids and lashes), brows, nose shadows, lips, beard
shadow, glasses; or a mask), so the face has pixel-exact structure at any resolution without
a texture atlas. Hair, caps, masks and gown folds are geometry: each person's vertices are
displaced along their normals (``person_displacement_m``, once per person). Light: two room
lights, a fill from above, and the surgical lights' beams (``set_spots``) with shadow maps of
the static scene (table, drapes, furniture; people cast none); Blinn-Phong highlights;
procedural floor, wall and drape textures; monitor screens with traces.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from orscene.errors import ConfigError
from orscene.synth.meshes import Material, Mesh
from orscene.synth.people import Outfit
from orscene.types import Intrinsics

__all__ = ["RenderOutput", "SceneRenderer", "PinholeWarp", "pinhole_warp", "PersonDraw"]

_COMMON = """
uniform int u_person;            // 1 while drawing a person
uniform vec3 u_eyeL; uniform vec3 u_eyeR; uniform vec3 u_nose;
uniform float u_chin_z; uniform float u_ear_y; uniform float u_shoulder_z; uniform float u_hip_z;
uniform float u_knee_z; uniform float u_ankle_z; uniform float u_elbow_x; uniform float u_wrist_x;
uniform int f_cap; uniform int f_mask; uniform int f_gloves; uniform int f_gown; uniform int f_glasses;
uniform float u_seed;            // per person: offsets every procedural pattern
uniform int u_fast;              // 1: depth-sensor views, albedo without the fine patterns

float hash13(vec3 p) {
    p = fract(p * 0.1031);
    p += dot(p, p.zyx + 31.32);
    return fract((p.x + p.y) * p.z);
}
float vnoise_full(vec3 x) {
    vec3 i = floor(x); vec3 f = fract(x);
    f = f * f * (3.0 - 2.0 * f);
    return mix(mix(mix(hash13(i), hash13(i + vec3(1, 0, 0)), f.x),
                   mix(hash13(i + vec3(0, 1, 0)), hash13(i + vec3(1, 1, 0)), f.x), f.y),
               mix(mix(hash13(i + vec3(0, 0, 1)), hash13(i + vec3(1, 0, 1)), f.x),
                   mix(hash13(i + vec3(0, 1, 1)), hash13(i + vec3(1, 1, 1)), f.x), f.y), f.z);
}
float vnoise(vec3 x) {
    if (u_fast == 1) return 0.5;
    return vnoise_full(x);
}
float fbm(vec3 x) { return 0.55 * vnoise(x) + 0.3 * vnoise(2.03 * x + 11.0) + 0.15 * vnoise(4.1 * x + 23.0); }

float eye_z() { return 0.5 * (u_eyeL.z + u_eyeR.z); }
float hairline_z(vec3 r) { return eye_z() + 0.6 * (eye_z() - u_chin_z); }
bool in_head(vec3 r) { return r.z > u_shoulder_z + 0.02 && abs(r.x) < 0.14; }
// 1 = cap, 2 = hair, 3 = mask, 0 = other
int head_region(vec3 r) {
    if (!in_head(r)) return 0;
    bool front = r.y < u_ear_y - 0.012;
    float ez = eye_z();
    float hl = hairline_z(r);
    if (f_cap == 1 && (r.z > hl - 0.008 || (!front && r.z > ez - 0.015))) return 1;
    if (f_cap == 0 && (r.z > hl + 0.004 || (r.y > u_ear_y + 0.01 && r.z > u_chin_z + 0.02))) return 2;
    if (f_mask == 1 && r.z < u_nose.z - 0.004 && r.z > u_chin_z - 0.02 && r.y < u_ear_y - 0.005) return 3;
    return 0;
}
"""

_VS = """
#version 330
uniform mat4 u_cam_from_world;
uniform vec4 u_k;      // fx fy cx cy of the pinhole render
uniform vec2 u_size;   // width height of the pinhole render
uniform vec2 u_nf;
""" + _COMMON + """
in vec3 in_pos; in vec3 in_normal; in vec3 in_color; in vec3 in_rest; in vec4 in_attr;
out vec3 v_world; out vec3 v_normal; out vec3 v_color; out vec3 v_rest; out float v_face;
flat out vec4 v_attr;
void main() {
    vec3 pos = in_pos;
    // hair, caps, masks and gown folds stand off the skin: a person's vertices carry their
    // displacement along the normal in in_color.x (``person_displacement_m``, once per person)
    if (u_person == 1) pos += in_color.x * normalize(in_normal);
    vec4 pc = u_cam_from_world * vec4(pos, 1.0);
    float z = pc.z;
    float n = u_nf.x, f = u_nf.y;
    // OpenCV pixels (centres at integers, row 0 at the top) -> clip space; framebuffer
    // row r then holds image row r.
    gl_Position = vec4((2.0 * u_k.x / u_size.x) * pc.x + (2.0 * (u_k.z + 0.5) / u_size.x - 1.0) * z,
                       (2.0 * u_k.y / u_size.y) * pc.y + (2.0 * (u_k.w + 0.5) / u_size.y - 1.0) * z,
                       (f + n) / (f - n) * z - 2.0 * f * n / (f - n), z);
    v_world = pos; v_normal = in_normal; v_color = in_color; v_rest = in_rest;
    v_face = in_attr.y; v_attr = in_attr;
}
"""

_FS = """
#version 330
uniform mat4 u_cam_from_world;
uniform vec3 u_cam_pos;
""" + _COMMON + """
uniform vec3 c_skin; uniform vec3 c_top; uniform vec3 c_pants; uniform vec3 c_hair; uniform vec3 c_shoes;
uniform vec3 c_cap; uniform vec3 c_mask; uniform vec3 c_gloves; uniform vec3 c_iris; uniform vec3 c_lip;
uniform float u_stubble;
uniform int u_nspots;            // surgical lights: position, beam axis (unit), intensity
uniform vec3 u_spot_pos[4]; uniform vec3 u_spot_dir[4];
uniform mat4 u_spot_view[4];     // lamp_from_world of each beam's shadow map
uniform sampler2D u_shadow;      // 2x2 atlas of the lamps' depth maps (static scene)
uniform float u_shadow_f;        // focal length (px) of a shadow map
uniform float u_shadow_size;     // side (px) of one shadow map
uniform int u_use_shadow;
in vec3 v_world; in vec3 v_normal; in vec3 v_color; in vec3 v_rest; in float v_face;
flat in vec4 v_attr;
layout(location = 0) out vec4 o_color;
layout(location = 1) out vec4 o_id;
layout(location = 2) out vec2 o_aux;

float band(float x, float a, float b, float soft) { return smoothstep(a - soft, a + soft, x) * (1.0 - smoothstep(b - soft, b + soft, x)); }

vec3 skin_at(vec3 r) {
    float blot = vnoise(r * 35.0 + u_seed);
    float pores = vnoise(r * 1400.0 + u_seed);
    return c_skin * (0.9 + 0.16 * blot) * (0.96 + 0.07 * pores);
}

vec3 face_albedo(vec3 r) {
    vec3 s = skin_at(r);
    float ez = eye_z();
    float ax = abs(r.x);
    // warmer cheeks and nose tip, cooler/darker jaw (stubble on some)
    float cheek = exp(-(pow((ax - 0.036) / 0.016, 2.0) + pow((r.z - (u_nose.z - 0.006)) / 0.016, 2.0)));
    s = mix(s, s * vec3(1.06, 0.86, 0.84), 0.5 * cheek);
    float jaw = smoothstep(u_nose.z - 0.02, u_nose.z - 0.05, r.z) * smoothstep(u_chin_z - 0.02, u_chin_z + 0.005, r.z);
    s = mix(s, s * vec3(0.72, 0.72, 0.76), u_stubble * jaw * (0.6 + 0.4 * vnoise(r * 2000.0)));
    // nose: shadow along the sides of the bridge and under the tip, nostrils
    float side = exp(-pow((ax - 0.011) / 0.004, 2.0)) * band(r.z, u_nose.z - 0.005, ez - 0.01, 0.004);
    s *= 1.0 - 0.25 * side;
    float under = exp(-pow(ax / 0.014, 2.0)) * band(r.z, u_nose.z - 0.022, u_nose.z - 0.012, 0.002);
    s *= 1.0 - 0.3 * under;
    float nx = (ax - 0.0085) / 0.0045, nzz = (r.z - (u_nose.z - 0.011)) / 0.0028;
    s *= 1.0 - 0.75 * smoothstep(1.2, 0.6, nx * nx + nzz * nzz);
    // lips: upper darker, lower fuller and lighter, a dark line between them
    float mz = u_chin_z + 0.42 * (u_nose.z - u_chin_z);
    float w = 0.026;
    float prof = max(0.0, 1.0 - (r.x * r.x) / (w * w));
    float up = band(r.z - mz, 0.0, 0.0055 * sqrt(prof) + 0.0005 * cos(r.x * 250.0), 0.0008);
    float lo = band(mz - r.z, 0.0, 0.0075 * sqrt(prof), 0.0008);
    s = mix(s, c_lip * 0.75, up);
    s = mix(s, c_lip * 0.92, lo);
    s *= 1.0 - 0.7 * exp(-pow((r.z - mz) / 0.0011, 2.0)) * step(0.0, prof - 0.05);
    s *= 1.0 - 0.18 * exp(-pow((r.z - (mz - 0.016)) / 0.004, 2.0)) * exp(-pow(r.x / 0.02, 2.0));  // under the lower lip
    for (int i = 0; i < 2; i++) {
        vec3 e = i == 0 ? u_eyeL : u_eyeR;
        float dx = r.x - e.x, dz = r.z - e.z;
        float q = (dx * dx) / (0.0150 * 0.0150) + (dz * dz) / (0.0072 * 0.0072);
        // brow: an arched hairy band above the eye, thinner towards the temple
        float bz = e.z + 0.0175 + 0.004 * (1.0 - (dx * dx) / (0.021 * 0.021));
        float outer = clamp(-dx * sign(e.x) / 0.021, -1.0, 1.0);
        float bt = 0.0036 * (1.0 - 0.45 * max(outer, 0.0));
        float brow = band(r.z - bz, -bt, bt, 0.0012) * band(dx, -0.022, 0.022, 0.002);
        brow *= 0.75 + 0.25 * vnoise(vec3(r.x * 2500.0, r.z * 600.0, u_seed));
        s = mix(s, mix(c_hair, vec3(0.04), 0.45), 0.9 * brow);
        // socket shadow, upper lid crease, dark circles below
        s *= 1.0 - 0.3 * exp(-q / 3.0) - 0.15 * exp(-pow((dz + 0.010) / 0.004, 2.0)) * exp(-pow(dx / 0.014, 2.0));
        s *= 1.0 - 0.2 * exp(-pow((dz - 0.011) / 0.005, 2.0)) * exp(-pow(dx / 0.02, 2.0));  // under the brow ridge
        if (q < 1.0) {
            float ri = sqrt(dx * dx + dz * dz) / 0.0056;
            vec3 eye = vec3(0.74, 0.7, 0.67) * (0.7 + 0.3 * (1.0 - q));             // sclera, darker in the corners
            eye = mix(eye, c_iris * (0.75 + 0.5 * vnoise(vec3(atan(dz, dx) * 8.0, ri * 3.0, u_seed))), smoothstep(1.05, 0.95, ri));
            eye = mix(eye, c_iris * 0.5, smoothstep(0.8, 1.0, ri) * step(ri, 1.0));  // limbal ring
            eye = mix(eye, vec3(0.02), smoothstep(0.42, 0.36, ri));                  // pupil
            float hl = length(vec2(dx + 0.0016, dz - 0.0016)) / 0.0011;
            eye = mix(eye, vec3(1.0), smoothstep(1.0, 0.6, hl));                     // catch light
            eye *= 1.0 - 0.55 * smoothstep(0.35, 0.95, dz / 0.0072);                // upper lid's shadow
            s = eye;
        }
        // lashes / lid margin: dark line along the upper lid, a thinner one below
        float rim = abs(sqrt(q) - 1.0);
        s *= 1.0 - 0.8 * smoothstep(0.22, 0.05, rim) * step(0.0, dz) - 0.35 * smoothstep(0.12, 0.02, rim) * step(dz, 0.0);
        if (f_glasses == 1) {
            float g = (dx * dx) / (0.025 * 0.025) + ((dz + 0.002) * (dz + 0.002)) / (0.017 * 0.017);
            s = mix(s, vec3(0.06, 0.06, 0.07), smoothstep(0.14, 0.07, abs(sqrt(g) - 1.0)));
        }
    }
    if (f_glasses == 1) {
        float bridge = band(r.x, -0.008, 0.008, 0.001) * band(r.z - (ez + 0.006), -0.0015, 0.0015, 0.0005);
        float temple = band(ax, 0.058, 0.1, 0.002) * band(r.z - (ez + 0.008), -0.0015, 0.0015, 0.0005);
        s = mix(s, vec3(0.06, 0.06, 0.07), max(bridge, temple));
    }
    return s;
}

vec3 head_albedo(vec3 r) {
    int reg = head_region(r);
    if (reg == 1) {
        float weave = 0.95 + 0.05 * vnoise(r * 1500.0);
        float folds = 0.82 + 0.3 * vnoise(r * 40.0 + u_seed);
        return c_cap * weave * folds;
    }
    if (reg == 2) {
        // strands running back over the scalp, darker clumps
        float strands = vnoise(vec3(r.x * 900.0, r.y * 120.0, r.z * 120.0) + u_seed);
        float clumps = vnoise(r * 60.0 + u_seed);
        return c_hair * (0.55 + 0.35 * clumps + 0.3 * strands);
    }
    if (r.z < u_chin_z - 0.004) {
        if (f_gown == 1 && r.z < u_chin_z - 0.05) return c_top;
        return skin_at(r) * (0.72 + 0.2 * smoothstep(u_chin_z - 0.004, u_chin_z - 0.05, r.z));  // in the chin's shadow
    }
    if (reg == 3) {
        float pleat = 0.9 + 0.1 * smoothstep(0.2, 0.8, abs(fract(r.z * 110.0) - 0.5) * 2.0);
        float wire = 1.0 - 0.15 * band(r.z, u_nose.z - 0.008, u_nose.z - 0.004, 0.0008);
        return c_mask * pleat * wire * (0.96 + 0.04 * vnoise(r * 1200.0));
    }
    if (f_mask == 1 && abs(r.z - (u_nose.z - 0.012)) < 0.0025 && r.y < u_ear_y + 0.02)
        return vec3(0.95);  // ear loop
    if (r.y > u_ear_y - 0.012) return skin_at(r) * 0.95;  // ears, neck side
    return face_albedo(r);
}

vec3 person_albedo(vec3 r) {
    float ax = abs(r.x);
    if (ax > u_wrist_x - 0.03 && r.z < u_shoulder_z) return f_gloves == 1 ? c_gloves * (0.95 + 0.05 * vnoise(r * 300.0)) : skin_at(r);
    if (in_head(r)) return head_albedo(r);
    if (r.z < u_ankle_z + 0.035) return c_shoes;
    float cloth = 0.9 + 0.14 * vnoise(vec3(r.x * 25.0, r.y * 25.0, r.z * 6.0) + u_seed);  // folds and creases
    bool gown_here = f_gown == 1 && r.z > u_knee_z - 0.15;
    if (r.z < u_hip_z - 0.05 && !gown_here && ax < 0.3) return c_pants * cloth;
    float sleeve = f_gown == 1 ? u_wrist_x - 0.06 : u_elbow_x - 0.08;
    if (ax > sleeve) return skin_at(r);
    // scrub top / gown with a V neck
    if (f_gown == 0 && r.z > u_shoulder_z - 0.06 + 2.0 * ax - 0.02 && r.y < 0.0) return skin_at(r);
    return c_top * cloth;
}

void main() {
    int mat = int(v_attr.w + 0.5);
    int oid = int(v_attr.z + 0.5);
    vec3 albedo = v_color;
    if (u_person == 1) albedo = person_albedo(v_rest);
    vec3 n = normalize(v_normal);
    if (mat == 1) {  // vinyl floor tiles 0.6 m, mottled
        vec2 g = abs(fract(v_world.xy / 0.6 + 0.5) - 0.5);
        float line = step(0.485, max(g.x, g.y));
        albedo = v_color * (1.0 - 0.18 * line) * (0.9 + 0.16 * fbm(vec3(v_world.xy * 6.0, 0.0))) * (0.97 + 0.05 * vnoise(vec3(v_world.xy * 150.0, 1.0)));
    } else if (mat == 5) {  // painted walls: faint unevenness
        albedo = v_color * (0.95 + 0.07 * fbm(v_world * 3.0));
    } else if (u_person == 0 && oid == 5) {  // drapes: cloth folds
        albedo = v_color * (0.85 + 0.2 * fbm(v_world * vec3(12.0, 12.0, 30.0)));
    }
    vec3 view = normalize(u_cam_pos - v_world);
    if (dot(n, view) < 0.0) n = -n;
    // room lights (ceiling panels, a fill from the side) and the surgical lights' beams
    vec3 L1 = normalize(vec3(0.3, 0.2, 1.0));
    vec3 L2 = normalize(vec3(-0.6, -0.4, 0.5));
    float diff = 0.30 + 0.45 * max(dot(n, L1), 0.0) + 0.18 * max(dot(n, L2), 0.0) + 0.08 * max(n.z, 0.0);
    // cheap ambient occlusion: darker close to the floor and in the room's corners
    float ao = 0.8 + 0.2 * smoothstep(0.0, 0.5, v_world.z);
    float shine = mat == 4 ? 0.6 : (u_person == 1 ? 0.08 : 0.1);
    float power = mat == 4 ? 40.0 : (u_person == 1 ? 24.0 : 16.0);
    vec3 h = normalize(L1 + view);
    float spec = shine * pow(max(dot(n, h), 0.0), power);
    for (int i = 0; i < 4; i++) {
        if (i >= u_nspots || u_fast == 1) break;
        vec3 toL = u_spot_pos[i] - v_world;
        float dist = length(toL);
        vec3 l = toL / dist;
        float cone = smoothstep(0.87, 0.96, dot(-l, u_spot_dir[i]));
        float I = 1.1 * cone / (1.0 + 0.35 * dist * dist);
        if (u_use_shadow == 1 && I > 0.0) {  // the table, drapes and furniture shadow the beam
            vec4 q = u_spot_view[i] * vec4(v_world, 1.0);
            if (q.z > 0.05) {
                vec2 px = u_shadow_f * q.xy / q.z + 0.5 * u_shadow_size - 0.5;
                vec2 uv = (px + 0.5 + u_shadow_size * vec2(float(i % 2), float(i / 2))) / (2.0 * u_shadow_size);
                float zs = texture(u_shadow, uv).r;
                if (zs > 0.0 && q.z > zs * 1.01 + 0.03) I = 0.0;
            }
        }
        diff += I * max(dot(n, l), 0.0);
        spec += I * shine * pow(max(dot(n, normalize(l + view)), 0.0), power);
    }
    vec3 c = albedo * diff * ao + spec;
    if (u_person == 0 && oid >= 20 && mat == 4) c = vec3(1.0, 0.99, 0.95);  // lamp glass glows
    if (u_person == 0 && oid == 7 && mat == 3 && abs(n.z) < 0.3) {
        // monitor screens show vital-sign traces and a few numbers (self-lit)
        float su = v_world.x + v_world.y;
        float sz = fract(v_world.z * 9.0);
        float lane = floor(v_world.z * 9.0);
        float wave = 0.5 + 0.3 * sin(su * (40.0 + 13.0 * lane)) * (0.6 + 0.4 * sin(su * 7.0 + lane));
        float trace = smoothstep(0.09, 0.02, abs(sz - wave));
        vec3 tint = mod(lane, 3.0) < 1.0 ? vec3(0.2, 1.0, 0.3) : (mod(lane, 3.0) < 2.0 ? vec3(1.0, 0.9, 0.2) : vec3(0.3, 0.8, 1.0));
        float digits = step(0.55, vnoise(vec3(su * 60.0, lane * 7.0, 0.0))) * step(0.7, fract(su * 3.0)) * step(0.3, sz) * step(sz, 0.7);
        c = vec3(0.03, 0.04, 0.05) + 0.8 * tint * max(trace, digits);
    }
    o_color = vec4(clamp(c, 0.0, 1.0), 1.0);
    float face = (u_person == 1 && v_face > 0.5) ? 1.0 : 0.0;
    o_id = vec4(v_attr.x, face, v_attr.z, v_attr.w) / 255.0;
    float z = (u_cam_from_world * vec4(v_world, 1.0)).z;
    o_aux = vec2(z, dot(albedo, vec3(0.299, 0.587, 0.114)));
}
"""


def _hash13(p: np.ndarray) -> np.ndarray:
    p = np.mod(p * 0.1031, 1.0)
    p = p + np.sum(p * (p[..., ::-1] + 31.32), axis=-1, keepdims=True)
    return np.mod((p[..., 0] + p[..., 1]) * p[..., 2], 1.0)


def value_noise(x: np.ndarray) -> np.ndarray:
    """Smooth value noise in [0, 1] of (N, 3) points (trilinear over hashed lattice values)."""
    i = np.floor(x)
    f = x - i
    f = f * f * (3.0 - 2.0 * f)
    out = np.zeros(x.shape[0])
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1]) * (f[:, 2] if dz else 1 - f[:, 2])
                out += w * _hash13(i + np.array([dx, dy, dz], float))
    return out


def person_displacement_m(rest_m: np.ndarray, landmarks_m: np.ndarray, chin_z_m: float, outfit: Outfit, person_id: int) -> np.ndarray:
    """(V,) outward displacement of a person's vertices (metres): a cap's cloth (10-16 mm),
    the hair's volume (``outfit.hair_len_m`` +-30 %), a mask standing off the face (6 mm) and
    loose gown folds (0-12 mm); the regions are the shader's (``head_region``)."""
    r = np.asarray(rest_m, np.float64)
    lm = np.asarray(landmarks_m, np.float64)
    seed = float((person_id * 37 + outfit.pattern_seed) % 1000) * 0.731
    eye_z = 0.5 * (lm[1, 2] + lm[2, 2])
    ear_y = 0.5 * (lm[3, 1] + lm[4, 1])
    shoulder_z = 0.5 * (lm[5, 2] + lm[6, 2])
    knee_z = 0.5 * (lm[13, 2] + lm[14, 2])
    nose_z = lm[0, 2]
    hairline = eye_z + 0.6 * (eye_z - chin_z_m)
    head = (r[:, 2] > shoulder_z + 0.02) & (np.abs(r[:, 0]) < 0.14)
    front = r[:, 1] < ear_y - 0.012
    if outfit.cap is not None:
        cap = head & ((r[:, 2] > hairline - 0.008) | (~front & (r[:, 2] > eye_z - 0.015)))
        hair = np.zeros_like(cap)
    else:
        cap = np.zeros_like(head)
        hair = head & ((r[:, 2] > hairline + 0.004) | ((r[:, 1] > ear_y + 0.01) & (r[:, 2] > chin_z_m + 0.02)))
    mask = head & ~cap & ~hair & (outfit.mask is not None) & (r[:, 2] < nose_z - 0.004) & (r[:, 2] > chin_z_m - 0.02) & (r[:, 1] < ear_y - 0.005)
    gown = ~head & bool(outfit.gown) & (r[:, 2] > knee_z - 0.15) & (r[:, 2] < shoulder_z - 0.03)
    d = np.zeros(r.shape[0])
    d[cap] = 0.010 + 0.006 * value_noise(r[cap] * 45.0 + seed)
    d[hair] = outfit.hair_len_m * (0.7 + 0.6 * value_noise(r[hair] * 30.0 + seed))
    d[mask] = 0.006
    d[gown] = 0.012 * value_noise(r[gown] * np.array([18.0, 18.0, 3.0]) + seed)
    return d.astype(np.float32)


@dataclass(frozen=True)
class PinholeWarp:
    """Maps from the distorted image grid into an oversized pinhole render."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    map_x: np.ndarray
    """(H, W) float32 pinhole column of every distorted pixel."""
    map_y: np.ndarray
    map_fixed: tuple[np.ndarray, np.ndarray]
    """The same maps in cv2's fixed-point form (fast bilinear remap)."""
    map_nearest: np.ndarray
    """(H, W, 2) int16 nearest pinhole pixel (fast nearest remap)."""


def pinhole_warp(intr: Intrinsics, margin_px: int = 2) -> PinholeWarp:
    """The pinhole render (same fx, fy) covering every ray of the distorted image."""
    W, H = intr.width_px, intr.height_px
    us, vs = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    pts = np.stack([us.ravel(), vs.ravel()], axis=-1)[:, None, :]
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)
    xy = cv2.undistortPointsIter(pts, intr.K_px, intr.distortion, None, None, crit).reshape(H, W, 2)
    fx, fy = float(intr.K_px[0, 0]), float(intr.K_px[1, 1])
    x0, x1 = xy[..., 0].min(), xy[..., 0].max()
    y0, y1 = xy[..., 1].min(), xy[..., 1].max()
    if not np.all(np.isfinite([x0, x1, y0, y1])) or max(x1 - x0, y1 - y0) > 6:
        raise ConfigError("lens distortion does not map the image onto a bounded field of view")
    cx = -fx * x0 + margin_px
    cy = -fy * y0 + margin_px
    width = int(np.ceil(fx * (x1 - x0))) + 2 * margin_px + 1
    height = int(np.ceil(fy * (y1 - y0))) + 2 * margin_px + 1
    map_x = (fx * xy[..., 0] + cx).astype(np.float32)
    map_y = (fy * xy[..., 1] + cy).astype(np.float32)
    fixed = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
    nearest, _ = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2, nninterpolation=True)
    return PinholeWarp(fx, fy, cx, cy, width, height, map_x, map_y, fixed, nearest)


def _sphere_in_view(cam_from_world: np.ndarray, warp: PinholeWarp, centre_world: np.ndarray, radius: float) -> bool:
    """Whether a bounding sphere can touch the pinhole render's frustum (conservative)."""
    c = cam_from_world[:3, :3] @ centre_world + cam_from_world[:3, 3]
    if c[2] + radius <= 0:
        return False
    x0, x1 = (-0.5 - warp.cx) / warp.fx, (warp.width - 0.5 - warp.cx) / warp.fx
    y0, y1 = (-0.5 - warp.cy) / warp.fy, (warp.height - 0.5 - warp.cy) / warp.fy
    for n in ((1.0, 0.0, -x0), (-1.0, 0.0, x1), (0.0, 1.0, -y0), (0.0, -1.0, y1)):
        nv = np.array(n)
        if nv @ c / np.linalg.norm(nv) < -radius:
            return False
    return True


@dataclass(frozen=True)
class RenderOutput:
    """Buffers on the distorted grid; ``rgb`` and ``albedo`` are None when not requested."""

    ids: np.ndarray
    z_m: np.ndarray
    rgb: np.ndarray | None = None
    albedo: np.ndarray | None = None


@dataclass(frozen=True)
class PersonDraw:
    """One person to draw this frame: posed world vertices/normals, rest coordinates,
    the landmarks and outfit that the shader paints with."""

    person_id: int
    vertices_world_m: np.ndarray
    normals_world: np.ndarray
    rest_vertices_m: np.ndarray
    rest_landmarks_m: np.ndarray
    """(17, 3) COCO-17 rest-pose joints, body frame."""
    chin_z_m: float
    outfit: Outfit


class SceneRenderer:
    """Holds the GL context, shader and the uploaded scene; ``render`` is the work.

    A thin holder (GL state cannot be a pure function): ``set_static``, then per frame
    ``set_frame`` (people and moving objects), then ``render`` per camera.
    """

    def __init__(self, faces: np.ndarray, face_vertex_ids: np.ndarray, backend: str = "egl", cull_people: bool = True) -> None:
        """``cull_people``: skip the back faces of the closed, outward-wound body meshes:
        the same image, ~20 % less rasterizer work."""
        import moderngl

        try:
            self.ctx = moderngl.create_standalone_context(backend=backend) if backend else moderngl.create_standalone_context()
        except Exception as e:  # noqa: BLE001 - moderngl raises plain Exceptions
            raise ConfigError(f"cannot create a headless OpenGL context (backend {backend!r}): {e}") from None
        self.prog = self.ctx.program(vertex_shader=_VS, fragment_shader=_FS)
        self._faces = np.ascontiguousarray(faces, dtype=np.int32)
        self._ibo = self.ctx.buffer(self._faces.tobytes())
        self._face_flag = np.zeros(int(self._faces.max()) + 1, np.float32)
        self._face_flag[face_vertex_ids] = 1.0
        self._static = None
        self._dynamic = None
        self._people: list[tuple[PersonDraw, object, np.ndarray, float]] = []
        self._spots: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
        self._shadow = None
        self._person_buffers: dict[int, tuple] = {}
        self._fbos: dict[tuple[int, int], tuple] = {}
        self._warps: dict[tuple, PinholeWarp] = {}
        self._static_cache: dict[tuple, tuple] = {}
        self.cull_people = cull_people

    # -- scene upload --------------------------------------------------------
    def _mesh_vao(self, mesh: Mesh):
        V = len(mesh.positions)
        data = np.concatenate([mesh.positions, mesh.normals, mesh.colors, np.zeros((V, 3), np.float32), mesh.attrs], axis=1)
        vbo = self.ctx.buffer(np.ascontiguousarray(data, np.float32).tobytes())
        ibo = self.ctx.buffer(np.ascontiguousarray(mesh.triangles, np.int32).tobytes())
        vao = self.ctx.vertex_array(self.prog, [(vbo, "3f 3f 3f 3f 4f", "in_pos", "in_normal", "in_color", "in_rest", "in_attr")], ibo)
        return vao, (vbo, ibo)

    def _release(self, item) -> None:
        if item is not None:
            vao, bufs = item
            vao.release()
            for b in bufs:
                b.release()

    def set_static(self, mesh: Mesh) -> None:
        """Upload the scene's static part (rendered once per camera and cached)."""
        self._release(self._static)
        self._static = self._mesh_vao(mesh)
        self._drop_shadow()
        for fb in self._static_cache.values():
            for obj in fb:
                obj.release()
        self._static_cache = {}

    def set_spots(self, spots) -> None:
        """Surgical lights' beams: up to 4 ``(position_world_m, unit beam axis)``; they light
        the static scene too, so they are fixed for the session (set before rendering)."""
        self._spots = tuple((np.asarray(p, float), np.asarray(d, float) / np.linalg.norm(d)) for p, d in spots)[:4]
        self._drop_shadow()
        for fb in self._static_cache.values():
            for obj in fb:
                obj.release()
        self._static_cache = {}

    _SHADOW_PX = 512
    _SHADOW_HALF_FOV_RAD = np.deg2rad(36.0)

    def _drop_shadow(self) -> None:
        if self._shadow is not None:
            for obj in self._shadow[0]:
                obj.release()
        self._shadow = None

    def _spot_views(self) -> np.ndarray:
        """(4, 4, 4) lamp_from_world: +z along the beam."""
        out = np.tile(np.eye(4), (4, 1, 1))
        for i, (p, d) in enumerate(self._spots):
            helper = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
            x = np.cross(helper, d)
            x /= np.linalg.norm(x)
            y = np.cross(d, x)
            R = np.stack([x, y, d])
            out[i, :3, :3] = R
            out[i, :3, 3] = -R @ p
        return out

    def _make_shadow(self) -> None:
        """Depth maps of the static scene seen from each lamp (a 2x2 atlas), once per scene:
        the table, drapes and furniture cast shadows; people and the moving lamps do not."""
        import moderngl

        S = self._SHADOW_PX
        f = 0.5 * S / np.tan(self._SHADOW_HALF_FOV_RAD)
        fb = self._new_fbo(2 * S, 2 * S)
        fb[3].filter = (moderngl.NEAREST, moderngl.NEAREST)
        fb[0].use()
        fb[0].clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        u = self.prog
        u["u_use_shadow"].value = 0
        u["u_nspots"].value = 0
        u["u_fast"].value = 1
        self._set_person_uniforms(None)
        u["u_k"].value = (f, f, 0.5 * S - 0.5, 0.5 * S - 0.5)
        u["u_size"].value = (float(S), float(S))
        views = self._spot_views()
        for i, (p, _) in enumerate(self._spots):
            fb[0].viewport = ((i % 2) * S, (i // 2) * S, S, S)
            u["u_cam_from_world"].write(views[i].T.astype(np.float32).tobytes())
            u["u_cam_pos"].value = tuple(float(c) for c in p)
            self._static[0].render(moderngl.TRIANGLES)
        fb[0].viewport = (0, 0, 2 * S, 2 * S)
        self._shadow = (fb, f, views)

    def set_frame(self, people: list[PersonDraw], moving: Mesh | None) -> None:
        self._release(self._dynamic)
        self._dynamic = self._mesh_vao(moving) if moving is not None and len(moving.positions) else None
        self._people = []
        for p in people:
            V = p.vertices_world_m.shape[0]
            bufs = self._person_buffers.get(p.person_id)
            if bufs is None:
                static = np.zeros((V, 3 + 3 + 4), np.float32)
                dyn = self.ctx.buffer(reserve=V * 6 * 4)
                sbo = self.ctx.buffer(reserve=static.nbytes)
                vao = self.ctx.vertex_array(
                    self.prog,
                    [(dyn, "3f 3f", "in_pos", "in_normal"), (sbo, "3f 3f 4f", "in_color", "in_rest", "in_attr")],
                    self._ibo,
                )
                bufs = self._person_buffers[p.person_id] = (vao, dyn, sbo, None)
            vao, dyn, sbo, rest_key = bufs
            key = (p.rest_vertices_m.shape, float(p.rest_vertices_m[0, 0]), float(p.rest_vertices_m[-1, 2]), p.outfit)
            if rest_key != key:
                st = np.zeros((V, 10), np.float32)
                st[:, 0] = person_displacement_m(p.rest_vertices_m, p.rest_landmarks_m, p.chin_z_m, p.outfit, p.person_id)
                st[:, 3:6] = p.rest_vertices_m
                st[:, 6] = p.person_id + 1
                st[:, 7] = self._face_flag[:V]
                st[:, 9] = Material.PERSON
                sbo.write(st.tobytes())
                self._person_buffers[p.person_id] = (vao, dyn, sbo, key)
            dyn.write(np.ascontiguousarray(np.concatenate([p.vertices_world_m, p.normals_world], axis=1), np.float32).tobytes())
            centre = p.vertices_world_m.mean(axis=0).astype(np.float64)
            radius = float(np.linalg.norm(p.vertices_world_m - centre, axis=1).max())
            self._people.append((p, vao, centre, radius))

    # -- rendering ------------------------------------------------------------
    def _new_fbo(self, w: int, h: int):
        col = self.ctx.texture((w, h), 4)
        ids = self.ctx.texture((w, h), 4)
        aux = self.ctx.texture((w, h), 2, dtype="f4")
        dep = self.ctx.depth_renderbuffer((w, h))
        return (self.ctx.framebuffer([col, ids, aux], dep), col, ids, aux, dep)

    def _fbo(self, w: int, h: int):
        fb = self._fbos.get((w, h))
        if fb is None:
            fb = self._fbos[(w, h)] = self._new_fbo(w, h)
        return fb

    def warp_for(self, intr: Intrinsics) -> PinholeWarp:
        key = (intr.K_px.tobytes(), intr.distortion.tobytes(), intr.width_px, intr.height_px)
        w = self._warps.get(key)
        if w is None:
            w = self._warps[key] = pinhole_warp(intr)
        return w

    def _set_person_uniforms(self, p: PersonDraw | None) -> None:
        u = self.prog
        if p is None:
            u["u_person"].value = 0
            return
        lm = p.rest_landmarks_m
        o = p.outfit
        u["u_person"].value = 1
        u["u_eyeL"].value = tuple(lm[1])
        u["u_eyeR"].value = tuple(lm[2])
        u["u_nose"].value = tuple(lm[0])
        u["u_chin_z"].value = float(p.chin_z_m)
        u["u_ear_y"].value = float(0.5 * (lm[3, 1] + lm[4, 1]))
        u["u_shoulder_z"].value = float(0.5 * (lm[5, 2] + lm[6, 2]))
        u["u_hip_z"].value = float(0.5 * (lm[11, 2] + lm[12, 2]))
        u["u_knee_z"].value = float(0.5 * (lm[13, 2] + lm[14, 2]))
        u["u_ankle_z"].value = float(0.5 * (lm[15, 2] + lm[16, 2]))
        u["u_elbow_x"].value = float(0.5 * (lm[7, 0] - lm[8, 0]))
        u["u_wrist_x"].value = float(0.5 * (lm[9, 0] - lm[10, 0]))
        for name, val in (("c_skin", o.skin), ("c_top", o.top), ("c_pants", o.pants), ("c_hair", o.hair), ("c_shoes", o.shoes),
                          ("c_cap", o.cap or (0, 0, 0)), ("c_mask", o.mask or (0, 0, 0)), ("c_gloves", o.gloves or (0, 0, 0)),
                          ("c_iris", o.iris)):  # fmt: skip
            u[name].value = tuple(float(c) for c in val)
        u["f_cap"].value = int(o.cap is not None)
        u["f_mask"].value = int(o.mask is not None)
        u["f_gloves"].value = int(o.gloves is not None)
        u["f_gown"].value = int(o.gown)
        u["f_glasses"].value = int(o.glasses)
        u["u_seed"].value = float((p.person_id * 37 + o.pattern_seed) % 1000) * 0.731
        u["u_stubble"].value = float(o.stubble)
        u["c_lip"].value = tuple(float(c) for c in (o.lip if o.lip is not None else np.asarray(o.skin) * (0.85, 0.58, 0.58)))

    def render(self, intr: Intrinsics, world_from_cam: np.ndarray, rgb: bool = True, albedo: bool = False,
               near_m: float = 0.05, far_m: float = 30.0) -> RenderOutput:  # fmt: skip
        """Render the current frame into the distorted image grid of ``intr`` (ids and z
        always; colour and albedo on request)."""
        return self.render_many([(intr, world_from_cam, rgb, albedo)], near_m, far_m)[0]

    def render_many(self, views, near_m: float = 0.05, far_m: float = 30.0) -> list[RenderOutput]:
        """Render several views ``(intr, world_from_cam, rgb, albedo)`` of the current frame:
        all draws are submitted before the first read-back, so that the rasterizer's threads
        work on one view while the next is being set up."""
        import moderngl

        self.ctx.enable(moderngl.DEPTH_TEST)
        self.ctx.disable(moderngl.CULL_FACE)
        u = self.prog
        u["u_nf"].value = (near_m, far_m)
        if self._spots and self._shadow is None and self._static is not None:
            self._make_shadow()
        u["u_nspots"].value = len(self._spots)
        u["u_use_shadow"].value = int(self._shadow is not None)
        if self._shadow is not None:
            fb, f, spot_views = self._shadow
            fb[3].use(location=0)
            u["u_shadow"].value = 0
            u["u_shadow_f"].value = float(f)
            u["u_shadow_size"].value = float(self._SHADOW_PX)
            u["u_spot_view"].write(np.ascontiguousarray(np.transpose(spot_views, (0, 2, 1)), np.float32).tobytes())
        if self._spots:
            pos = np.zeros((4, 3), np.float32)
            axis = np.zeros((4, 3), np.float32)
            for i, (pp, dd) in enumerate(self._spots):
                pos[i], axis[i] = pp, dd
            u["u_spot_pos"].write(pos.tobytes())
            u["u_spot_dir"].write(axis.tobytes())
        pending = []
        for intr, world_from_cam, want_rgb, want_albedo in views:
            warp = self.warp_for(intr)
            u["u_fast"].value = 0 if want_rgb else 1
            key = (intr.K_px.tobytes(), intr.distortion.tobytes(), intr.width_px, intr.height_px, np.asarray(world_from_cam).tobytes())
            cam_from_world = np.linalg.inv(world_from_cam)
            u["u_cam_from_world"].write(cam_from_world.T.astype(np.float32).tobytes())
            u["u_k"].value = (warp.fx, warp.fy, warp.cx, warp.cy)
            u["u_size"].value = (float(warp.width), float(warp.height))
            u["u_cam_pos"].value = tuple(float(c) for c in world_from_cam[:3, 3])
            self._set_person_uniforms(None)
            # the static scene is drawn once per camera pose and copied (colour, ids, depth)
            cached = self._static_cache.get(key)
            if cached is None:
                cached = self._static_cache[key] = self._new_fbo(warp.width, warp.height)
                cached[0].use()
                cached[0].clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
                if self._static is not None:
                    self._static[0].render(moderngl.TRIANGLES)
            work = self._fbos.get(key)
            if work is None:
                work = self._fbos[key] = self._new_fbo(warp.width, warp.height)
            fbo = work[0]
            self.ctx.copy_framebuffer(fbo, cached[0])
            fbo.use()
            if self._dynamic is not None:
                # the moving lamps: their beams point away from their own housings
                u["u_nspots"].value = 0
                self._dynamic[0].render(moderngl.TRIANGLES)
                u["u_nspots"].value = len(self._spots)
            for p, vao, centre, radius in self._people:
                if not _sphere_in_view(cam_from_world, warp, centre, radius):
                    continue  # wholly outside this view: drawing it would change no pixel
                self._set_person_uniforms(p)
                if self.cull_people:
                    self.ctx.enable(moderngl.CULL_FACE)
                    self.ctx.front_face = "cw"  # rows run downwards in the framebuffer: winding flips
                vao.render(moderngl.TRIANGLES)
                self.ctx.disable(moderngl.CULL_FACE)
            pending.append((warp, work, want_rgb, want_albedo))
        outs = []
        for warp, (fbo, col, ids, aux, _), want_rgb, want_albedo in pending:
            h, w = warp.height, warp.width
            nearest = warp.map_nearest
            idb = np.frombuffer(ids.read(), np.uint8).reshape(h, w, 4)
            id_out = cv2.remap(idb, nearest, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
            ax = np.frombuffer(aux.read(), np.float32).reshape(h, w, 2)
            aux_out = cv2.remap(ax, nearest, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
            rgb_out = None
            if want_rgb:
                rgba = np.frombuffer(col.read(), np.uint8).reshape(h, w, 4)
                m1, m2 = warp.map_fixed
                rgb_out = cv2.remap(rgba[..., :3], m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            outs.append(RenderOutput(
                ids=id_out,
                z_m=np.ascontiguousarray(aux_out[..., 0]),
                rgb=rgb_out,
                albedo=np.ascontiguousarray(aux_out[..., 1]) if want_albedo else None,
            ))  # fmt: skip
        return outs

    def release(self) -> None:
        self.ctx.release()
