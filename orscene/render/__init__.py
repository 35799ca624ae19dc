"""orscene.render: face templates rendered into every view, depth-based visibility, Poisson blending.

Usage (one GL context per process, created once)::

    cfg = RenderConfig()
    templates = load_templates(default_catalog_path(), cfg)
    renderer = create_renderer(cfg)
    rendered = render_faces(renderer, view, camera, face_meshes, templates, occluders, cfg)
    patches = rendered.patches  # rendered.outcomes: per face, drawn or why not
    anonymized_rgb, union_mask = blend_faces(view.rgb, patches, cfg)
"""

from orscene._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "blend": ("blend_faces",),
        "config": ("BlendMode", "RenderConfig"),
        "face_mesh": ("synthetic_face_mesh",),
        "outcome": ("RenderOutcome", "RenderStatus", "RenderedFacePatch", "RenderedFaces"),
        "renderer": ("FaceRenderer", "Occluders", "create_renderer", "depth_doubt", "render_faces"),
        "templates": ("FaceTemplate", "TemplateSet", "choose_template", "default_catalog_path", "load_templates"),
    },
)
