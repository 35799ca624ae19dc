"""Configuration of the face renderer (template choice, visibility, blending)."""

import enum
from dataclasses import dataclass

__all__ = ["BlendMode", "RenderConfig"]


class BlendMode(enum.Enum):
    """How a rendered face patch is composited into the image."""

    POISSON = "poisson"
    """Poisson image editing, own exact solver (DST): template gradients inside the mask,
    the image's colours on its border."""
    OPENCV = "opencv"
    """The same with cv2.seamlessClone (NORMAL_CLONE); slower on small patches."""
    PASTE = "paste"
    """Copy the patch colours into the mask unchanged (no harmonisation)."""


@dataclass(frozen=True)
class RenderConfig:
    """Face template rendering, depth-based visibility and blending."""

    template_ids: tuple[str, ...] = ()
    """Templates to choose from, by catalogue id (one id = a fixed template); empty = all."""
    template_attributes: tuple[str, ...] = ()
    """Required attributes: ``masked``, ``cap`` (true), ``!masked`` (false), ``sex=female`` (equal)."""
    template_salt: str = ""
    """Mixed into the per-track hash (e.g. a session name) to vary choices between sessions."""
    gl_backend: str = "egl"
    """moderngl standalone backend (headless EGL)."""
    near_m: float = 0.05
    """Vertices nearer than this to a camera are not rendered (a face this near is skipped)."""
    far_m: float = 30.0
    """Far plane of the depth buffer (only orders triangles; depth is kept exactly)."""
    max_view_angle_deg: float = 100.0
    """A face whose axis (``world_from_head`` +z) points more than this away from the camera
    is turned away: not drawn (only a sliver of cheek would show)."""
    cull_back_faces: bool = True
    """Do not draw triangles seen from behind (a face turned away from the camera)."""
    depth_tolerance_m: float = 0.06
    """A face pixel is occluded where the measured (or occluder) depth is nearer than the
    rendered face depth by more than this."""
    background_tolerance_m: float = 0.15
    """Pixels beyond the rendered face whose measured depth lies this much behind the face are
    background: their colours do not tint the blended face (they are still replaced when
    inside the margin)."""
    min_visible_fraction: float = 0.15
    """A face with a smaller unoccluded share of its rendered pixels is not visible in the view."""
    min_occluder_depth_m: float = 0.5
    """Depth is evidence, not a veto: measured depth nearer to the camera than this is no
    plausible occluder (depth sensors' near range; nothing stands this close to a mounted
    OR camera) and never hides a face. A view where most measured depth is this near is
    implausible as a whole (:func:`orscene.render.depth_doubt`)."""
    max_occluder_image_share: float = 0.8
    """An occluder whose depth (within ``occluder_band_m``) holds more than this share of the
    view's measured depth pixels is a whole-image surface (a wall "in front of" everything),
    not an object in front of a face: it does not hide the face."""
    occluder_band_m: float = 0.1
    """Depth band around an occluder's median depth that counts as the same surface."""
    min_occluder_ring_share: float = 0.05
    """An occluder must show in the view's depth around the face as well: at least this share
    of the window's pixels beyond the rendered face lie in its depth band (a real object in
    front of a face reaches beyond it; a blob exactly on the face is the face measured off)."""
    min_depth_spread_m: float = 0.02
    """A view whose measured depth spans less than this (5th to 95th percentile) is a flat
    surface, implausible around people: treated as a view without depth."""
    margin_frac: float = 0.12
    """Mask dilation beyond the rendered face, as a fraction of the face's size (sqrt of its area)."""
    min_margin_px: int = 2
    """Smallest mask dilation in pixels."""
    rgb_only_occluder_shrink_px: int = 2
    """For RGB-only cameras: occluders from the fused cloud and body meshes are shrunk by this
    many pixels (their edges are only as exact as the cloud's voxels and the body fit), so a
    face next to an occluder is replaced up to the edge rather than leaking."""
    splat_radius_px: int = 2
    """For RGB-only cameras: each fused point covers a square of this radius in the occluder
    depth map (holes between points are closed up to this size)."""
    blend: BlendMode = BlendMode.POISSON
    """Compositing of the rendered faces."""
    interior_harmonization: float = 1.0
    """Poisson modes: share of the Poisson colour correction kept in the face's interior (1 =
    plain Poisson editing; lower keeps more of the template's own colours inside the face
    while the border stays seamless: the share ramps up to 1 towards the mask border)."""
