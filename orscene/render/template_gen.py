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


@dataclass(frozen=True)
class _Paint:
    """What every painting step of one template shares: the canvas side ``S`` (twice the
    output size), the normalised coordinates ``xx ~ u`` and ``yy ~ 1 - v``, the skin and
    line colours, and the template's random generator (steps draw from it in a fixed order)."""

    spec: TemplateSpec
    S: int
    rng: np.random.Generator
    xx: np.ndarray
    yy: np.ndarray
    skin: np.ndarray
    line_rgb: np.ndarray
    hair: np.ndarray

    @property
    def old(self) -> bool:
        return self.spec.age == "old"

    @property
    def r2(self) -> np.ndarray:
        """Squared elliptic distance from the face centre (1 at the cheeks' edge)."""
        return ((self.xx - 0.5) / 0.55) ** 2 + ((self.yy - 0.45) / 0.75) ** 2

    def px(self, u: float, v: float) -> tuple[int, int]:
        """Canvas pixel (column, row) of a UV point."""
        return int(round(u * self.S)), int(round((1 - v) * self.S))

    def mix_shape(self, img: np.ndarray, draw, colour, alpha: float, blur_px: float, gate: np.ndarray | float = 1.0) -> None:
        """Draw a white shape on a fresh mask (``draw(mask)``), soften it by ``blur_px`` and
        mix ``colour`` into ``img`` with opacity ``alpha`` (times ``gate``)."""
        m = _canvas(self.S)
        draw(m)
        _mix(img, colour, alpha * _soft(m, blur_px) * gate)


def _paint_skin(p: _Paint, img: np.ndarray) -> None:
    """Roundness (darker towards cheeks and chin, lighter on forehead and nose ridge), skin
    texture (pores) and cheek colour."""
    xx, yy, skin = p.xx, p.yy, p.skin
    dark = max(0.35, 1.0 - 0.45 * (255 - skin.mean()) / 255)  # shading strength per tone
    img *= (1.0 - 0.28 * dark * np.clip(p.r2, 0, 1.6) ** 1.5)[..., None]
    ridge = np.exp(-(((xx - 0.5) / 0.05) ** 2)) * np.exp(-(((yy - 0.48) / 0.12) ** 2))
    img += (0.10 * ridge)[..., None] * (255 - img)
    noise = cv2.GaussianBlur(p.rng.normal(0, 1, (p.S, p.S)).astype(np.float32), (0, 0), 1.5)
    img += (noise * 4.0)[..., None]
    blush_alpha = 0.0
    for cu in (0.24, 0.76):
        blush_alpha = blush_alpha + np.exp(-(((xx - cu) / 0.10) ** 2 + ((yy - 0.58) / 0.08) ** 2))
    _mix(img, skin * np.array([1.05, 0.80, 0.78]), (0.25 if p.spec.sex == "female" else 0.12) * blush_alpha)


def _paint_forehead_wrinkles(p: _Paint, img: np.ndarray) -> None:
    S = p.S
    for v in (0.80, 0.85, 0.90):
        p.mix_shape(img, lambda m: cv2.ellipse(m, p.px(0.5, v - 0.25), (int(0.20 * S), int(0.25 * S)), 0, 240, 300, 255, 3), p.line_rgb, 0.45, 2)


def _paint_eye(p: _Paint, img: np.ndarray, side: str) -> None:
    """Socket shadow, sclera, iris, pupil, highlight, lids, (old) crow's feet and bags, brow."""
    S, sex = p.S, p.spec.sex
    c = p.px(*LANDMARKS_UV[f"{side}_eye"])
    ax = (int(0.09 * S), int(0.04 * S))
    p.mix_shape(img, lambda m: cv2.ellipse(m, (c[0], c[1] - int(0.01 * S)), (int(0.12 * S), int(0.07 * S)), 0, 0, 360, 255, -1), p.skin * 0.75, 0.35, 10)
    m = _canvas(S)
    cv2.ellipse(m, c, ax, 0, 0, 360, 255, -1)
    eye_a = _soft(m, 1.5)
    _mix(img, (235, 232, 225), eye_a)
    iris_rgb = p.rng.choice(np.array([[70, 45, 30], [60, 90, 120], [80, 100, 60], [40, 28, 20]], np.float32))
    p.mix_shape(img, lambda m: cv2.circle(m, c, int(0.034 * S), 255, -1), iris_rgb, 1.0, 1.5, eye_a)
    p.mix_shape(img, lambda m: cv2.circle(m, c, int(0.015 * S), 255, -1), (15, 12, 10), 1.0, 1, eye_a)
    p.mix_shape(img, lambda m: cv2.circle(m, (c[0] + int(0.012 * S), c[1] - int(0.012 * S)), int(0.006 * S), 255, -1), (255, 255, 255), 0.9, 1, eye_a)
    # upper lid line (lashes) and lower lid crease
    lash_px = 5 if sex == "female" else 3
    p.mix_shape(img, lambda m: cv2.ellipse(m, c, (ax[0] + 2, ax[1] + 2), 0, 190, 350, 255, lash_px), (30, 22, 18), 0.85, 1.2)
    p.mix_shape(img, lambda m: cv2.ellipse(m, (c[0], c[1] - int(0.012 * S)), (ax[0] + 6, ax[1] + 14), 0, 200, 340, 255, 2), p.line_rgb, 0.5, 2)
    if p.old:  # crow's feet and under-eye bags
        sgn = -1 if side == "right" else 1
        for k in (-1, 0, 1):
            p0 = (c[0] + sgn * int(0.10 * S), c[1] + k * int(0.015 * S))
            p1 = (c[0] + sgn * int(0.15 * S), c[1] + k * int(0.03 * S))
            p.mix_shape(img, lambda m: cv2.line(m, p0, p1, 255, 2), p.line_rgb, 0.4, 1.5)
        p.mix_shape(img, lambda m: cv2.ellipse(m, (c[0], c[1] + int(0.035 * S)), (ax[0], int(0.02 * S)), 0, 20, 160, 255, 2), p.line_rgb, 0.45, 2)
    brow_rgb = p.hair * 0.8 if not p.old else p.hair * 0.9
    bw = 11 if sex == "male" else 6
    arch = int(0.045 * S) if sex == "female" else int(0.025 * S)
    p.mix_shape(img, lambda m: cv2.ellipse(m, (c[0], c[1] - int(0.075 * S)), (int(0.11 * S), arch), 0, 195, 345, 255, bw), brow_rgb, 0.85, 2.5)


