"""orscene.render: face templates rendered into every view, depth-based visibility, Poisson blending.

Usage (one GL context per process, created once)::

    cfg = RenderConfig()
    templates = load_templates(default_catalog_path(), cfg)
    renderer = create_renderer(cfg)
    patches = render_faces(renderer, view, camera, face_meshes, templates, occluders, cfg)
    anonymized_rgb, union_mask = blend_faces(view.rgb, patches, cfg)
"""

from orscene.render.blend import blend_faces
from orscene.render.config import BlendMode, RenderConfig
from orscene.render.face_mesh import synthetic_face_mesh
from orscene.render.renderer import FaceRenderer, Occluders, RenderedFacePatch, create_renderer, render_faces
from orscene.render.templates import FaceTemplate, TemplateSet, choose_template, default_catalog_path, load_templates

__all__ = [
    "RenderConfig",
    "BlendMode",
    "FaceTemplate",
    "TemplateSet",
    "default_catalog_path",
    "load_templates",
    "choose_template",
    "FaceRenderer",
    "Occluders",
    "RenderedFacePatch",
    "create_renderer",
    "render_faces",
    "blend_faces",
    "synthetic_face_mesh",
]
