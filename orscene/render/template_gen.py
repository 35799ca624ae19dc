"""Procedural face templates: painted by code, never taken from a real person.

Each template is a frontal face texture in the FaceMesh UV space (``orscene.types.FaceMesh``):
image column ``x = u * S`` runs from the person's right cheek (u = 0, image left) to the left
cheek (u = 1); image row ``y = (1 - v) * S`` runs from the forehead (v = 1, top row) to the
chin (v = 0, bottom row). The whole square is face region (forehead to chin, cheek to
cheek), so there is no background. Landmark positions in UV are written to the catalogue
(``LANDMARKS_UV``) so a face mesh's UV map can be checked against them.

``python -m orscene.render.template_gen [--out templates]`` rewrites the PNGs and
``catalog.yaml``; the output is a pure function of the spec table below (fixed seeds).
"""

import argparse
import hashlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

__all__ = ["TemplateSpec", "TEMPLATE_SPECS", "LANDMARKS_UV", "paint_template", "write_templates"]

log = logging.getLogger(__name__)

LICENCE = "CC0-1.0"
"""Generated procedurally by orscene (no photograph, no real person): public domain."""

LANDMARKS_UV: dict[str, tuple[float, float]] = {
    "right_eye": (0.26, 0.62),
    "left_eye": (0.74, 0.62),
    "nose_tip": (0.50, 0.42),
    "mouth_center": (0.50, 0.23),
    "chin": (0.50, 0.03),
}
"""Where the painted features sit in UV (u right cheek -> left cheek, v chin -> forehead):
those of the body model's face UVs (``orscene.body.face_region.derive_face_region`` on anny's
rest mesh: eyes at u 0.26 / 0.74, v 0.62; nose tip v 0.42; mouth v 0.23)."""

SKIN_TONES_RGB: dict[str, tuple[int, int, int]] = {
    "light": (238, 205, 184),
    "light_medium": (222, 174, 140),
    "medium": (196, 137, 100),
    "tan": (165, 108, 74),
    "brown": (122, 80, 54),
    "dark": (84, 56, 40),
}

SCRUB_COLOURS_RGB: dict[str, tuple[int, int, int]] = {
    "blue": (110, 160, 205),
    "green": (108, 170, 150),
    "teal": (90, 150, 165),
    "navy": (60, 80, 130),
}


@dataclass(frozen=True)
class TemplateSpec:
    """Attributes of one procedural face template."""

    id: str
    skin_tone: str
    """A key of ``SKIN_TONES_RGB``."""
    age: str
    """"young", "adult" or "old"."""
    sex: str
    """"female" or "male" (drives brows, lips, stubble)."""
    masked: bool = False
    """Surgical mask over nose and mouth."""
    cap: bool = False
    """Surgical cap over the forehead."""
    mask_colour: str = "blue"
    cap_colour: str = "green"
    hair_rgb: tuple[int, int, int] = (60, 40, 28)
    glasses: bool = False