def _paint_glasses(p: _Paint, img: np.ndarray) -> None:
    S = p.S
    for eu, ev in (LANDMARKS_UV["right_eye"], LANDMARKS_UV["left_eye"]):
        p.mix_shape(img, lambda m: cv2.ellipse(m, p.px(eu, ev - 0.005), (int(0.125 * S), int(0.085 * S)), 0, 0, 360, 255, 5), (40, 40, 45), 0.9, 1)
    ev = LANDMARKS_UV["left_eye"][1]  # the bridge, at the eyes' height
    p.mix_shape(img, lambda m: cv2.line(m, p.px(0.385, ev), p.px(0.615, ev), 255, 5), (40, 40, 45), 0.9, 1)


def _paint_nose(p: _Paint, img: np.ndarray) -> None:
    """Side shading, nostrils, wings and the tip's highlight."""
    S, skin = p.S, p.skin
    nu, nv = LANDMARKS_UV["nose_tip"]
    for sgn in (-1, 1):
        top = p.px(0.5 + sgn * 0.045, LANDMARKS_UV["left_eye"][1] - 0.08)
        p.mix_shape(img, lambda m: cv2.line(m, top, p.px(0.5 + sgn * 0.06, nv + 0.03), 255, 10), skin * 0.78, 0.45, 7)
        p.mix_shape(img, lambda m: cv2.ellipse(m, p.px(nu + sgn * 0.04, nv - 0.015), (int(0.022 * S), int(0.011 * S)), sgn * 20, 0, 360, 255, -1), skin * 0.35, 0.8, 2)
        ax = (int(0.03 * S), int(0.04 * S))
        p.mix_shape(img, lambda m: cv2.ellipse(m, p.px(nu + sgn * 0.055, nv), ax, 0, 90 + sgn * 90, 270 + sgn * 90, 255, 3), skin * 0.6, 0.5, 2)
    p.mix_shape(img, lambda m: cv2.circle(m, p.px(nu, nv + 0.01), int(0.03 * S), 255, -1), np.minimum(skin * 1.15, 255), 0.5, 8)


def _paint_mouth(p: _Paint, img: np.ndarray) -> None:
    """Lips and the line between them, (old) nasolabial folds, (adult and old men) stubble."""
    S, skin, xx, yy = p.S, p.skin, p.xx, p.yy
    mu, mv = LANDMARKS_UV["mouth_center"]
    lip_rgb = skin * np.array([0.85, 0.55, 0.55]) if p.spec.sex == "female" else skin * np.array([0.80, 0.62, 0.60])

    def lips(m: np.ndarray) -> None:
        cv2.ellipse(m, p.px(mu, mv + 0.012), (int(0.12 * S), int(0.022 * S)), 0, 180, 360, 255, -1)
        cv2.ellipse(m, p.px(mu, mv), (int(0.115 * S), int(0.032 * S)), 0, 0, 180, 255, -1)

    p.mix_shape(img, lips, lip_rgb, 0.9, 2)
    p.mix_shape(img, lambda m: cv2.ellipse(m, p.px(mu, mv + 0.004), (int(0.12 * S), int(0.008 * S)), 0, 0, 180, 255, 3), skin * 0.35, 0.9, 1.2)
    if p.old:  # nasolabial folds
        nv = LANDMARKS_UV["nose_tip"][1]
        for sgn in (-1, 1):
            ax = (int(0.08 * S), int(0.16 * S))
            p.mix_shape(img, lambda m: cv2.ellipse(m, p.px(0.5 + sgn * 0.06, nv - 0.02), ax, 0, 90 - sgn * 70, 90 - sgn * 20, 255, 3), p.line_rgb, 0.5, 2.5)
    if p.spec.sex == "male" and p.spec.age != "young":  # stubble on the jaw and upper lip
        chin_gap = np.exp(-(((yy - 0.86) / 0.04) ** 2) - ((xx - 0.5) / 0.25) ** 8)
        beard = np.clip((yy - 0.64) / 0.12, 0, 1) * (1 - chin_gap)
        beard = np.clip(beard + 0.7 * np.exp(-(((yy - 0.69) / 0.02) ** 2) - (((xx - 0.5) / 0.11) ** 2)), 0, 1)
        dots = (p.rng.random((S, S)) < 0.25).astype(np.float32)
        _mix(img, p.hair * 0.7, 0.25 * cv2.GaussianBlur(beard.astype(np.float32), (0, 0), 12) * dots)


