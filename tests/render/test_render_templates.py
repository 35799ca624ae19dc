"""The committed face templates, their catalogue, and the per-person choice."""

import dataclasses

import cv2
import numpy as np
import pytest
import yaml

import orscene.render as render
from orscene.errors import ConfigError
from orscene.render import RenderConfig, choose_template, default_catalog_path, load_templates
from orscene.render.template_gen import LANDMARKS_UV, TEMPLATE_SPECS, paint_template


def test_public_api_surface():
    assert sorted(render.__all__) == sorted(
        ["RenderConfig", "BlendMode", "FaceTemplate", "TemplateSet", "default_catalog_path", "load_templates",
         "choose_template", "FaceRenderer", "Occluders", "RenderedFacePatch", "RenderOutcome", "RenderStatus", "RenderedFaces", "create_renderer", "depth_doubt", "render_faces", "blend_faces",
         "synthetic_face_mesh"]
    )  # fmt: skip
    for name in render.__all__:
        assert hasattr(render, name)


def test_catalog_is_valid_and_diverse():
    path = default_catalog_path()
    cat = yaml.safe_load(path.read_text())
    assert cat["licence"] == "CC0-1.0" and "procedural" in cat["source"]
    assert set(cat["landmarks_uv"]) == set(LANDMARKS_UV)
    ids = [e["id"] for e in cat["templates"]]
    assert len(ids) == len(set(ids)) >= 12
    for e in cat["templates"]:
        img = cv2.imread(str(path.parent / e["file"]))
        assert img is not None and img.shape == (256, 256, 3), e["file"]
        assert set(e["attributes"]) == {"skin_tone", "age", "sex", "masked", "cap", "glasses"}
        assert img.std() > 15  # painted features, not a flat colour
    attrs = [e["attributes"] for e in cat["templates"]]
    assert any(a["masked"] and not a["cap"] for a in attrs)
    assert any(a["cap"] and not a["masked"] for a in attrs)
    assert any(a["cap"] and a["masked"] for a in attrs)
    assert len({a["skin_tone"] for a in attrs}) >= 5
    assert {a["age"] for a in attrs} == {"young", "adult", "old"}
    assert {a["sex"] for a in attrs} == {"female", "male"}


def test_committed_png_is_what_the_generator_paints():
    spec = TEMPLATE_SPECS[6]
    committed = cv2.cvtColor(cv2.imread(str(default_catalog_path().parent / f"{spec.id}.png")), cv2.COLOR_BGR2RGB)
    painted = paint_template(spec, 256)
    assert np.abs(committed.astype(int) - painted).max() <= 1


def test_template_features_sit_at_the_catalogued_landmarks():
    """Eyes are dark-and-light detail at the eye landmarks; a masked template's mouth is mask-coloured."""
    tset = load_templates(default_catalog_path(), RenderConfig())
    S = 256
    for t in tset.templates:
        for name in ("right_eye", "left_eye"):
            u, v = LANDMARKS_UV[name]
            x, y = int(u * S), int((1 - v) * S)
            grey = t.rgb.astype(float).mean(-1)
            eye, cheek = grey[y - 8 : y + 8, x - 16 : x + 16], grey[y + 30 : y + 46, x - 16 : x + 16]
            assert eye.std() > 2 * cheek.std(), (t.id, name)
        u, v = LANDMARKS_UV["mouth_center"]
        mouth = t.rgb[int((1 - v) * S), int(u * S)].astype(int)
        if t.attributes["masked"]:
            assert mouth[2] > mouth[0], t.id  # blue/green fabric over the mouth


def test_template_choice_is_a_stable_hash_of_the_track_id():
    cfg = RenderConfig()
    a = load_templates(default_catalog_path(), cfg)
    b = load_templates(default_catalog_path(), cfg)
    picks = [choose_template(a, tid, cfg).id for tid in range(60)]
    assert picks == [choose_template(b, tid, cfg).id for tid in range(60)]
    assert len(set(picks)) >= 8
    salted = dataclasses.replace(cfg, template_salt="OR_03")
    assert picks != [choose_template(a, tid, salted).id for tid in range(60)]


def test_template_selection_by_id_and_attributes():
    fixed = RenderConfig(template_ids=("cap_f_dark",))
    t = load_templates(default_catalog_path(), fixed)
    assert {choose_template(t, tid, fixed).id for tid in range(20)} == {"cap_f_dark"}
    both = RenderConfig(template_attributes=("masked", "cap"))
    t = load_templates(default_catalog_path(), both)
    assert t.ids and all(i.startswith("maskcap_") for i in t.ids)
    bare_f = RenderConfig(template_attributes=("!masked", "!cap", "sex=female"))
    t = load_templates(default_catalog_path(), bare_f)
    assert t.ids == ("f_dark_adult", "f_light_young", "f_tan_old")
    with pytest.raises(ConfigError):
        load_templates(default_catalog_path(), RenderConfig(template_ids=("nobody",)))
    with pytest.raises(ConfigError):
        load_templates(default_catalog_path(), RenderConfig(template_attributes=("masked", "!masked")))


def test_malformed_catalog_is_a_config_error(tmp_path):
    bad = tmp_path / "catalog.yaml"
    bad.write_text("templates: 3\n")
    with pytest.raises(ConfigError, match="catalog"):
        load_templates(bad, RenderConfig())
    bad.write_text(yaml.safe_dump({"licence": "CC0-1.0", "templates": [{"id": "x", "file": "x.png", "attributes": {}}]}))
    with pytest.raises(ConfigError, match="x.png"):
        load_templates(bad, RenderConfig())