TEMPLATE_SPECS: tuple[TemplateSpec, ...] = (
    TemplateSpec("f_light_young", "light", "young", "female", hair_rgb=(150, 100, 50)),
    TemplateSpec("m_medium_adult", "medium", "adult", "male", hair_rgb=(40, 30, 25)),
    TemplateSpec("f_dark_adult", "dark", "adult", "female", hair_rgb=(25, 20, 18)),
    TemplateSpec("m_light_old", "light", "old", "male", hair_rgb=(185, 180, 175), glasses=True),
    TemplateSpec("f_tan_old", "tan", "old", "female", hair_rgb=(170, 165, 160)),
    TemplateSpec("m_brown_young", "brown", "young", "male", hair_rgb=(30, 22, 18)),
    TemplateSpec("mask_m_light_medium", "light_medium", "adult", "male", masked=True, hair_rgb=(90, 60, 35)),
    TemplateSpec("mask_f_light", "light", "young", "female", masked=True, mask_colour="green", hair_rgb=(200, 160, 90)),
    TemplateSpec("mask_f_tan_old", "tan", "old", "female", masked=True, hair_rgb=(160, 155, 150), glasses=True),
    TemplateSpec("cap_m_brown", "brown", "adult", "male", cap=True, cap_colour="navy"),
    TemplateSpec("cap_f_dark", "dark", "young", "female", cap=True, cap_colour="teal"),
    TemplateSpec("maskcap_m_light", "light", "adult", "male", masked=True, cap=True, mask_colour="blue", cap_colour="blue"),
    TemplateSpec("maskcap_f_medium", "medium", "adult", "female", masked=True, cap=True, mask_colour="green", cap_colour="green"),
    TemplateSpec("maskcap_m_dark", "dark", "old", "male", masked=True, cap=True, mask_colour="blue", cap_colour="teal", glasses=True),
    TemplateSpec("maskcap_f_light_medium", "light_medium", "young", "female", masked=True, cap=True, mask_colour="teal", cap_colour="navy"),
)


def _seed(template_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(template_id.encode(), digest_size=8).digest(), "little")


def _mix(img: np.ndarray, colour, alpha: np.ndarray) -> None:
    """In place: ``img = img (1 - alpha) + colour alpha`` (alpha (H, W) in [0, 1])."""
    c = np.asarray(colour, dtype=np.float32)
    img[:] = img * (1.0 - alpha[..., None]) + c * alpha[..., None]


def _soft(mask_u8: np.ndarray, blur_px: float) -> np.ndarray:
    a = mask_u8.astype(np.float32) / 255.0
    if blur_px > 0:
        k = int(blur_px * 3) | 1
        a = cv2.GaussianBlur(a, (k, k), blur_px)
    return a


def _canvas(S: int) -> np.ndarray:
    return np.zeros((S, S), np.uint8)