def _paint_mask(p: _Paint, img: np.ndarray) -> None:
    """Surgical mask over nose and mouth: fabric, pleats, nose wire."""
    S, px = p.S, p.px
    colour = np.asarray(SCRUB_COLOURS_RGB[p.spec.mask_colour], np.float32) * 1.1
    m = _canvas(S)
    top = LANDMARKS_UV['left_eye'][1] - 0.11
    pts = np.array([px(0.0, top - 0.08), px(0.25, top), px(0.5, top + 0.02), px(0.75, top), px(1.0, top - 0.08),
                    px(1.0, -0.1), px(0.0, -0.1)], np.int32)  # fmt: skip
    cv2.fillPoly(m, [pts], 255)
    a = _soft(m, 2.5)
    fabric = colour * (1.0 - 0.15 * np.clip(p.r2, 0, 1.5))[..., None]
    fabric = fabric + (cv2.GaussianBlur(p.rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), 1.0) * 3)[..., None]
    img[:] = img * (1 - a[..., None]) + fabric * a[..., None]
    for v in (0.45, 0.33, 0.21):  # pleats: a dark fold and a light edge
        p.mix_shape(img, lambda m: cv2.ellipse(m, px(0.5, v + 0.55), (int(0.75 * S), int(0.55 * S)), 0, 62, 118, 255, 4), colour * 0.7, 0.7, 2, a)
        p.mix_shape(img, lambda m: cv2.ellipse(m, px(0.5, v + 0.545), (int(0.75 * S), int(0.55 * S)), 0, 62, 118, 255, 3), np.minimum(colour * 1.2, 255), 0.5, 2, a)
    p.mix_shape(img, lambda m: cv2.polylines(m, [pts[1:4]], False, 255, 6), (200, 205, 210), 0.8, 1.5)


def _paint_cap(p: _Paint, img: np.ndarray) -> None:
    """Surgical cap over the forehead down to just above the brows."""
    S = p.S
    colour = np.asarray(SCRUB_COLOURS_RGB[p.spec.cap_colour], np.float32)
    centre, axes = p.px(0.5, 1.57), (int(0.85 * S), int(0.77 * S))
    m = _canvas(S)
    cv2.ellipse(m, centre, axes, 0, 0, 360, 255, -1)
    a = _soft(m, 2.5)
    fabric = colour * (0.85 + 0.15 * np.clip(p.yy / 0.2, 0, 1))[..., None]
    wr = cv2.GaussianBlur(p.rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), 6)
    fabric = fabric * (1 + 0.10 * wr)[..., None]
    img[:] = img * (1 - a[..., None]) + fabric * a[..., None]
    p.mix_shape(img, lambda m: cv2.ellipse(m, centre, axes, 0, 0, 360, 255, 8), colour * 0.65, 0.8, 2)


def paint_template(spec: TemplateSpec, size_px: int = 256) -> np.ndarray:
    """Paint one template: RGB uint8 ``(size_px, size_px, 3)``, deterministic per ``spec.id``.

    The face is painted at twice the size (then downsampled: antialiasing) in layers, each
    a step below, in this order (the order of their random draws): skin, forehead wrinkles
    (old), eyes (right, left), glasses, nose, mouth, surgical mask, surgical cap.
    """
    S = size_px * 2
    skin = np.asarray(SKIN_TONES_RGB[spec.skin_tone], np.float32)
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32) / S  # xx ~ u, yy ~ 1 - v
    p = _Paint(spec, S, np.random.default_rng(_seed(spec.id)), xx, yy, skin, skin * 0.72, np.asarray(spec.hair_rgb, np.float32))
    img = np.empty((S, S, 3), np.float32)
    img[:] = skin
    _paint_skin(p, img)
    if p.old:
        _paint_forehead_wrinkles(p, img)
    for side in ("right", "left"):
        _paint_eye(p, img, side)
    if spec.glasses:
        _paint_glasses(p, img)
    _paint_nose(p, img)
    _paint_mouth(p, img)
    if spec.masked:
        _paint_mask(p, img)
    if spec.cap:
        _paint_cap(p, img)
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