def paint_template(spec: TemplateSpec, size_px: int = 256) -> np.ndarray:
    """Paint one template: RGB uint8 ``(size_px, size_px, 3)``, deterministic per ``spec.id``."""
    S = size_px * 2  # paint at twice the size, then downsample (antialiasing)
    rng = np.random.default_rng(_seed(spec.id))
    skin = np.asarray(SKIN_TONES_RGB[spec.skin_tone], np.float32)
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32) / S  # xx ~ u, yy ~ 1 - v
    img = np.empty((S, S, 3), np.float32)
    img[:] = skin
    dark = max(0.35, 1.0 - 0.45 * (255 - skin.mean()) / 255)  # shading strength per tone

    def px(u: float, v: float) -> tuple[int, int]:
        return int(round(u * S)), int(round((1 - v) * S))

    # roundness: darker towards the cheeks and chin, a little lighter on forehead and nose ridge
    r2 = ((xx - 0.5) / 0.55) ** 2 + ((yy - 0.45) / 0.75) ** 2
    img *= (1.0 - 0.28 * dark * np.clip(r2, 0, 1.6) ** 1.5)[..., None]
    ridge = np.exp(-(((xx - 0.5) / 0.05) ** 2)) * np.exp(-(((yy - 0.48) / 0.12) ** 2))
    img += (0.10 * ridge)[..., None] * (255 - img)
    # skin texture (pores) and cheek colour
    noise = cv2.GaussianBlur(rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), 1.5)
    img += (noise * 4.0)[..., None]
    blush_alpha = 0.0
    for cu in (0.24, 0.76):
        blush_alpha = blush_alpha + np.exp(-(((xx - cu) / 0.10) ** 2 + ((yy - 0.58) / 0.08) ** 2))
    _mix(img, skin * np.array([1.05, 0.80, 0.78]), (0.25 if spec.sex == "female" else 0.12) * blush_alpha)

    hair = np.asarray(spec.hair_rgb, np.float32)
    old = spec.age == "old"
    brow_rgb = hair * 0.8 if not old else hair * 0.9
    line_rgb = skin * 0.72

    # forehead wrinkles (old)
    if old:
        for v in (0.80, 0.85, 0.90):
            m = _canvas(S)
            cv2.ellipse(m, px(0.5, v - 0.25), (int(0.20 * S), int(0.25 * S)), 0, 240, 300, 255, 3)
            _mix(img, line_rgb, 0.45 * _soft(m, 2))

    # eyes
    for side, (eu, ev) in (("right", LANDMARKS_UV["right_eye"]), ("left", LANDMARKS_UV["left_eye"])):
        c = px(eu, ev)
        ax = (int(0.09 * S), int(0.04 * S))
        # socket shadow
        m = _canvas(S)
        cv2.ellipse(m, (c[0], c[1] - int(0.01 * S)), (int(0.12 * S), int(0.07 * S)), 0, 0, 360, 255, -1)
        _mix(img, skin * 0.75, 0.35 * _soft(m, 10))
        # sclera, iris, pupil, highlight
        m = _canvas(S)
        cv2.ellipse(m, c, ax, 0, 0, 360, 255, -1)
        eye_a = _soft(m, 1.5)
        _mix(img, (235, 232, 225), eye_a)
        iris_rgb = rng.choice(np.array([[70, 45, 30], [60, 90, 120], [80, 100, 60], [40, 28, 20]], np.float32))
        m = _canvas(S)
        cv2.circle(m, c, int(0.034 * S), 255, -1)
        _mix(img, iris_rgb, _soft(m, 1.5) * eye_a)
        m = _canvas(S)
        cv2.circle(m, c, int(0.015 * S), 255, -1)
        _mix(img, (15, 12, 10), _soft(m, 1) * eye_a)
        m = _canvas(S)
        cv2.circle(m, (c[0] + int(0.012 * S), c[1] - int(0.012 * S)), int(0.006 * S), 255, -1)
        _mix(img, (255, 255, 255), 0.9 * _soft(m, 1) * eye_a)
        # upper lid line (lashes) and lower lid crease
        m = _canvas(S)
        cv2.ellipse(m, c, (ax[0] + 2, ax[1] + 2), 0, 190, 350, 255, 5 if spec.sex == "female" else 3)
        _mix(img, (30, 22, 18), 0.85 * _soft(m, 1.2))
        m = _canvas(S)
        cv2.ellipse(m, (c[0], c[1] - int(0.012 * S)), (ax[0] + 6, ax[1] + 14), 0, 200, 340, 255, 2)
        _mix(img, line_rgb, 0.5 * _soft(m, 2))
        if old:  # crow's feet and under-eye bags
            sgn = -1 if side == "right" else 1
            for k in (-1, 0, 1):
                m = _canvas(S)
                p0 = (c[0] + sgn * int(0.10 * S), c[1] + k * int(0.015 * S))
                p1 = (c[0] + sgn * int(0.15 * S), c[1] + k * int(0.03 * S))
                cv2.line(m, p0, p1, 255, 2)
                _mix(img, line_rgb, 0.4 * _soft(m, 1.5))
            m = _canvas(S)
            cv2.ellipse(m, (c[0], c[1] + int(0.035 * S)), (ax[0], int(0.02 * S)), 0, 20, 160, 255, 2)
            _mix(img, line_rgb, 0.45 * _soft(m, 2))
        # brow
        m = _canvas(S)
        bw = 11 if spec.sex == "male" else 6
        arch = int(0.045 * S) if spec.sex == "female" else int(0.025 * S)
        cv2.ellipse(m, (c[0], c[1] - int(0.075 * S)), (int(0.11 * S), arch), 0, 195, 345, 255, bw)
        _mix(img, brow_rgb, 0.85 * _soft(m, 2.5))

    if spec.glasses:
        for eu, ev in (LANDMARKS_UV["right_eye"], LANDMARKS_UV["left_eye"]):
            m = _canvas(S)
            cv2.ellipse(m, px(eu, ev - 0.005), (int(0.125 * S), int(0.085 * S)), 0, 0, 360, 255, 5)
            _mix(img, (40, 40, 45), 0.9 * _soft(m, 1))
        m = _canvas(S)
        cv2.line(m, px(0.385, ev), px(0.615, ev), 255, 5)
        _mix(img, (40, 40, 45), 0.9 * _soft(m, 1))

    # nose: side shading, tip highlight, nostrils
    nu, nv = LANDMARKS_UV["nose_tip"]
    for sgn in (-1, 1):
        m = _canvas(S)
        cv2.line(m, px(0.5 + sgn * 0.045, LANDMARKS_UV['left_eye'][1] - 0.08), px(0.5 + sgn * 0.06, nv + 0.03), 255, 10)
        _mix(img, skin * 0.78, 0.45 * _soft(m, 7))
        m = _canvas(S)
        cv2.ellipse(m, px(nu + sgn * 0.04, nv - 0.015), (int(0.022 * S), int(0.011 * S)), sgn * 20, 0, 360, 255, -1)
        _mix(img, skin * 0.35, 0.8 * _soft(m, 2))
        m = _canvas(S)
        ax = (int(0.03 * S), int(0.04 * S))
        cv2.ellipse(m, px(nu + sgn * 0.055, nv), ax, 0, 90 + sgn * 90, 270 + sgn * 90, 255, 3)
        _mix(img, skin * 0.6, 0.5 * _soft(m, 2))
    m = _canvas(S)
    cv2.circle(m, px(nu, nv + 0.01), int(0.03 * S), 255, -1)
    _mix(img, np.minimum(skin * 1.15, 255), 0.5 * _soft(m, 8))

    # mouth
    mu, mv = LANDMARKS_UV["mouth_center"]
    lip_rgb = skin * np.array([0.85, 0.55, 0.55]) if spec.sex == "female" else skin * np.array([0.80, 0.62, 0.60])
    m = _canvas(S)
    cv2.ellipse(m, px(mu, mv + 0.012), (int(0.12 * S), int(0.022 * S)), 0, 180, 360, 255, -1)
    cv2.ellipse(m, px(mu, mv), (int(0.115 * S), int(0.032 * S)), 0, 0, 180, 255, -1)
    _mix(img, lip_rgb, 0.9 * _soft(m, 2))
    m = _canvas(S)
    cv2.ellipse(m, px(mu, mv + 0.004), (int(0.12 * S), int(0.008 * S)), 0, 0, 180, 255, 3)
    _mix(img, skin * 0.35, 0.9 * _soft(m, 1.2))
    if old:  # nasolabial folds
        for sgn in (-1, 1):
            m = _canvas(S)
            ax = (int(0.08 * S), int(0.16 * S))
            cv2.ellipse(m, px(0.5 + sgn * 0.06, nv - 0.02), ax, 0, 90 - sgn * 70, 90 - sgn * 20, 255, 3)
            _mix(img, line_rgb, 0.5 * _soft(m, 2.5))
    if spec.sex == "male" and spec.age != "young":  # stubble on the jaw and upper lip
        chin_gap = np.exp(-(((yy - 0.86) / 0.04) ** 2) - ((xx - 0.5) / 0.25) ** 8)
        beard = np.clip((yy - 0.64) / 0.12, 0, 1) * (1 - chin_gap)
        beard = np.clip(beard + 0.7 * np.exp(-(((yy - 0.69) / 0.02) ** 2) - (((xx - 0.5) / 0.11) ** 2)), 0, 1)
        dots = (rng.random((S, S)) < 0.25).astype(np.float32)
        _mix(img, hair * 0.7, 0.25 * cv2.GaussianBlur(beard.astype(np.float32), (0, 0), 12) * dots)

    # surgical mask: over nose and mouth, pleats, nose wire, side ties
    if spec.masked:
        colour = np.asarray(SCRUB_COLOURS_RGB[spec.mask_colour], np.float32) * 1.1
        m = _canvas(S)
        top = LANDMARKS_UV['left_eye'][1] - 0.11
        pts = np.array([px(0.0, top - 0.08), px(0.25, top), px(0.5, top + 0.02), px(0.75, top), px(1.0, top - 0.08),
                        px(1.0, -0.1), px(0.0, -0.1)], np.int32)  # fmt: skip
        cv2.fillPoly(m, [pts], 255)
        a = _soft(m, 2.5)
        fabric = colour * (1.0 - 0.15 * np.clip(r2, 0, 1.5))[..., None]
        fabric = fabric + (cv2.GaussianBlur(rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), 1.0) * 3)[..., None]
        img[:] = img * (1 - a[..., None]) + fabric * a[..., None]
        for v in (0.45, 0.33, 0.21):  # pleats: a dark fold and a light edge
            m = _canvas(S)
            cv2.ellipse(m, px(0.5, v + 0.55), (int(0.75 * S), int(0.55 * S)), 0, 62, 118, 255, 4)
            _mix(img, colour * 0.7, 0.7 * _soft(m, 2) * a)
            m = _canvas(S)
            cv2.ellipse(m, px(0.5, v + 0.545), (int(0.75 * S), int(0.55 * S)), 0, 62, 118, 255, 3)
            _mix(img, np.minimum(colour * 1.2, 255), 0.5 * _soft(m, 2) * a)
        m = _canvas(S)
        cv2.polylines(m, [pts[1:4]], False, 255, 6)
        _mix(img, (200, 205, 210), 0.8 * _soft(m, 1.5))

    # surgical cap: over the forehead down to just above the brows
    if spec.cap:
        colour = np.asarray(SCRUB_COLOURS_RGB[spec.cap_colour], np.float32)
        m = _canvas(S)
        cv2.ellipse(m, px(0.5, 1.57), (int(0.85 * S), int(0.77 * S)), 0, 0, 360, 255, -1)
        a = _soft(m, 2.5)
        fabric = colour * (0.85 + 0.15 * np.clip(yy / 0.2, 0, 1))[..., None]
        wr = cv2.GaussianBlur(rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), 6)
        fabric = fabric * (1 + 0.10 * wr)[..., None]
        img[:] = img * (1 - a[..., None]) + fabric * a[..., None]
        m = _canvas(S)
        cv2.ellipse(m, px(0.5, 1.57), (int(0.85 * S), int(0.77 * S)), 0, 0, 360, 255, 8)
        _mix(img, colour * 0.65, 0.8 * _soft(m, 2))

    out = np.clip(img, 0, 255)
    return cv2.resize(out, (size_px, size_px), interpolation=cv2.INTER_AREA).round().astype(np.uint8)


def write_templates(out_dir: Path, size_px: int = 256) -> Path:
    """Paint every template of ``TEMPLATE_SPECS`` into ``out_dir`` and write ``catalog.yaml``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for spec in TEMPLATE_SPECS:
        rgb = paint_template(spec, size_px)
        fname = f"{spec.id}.png"
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(out_dir / fname), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f"{out_dir / fname}: could not write the template image")
        entries.append(
            {
                "id": spec.id,
                "file": fname,
                "attributes": {
                    "skin_tone": spec.skin_tone,
                    "age": spec.age,
                    "sex": spec.sex,
                    "masked": spec.masked,
                    "cap": spec.cap,
                    "glasses": spec.glasses,
                },
            }
        )
    catalog = {
        "version": 1,
        "licence": LICENCE,
        "source": "painted procedurally by orscene.render.template_gen (no photograph, no real person)",
        "size_px": size_px,
        "uv_layout": "column = u * size (person's right cheek at the left), row = (1 - v) * size (forehead at the top)",
        "landmarks_uv": {k: list(v) for k, v in LANDMARKS_UV.items()},
        "templates": entries,
    }
    path = out_dir / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    log.info("wrote %d templates and %s", len(entries), path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "templates")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_templates(args.out, args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
