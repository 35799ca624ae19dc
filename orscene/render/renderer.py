"""Render each person's textured face mesh into one camera view, with depth-based visibility.

Method, per view and face:

1. **Projection.** The face vertices are projected with :func:`orscene.geometry.camera.project_world`
   (intrinsics, rational lens distortion, extrinsics), so the rendered vertices land exactly
   where the project's camera model puts them; moderngl (headless EGL) rasterizes the
   triangles between them with perspective-correct interpolation (clip ``w`` = camera z),
   i.e. distortion is applied per vertex, which is accurate for the finely tessellated
   face region.
2. **Small viewport.** Only the face's projected box plus a margin is rendered (an FBO of
   that size), giving the colour patch, the coverage and the exact camera-z depth per pixel,
   so the cost grows with the number of faces, not with the image size.
3. **Visibility.** A face whose axis points more than ``max_view_angle_deg`` away from the
   camera is turned away and skipped; back faces are culled. Then an occluder depth is
   compared per pixel: a face pixel is hidden where the occluder is nearer than the face by
   more than ``depth_tolerance_m``. For an RGB-D view the occluder depth is the measured
   depth registered to colour; missing depth (0) never hides anything (holes are treated
   conservatively: draw), except 1-pixel dropouts surrounded by depth, which take their
   nearest neighbour's depth; isolated nearer pixels (flying pixels) are ignored (3x3
   opening). For an RGB-only view the occluder depth is the scene seen by the depth
   cameras: the fused point cloud splatted into this camera (only points in the faces' view
   cones; z-buffered, each point a square of ``splat_radius_px``) and the other people's body
   meshes rendered into the face's window (their depth, same projection). A face whose
   visible share of rendered pixels is below ``min_visible_fraction`` is not visible in the
   view and gets no patch. Measured depth is evidence, not a veto: it may hide face pixels
   only where the occluder it implies is consistent (:func:`_occluder_doubt`: not nearer
   than ``min_occluder_depth_m``, not a surface spanning most of the view's measured depth,
   present in the depth around the face too, not seen through by another camera's depth
   (``others``)). Otherwise the face is drawn whole and its
   patch is marked ``depth_doubt`` (the pipeline then covers the head in 2D as well: fail
   closed). :func:`depth_doubt` judges a view's depth as a whole.
4. **Mask with margin.** The visible face pixels are dilated by ``margin_frac`` of the face
   size (occluders excluded again, background not: depth is unreliable at silhouettes), so
   blending covers the face border; colours beyond the rendered face are filled smoothly
   from its edge (push-pull), so the margin carries no image content of its own.
5. **Blending anchors.** Pixels around the mask at about the face's depth (or of unknown
   depth) may set the blended face's colour (``RenderedFacePatch.anchor``); background and
   occluders may not, so a wall or a surgical light does not tint the face.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import moderngl
import numpy as np

from orscene.errors import ConfigError, ShapeError
from orscene.geometry.camera import LensField, lens_field, project_cam, project_world, transform_points, unproject_px
from orscene.render._fill import push_pull_fill
from orscene.render.config import RenderConfig
from orscene.render.outcome import RenderedFacePatch, RenderedFaces, RenderOutcome, RenderStatus
from orscene.render.templates import FaceTemplate, TemplateSet, choose_template
from orscene.types import BodyFit, Camera, FaceMesh, FaceSource, Intrinsics, PointCloud, View

__all__ = [
    "Occluders", "FaceRenderer", "RenderedFacePatch", "RenderStatus", "RenderOutcome", "RenderedFaces",
    "create_renderer", "depth_doubt", "render_faces", "render_mesh_patch",
]

log = logging.getLogger(__name__)

_VERTEX_SHADER = """
#version 330
uniform vec4 u_box;   // x0, y0 (image px of the patch's first pixel centre), w, h (px)
uniform vec2 u_near_far;
in vec3 in_pos;       // u_px, v_px (distorted image pixels), z_m (camera depth)
in vec2 in_uv;
out vec2 v_uv;
out float v_z;
void main() {
    // patch pixel i (image column x0 + i) is centred at NDC -1 + (2 i + 1) / w; row 0 = image top
    float x = ((in_pos.x - u_box.x + 0.5) / u_box.z) * 2.0 - 1.0;
    float y = ((in_pos.y - u_box.y + 0.5) / u_box.w) * 2.0 - 1.0;
    float z = in_pos.z;
    float n = u_near_far.x;
    float f = u_near_far.y;
    gl_Position = vec4(x * z, y * z, (f + n) / (f - n) * z - 2.0 * f * n / (f - n), z);
    v_uv = in_uv;
    v_z = z;
}
"""

_FRAGMENT_SHADER = """
#version 330
uniform sampler2D u_tex;
uniform int u_textured;
in vec2 v_uv;
in float v_z;
layout(location = 0) out vec4 f_color;
layout(location = 1) out float f_z;
void main() {
    // texture rows run from the forehead (v = 1) down to the chin (v = 0)
    f_color = u_textured != 0 ? vec4(texture(u_tex, vec2(v_uv.x, 1.0 - v_uv.y)).rgb, 1.0) : vec4(0.0);
    f_z = v_z;
}
"""


@dataclass(frozen=True)
class Occluders:
    """What may hide a face in a camera without depth (ignored for RGB-D views)."""

    point_cloud: PointCloud | None = None
    """Fused point cloud of the depth cameras (world frame)."""
    bodies: Sequence[BodyFit] = field(default_factory=tuple)
    """Body meshes of all people; a face is never occluded by its own track's body."""


class FaceRenderer:
    """Holds the GL context, the shader program, template textures and a reusable FBO.

    Create once with :func:`create_renderer` and pass to :func:`render_faces`; ``release()``
    frees the context.
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.program = ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        self._textures: dict[str, moderngl.Texture] = {}
        self._fbo: moderngl.Framebuffer | None = None
        self._fbo_size = (0, 0)
        self._blank = ctx.texture((1, 1), 3, bytes(3))

    def texture(self, template: FaceTemplate) -> moderngl.Texture:
        tex = self._textures.get(template.id)
        if tex is None:
            rgb = np.ascontiguousarray(template.rgb)
            with self.ctx:  # make this context current (another may be, e.g. a scene renderer's)
                tex = self.ctx.texture((rgb.shape[1], rgb.shape[0]), 3, rgb.tobytes(), alignment=1)
                tex.build_mipmaps()
            tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
            tex.repeat_x = tex.repeat_y = False
            self._textures[template.id] = tex
        return tex

    def framebuffer(self, w: int, h: int) -> moderngl.Framebuffer:
        """An FBO at least ``w x h`` (RGBA8 colour, R32F camera depth, depth buffer)."""
        W, H = self._fbo_size
        if self._fbo is None or w > W or h > H:
            if self._fbo is not None:
                for a in (*self._fbo.color_attachments, self._fbo.depth_attachment):
                    a.release()
                self._fbo.release()
            W, H = max(w, W, 64), max(h, H, 64)
            W, H = -(-W // 64) * 64, -(-H // 64) * 64
            self._fbo = self.ctx.framebuffer(
                color_attachments=[self.ctx.texture((W, H), 4), self.ctx.texture((W, H), 1, dtype="f4")],
                depth_attachment=self.ctx.depth_texture((W, H)),
            )
            self._fbo_size = (W, H)
        return self._fbo

    def release(self) -> None:
        with self.ctx:
            self._release()
        self.ctx.release()

    def _release(self) -> None:
        self._blank.release()
        for tex in self._textures.values():
            tex.release()
        self._textures.clear()
        if self._fbo is not None:
            for a in (*self._fbo.color_attachments, self._fbo.depth_attachment):
                a.release()
            self._fbo.release()
            self._fbo = None


def create_renderer(cfg: RenderConfig) -> FaceRenderer:
    """Create the headless GL context (moderngl, ``cfg.gl_backend``) and the renderer."""
    try:
        ctx = moderngl.create_standalone_context(backend=cfg.gl_backend)
    except Exception as e:  # moderngl raises plain Exceptions for missing EGL/GL
        raise ConfigError(f"cannot create a headless OpenGL context (backend {cfg.gl_backend!r}): {e}") from e
    log.debug("GL renderer: %s", ctx.info.get("GL_RENDERER"))
    return FaceRenderer(ctx)


def render_mesh_patch(
    renderer: FaceRenderer,
    pix_z: np.ndarray,
    triangles: np.ndarray,
    origin_px: tuple[int, int],
    size_wh: tuple[int, int],
    cfg: RenderConfig,
    uv: np.ndarray | None = None,
    texture: moderngl.Texture | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rasterize pre-projected vertices ``pix_z (V, 3) = (u_px, v_px, z_m)`` into a window.

    The window's first pixel is image pixel ``origin_px`` and it is ``size_wh`` pixels.
    Returns ``(rgb (h, w, 3) uint8, z_m (h, w) float32, 0 where nothing was drawn)``;
    the colour is black unless ``uv`` and ``texture`` are given. Triangles are culled when
    seen from behind if ``cfg.cull_back_faces`` (CCW seen from outside).
    """
    with renderer.ctx:  # GL calls go to this renderer's context, whatever else is current
        return _render_mesh_patch(renderer, pix_z, triangles, origin_px, size_wh, cfg, uv, texture)


def _render_mesh_patch(renderer, pix_z, triangles, origin_px, size_wh, cfg, uv, texture):
    w, h = size_wh
    fbo = renderer.framebuffer(w, h)
    ctx = renderer.ctx
    fbo.use()
    fbo.viewport = (0, 0, w, h)
    fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0, viewport=(0, 0, w, h))
    tri = np.ascontiguousarray(triangles, dtype=np.int32)
    if tri.size == 0:
        return np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.float32)
    textured = uv is not None and texture is not None
    attrs = np.empty((pix_z.shape[0], 5), np.float32)
    attrs[:, :3] = pix_z
    attrs[:, 3:] = uv if textured else 0.0
    vbo = ctx.buffer(attrs.tobytes())
    ibo = ctx.buffer(tri.tobytes())
    layout = [(vbo, "3f 2f", "in_pos", "in_uv")]
    vao = ctx.vertex_array(renderer.program, layout, index_buffer=ibo, index_element_size=4)
    prog = renderer.program
    prog["u_box"].value = (float(origin_px[0]), float(origin_px[1]), float(w), float(h))
    prog["u_near_far"].value = (float(cfg.near_m), float(cfg.far_m))
    prog["u_textured"].value = 1 if textured else 0
    (texture if textured else renderer._blank).use(0)
    prog["u_tex"].value = 0
    ctx.enable(moderngl.DEPTH_TEST)
    if cfg.cull_back_faces:
        # image rows map to NDC y increasing downwards, which mirrors the image: a triangle
        # that is CCW seen from outside (facing the camera) arrives clockwise in NDC
        ctx.enable(moderngl.CULL_FACE)
        ctx.front_face = "cw"
    else:
        ctx.disable(moderngl.CULL_FACE)
    vao.render(moderngl.TRIANGLES)
    rgba = np.frombuffer(fbo.read(viewport=(0, 0, w, h), components=4, attachment=0, alignment=1), np.uint8)
    z = np.frombuffer(fbo.read(viewport=(0, 0, w, h), components=1, attachment=1, dtype="f4", alignment=1), np.float32)
    vao.release()
    vbo.release()
    ibo.release()
    # rows come back bottom-up in GL terms, which is image row order here (NDC y grows with v)
    rgb = rgba.reshape(h, w, 4)[..., :3].copy()
    return rgb, z.reshape(h, w).copy()


def _rigid_f32(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``R p + t`` for (N, 3) points in float32, row by row: no BLAS call, whose threads stall
    on a loaded machine for this skinny (N, 3) x (3, 3) product."""
    p = np.asarray(points, np.float32)
    R, t = T[:3, :3].astype(np.float32), T[:3, 3].astype(np.float32)
    out = np.empty((p.shape[0], 3), np.float32)
    for i in range(3):
        out[:, i] = p[:, 0] * R[i, 0] + p[:, 1] * R[i, 1] + p[:, 2] * R[i, 2] + t[i]
    return out


def _project_vertices(
    camera: Camera, vertices_world_m: np.ndarray, near_m: float = 0.0, lens: LensField | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(pix_z (V, 3) float32, ok (V,) bool)`` of world vertices in ``camera``'s colour image.

    ``ok`` is False for vertices nearer than ``near_m`` or outside the lens model's valid field
    (:meth:`LensField.valid`; ``lens``: the colour image's, built for the call when None).
    """
    return _project_cam_points(camera.color, _rigid_f32(camera.cam_from_world, vertices_world_m), near_m, lens)


def _project_cam_points(intr: Intrinsics, pts_cam: np.ndarray, near_m: float, lens: LensField | None = None) -> tuple[np.ndarray, np.ndarray]:
    z = pts_cam[:, 2]
    ok = z > max(near_m, 1e-6)
    pix_z = np.zeros((pts_cam.shape[0], 3), np.float32)
    if not ok.any():
        return pix_z, ok
    zz = z[ok].astype(np.float64)
    xy = pts_cam[ok, :2].astype(np.float64) / zz[:, None]
    inside = lens_field(intr, lens).valid(xy)
    ok[np.nonzero(ok)[0][~inside]] = False
    uv, _ = project_cam(intr, np.column_stack([xy[inside], np.ones(int(inside.sum()))]))
    pix_z[ok, :2] = uv
    pix_z[ok, 2] = zz[inside]
    return pix_z, ok


def _splat_points(
    pix_z: np.ndarray, origin_px: tuple[int, int], size_wh: tuple[int, int], radius_px: int
) -> np.ndarray:
    """Nearest-point depth map (0 = empty) of projected points in a window, each a square."""
    w, h = size_wh
    x0, y0 = origin_px
    r = max(0, int(radius_px))
    col = np.rint(pix_z[:, 0]).astype(np.int64) - x0
    row = np.rint(pix_z[:, 1]).astype(np.int64) - y0
    keep = (col >= -r) & (col < w + r) & (row >= -r) & (row < h + r)
    col, row, z = col[keep] + r, row[keep] + r, pix_z[keep, 2]
    Wp, Hp = w + 2 * r, h + 2 * r
    buf = np.full(Hp * Wp, np.inf, np.float32)
    order = np.argsort(-z)  # far first: the nearest point is written last and wins
    buf[(row * Wp + col)[order]] = z[order]
    buf = buf.reshape(Hp, Wp)
    if r > 0:
        # each point covers a square (min depth wins), but only inside the closing of the hit
        # pixels: gaps between points are filled, silhouettes do not grow by the splat size
        k = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
        closed = cv2.morphologyEx(np.isfinite(buf).astype(np.uint8), cv2.MORPH_CLOSE, k).astype(bool)
        buf = cv2.erode(buf, k, borderType=cv2.BORDER_CONSTANT, borderValue=np.inf)
        buf[~closed] = np.inf
    buf = buf[r : r + h, r : r + w]
    buf[~np.isfinite(buf)] = 0.0
    return np.ascontiguousarray(buf)


@dataclass(frozen=True)
class _ViewOccluders:
    """Occluders of an RGB-only view, projected once per view."""

    cloud_pix_z: np.ndarray | None
    """(N, 3) projected fused points (u_px, v_px, z_m)."""
    bodies: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]
    """(track_id, pix_z (V, 3), triangles (F, 3), box (x0, y0, x1, y1)) per body."""


def _project_occluders(
    camera: Camera, occluders: Occluders, faces: Sequence[FaceMesh], cfg: RenderConfig, lens: LensField | None = None
) -> _ViewOccluders:
    T = camera.cam_from_world
    cloud_pix_z = None
    pc = occluders.point_cloud
    if pc is not None and len(pc):
        # keep only points inside the view cones of the faces (with a generous margin),
        # before the (costlier) lens distortion
        cones = []
        for f in faces:
            fc = _rigid_f32(T, f.vertices_world_m)
            if (fc[:, 2] <= cfg.near_m).any():
                continue
            fxy = fc[:, :2] / fc[:, 2:3]
            lo, hi = fxy.min(0), fxy.max(0)
            pad = 0.6 * float((hi - lo).max())  # covers the mask margin and the splat size
            # far enough to see what lies behind the face (background), not the whole room
            cones.append((lo - pad, hi + pad, float(fc[:, 2].max()) + 2.0 * cfg.background_tolerance_m + 0.3))
        if cones:
            lo_all = np.min([c[0] for c in cones], axis=0)
            hi_all = np.max([c[1] for c in cones], axis=0)
            z_all = max(c[2] for c in cones)
            pc_cam = _rigid_f32(T, pc.points_world_m)
            z = pc_cam[:, 2]
            sel = np.nonzero((z > cfg.near_m) & (z < z_all))[0]
            zs = z[sel]
            xn, yn = pc_cam[sel, 0] / zs, pc_cam[sel, 1] / zs
            inside = np.nonzero((xn > lo_all[0]) & (xn < hi_all[0]) & (yn > lo_all[1]) & (yn < hi_all[1]))[0]
            xn, yn, zs = xn[inside], yn[inside], zs[inside]
            keep = np.zeros(inside.size, bool)
            for lo, hi, zmax in cones:
                keep |= (zs < zmax) & (xn > lo[0]) & (xn < hi[0]) & (yn > lo[1]) & (yn < hi[1])
            pts = pc_cam[sel[inside]]
            pz, ok = _project_cam_points(camera.color, pts[keep], cfg.near_m, lens)
            cloud_pix_z = pz[ok]
    bodies = []
    for body in occluders.bodies:
        pz, ok = _project_vertices(camera, body.vertices_world_m, cfg.near_m, lens)
        tris = np.asarray(body.faces)
        tris = tris[ok[tris].all(axis=1)]
        if tris.size == 0:
            continue
        used = pz[ok]
        box = np.array([used[:, 0].min(), used[:, 1].min(), used[:, 0].max(), used[:, 1].max()])
        bodies.append((body.track_id, pz, tris, box))
    return _ViewOccluders(cloud_pix_z, bodies)


def _drop_specks(flags: np.ndarray) -> np.ndarray:
    """Morphological opening (3x3): real occluders and background are regions; isolated
    pixels are depth noise (flying pixels), which must not punch holes into the face mask."""
    if not flags.any():
        return flags
    return cv2.morphologyEx(flags.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)


def _fill_small_holes(depth: np.ndarray) -> np.ndarray:
    """Give 1-pixel holes (isolated dropouts) the nearest depth of their 3x3 neighbours, so a
    speck of missing depth inside an occluder does not let the face through; larger holes
    stay 0 (unknown: the face is drawn there)."""
    holes = depth <= 0
    if not holes.any():
        return depth
    d = np.where(holes, np.inf, depth).astype(np.float32)
    near = cv2.erode(d, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    valid_n = cv2.boxFilter((~holes).astype(np.float32), -1, (3, 3), normalize=False, borderType=cv2.BORDER_REPLICATE)
    fill = holes & (valid_n >= 6) & np.isfinite(near)
    if not fill.any():
        return depth
    out = depth.copy()
    out[fill] = near[fill]
    return out


def _occluder_depth(
    renderer: FaceRenderer,
    view: View,
    track_id: int,
    origin_px: tuple[int, int],
    size_wh: tuple[int, int],
    occ: _ViewOccluders | None,
    cfg: RenderConfig,
) -> np.ndarray | None:
    """Depth of whatever may hide the face in the window (0 = nothing known), or None."""
    x0, y0 = origin_px
    w, h = size_wh
    if view.depth_m is not None:
        return view.depth_m[y0 : y0 + h, x0 : x0 + w]
    if occ is None or (occ.cloud_pix_z is None and not occ.bodies):
        return None
    depth = np.zeros((h, w), np.float32)
    if occ.cloud_pix_z is not None and occ.cloud_pix_z.shape[0]:
        depth = _splat_points(occ.cloud_pix_z, origin_px, size_wh, cfg.splat_radius_px)
    # the other people's bodies overlapping the window, drawn in one pass
    parts = [
        (pz, tris)
        for tid, pz, tris, box in occ.bodies
        if tid != track_id and box[0] < x0 + w and box[2] > x0 - 1 and box[1] < y0 + h and box[3] > y0 - 1
    ]
    if parts:
        offsets = np.cumsum([0] + [pz.shape[0] for pz, _ in parts[:-1]])
        pz_all = np.concatenate([pz for pz, _ in parts])
        tris_all = np.concatenate([tris + o for (_, tris), o in zip(parts, offsets)])
        _, zb = render_mesh_patch(renderer, pz_all, tris_all, origin_px, size_wh, cfg)
        nearer = (zb > 0) & ((depth == 0) | (zb < depth))
        depth[nearer] = zb[nearer]
    return depth


def depth_doubt(depth_m: np.ndarray, cfg: RenderConfig, min_pixels: int = 400) -> str:
    """Why a view's registered depth is implausible as a whole (empty: plausible, or too
    few measured pixels to judge): most measured pixels nearer than
    ``min_occluder_depth_m``, or a flat surface (5th to 95th percentile within
    ``min_depth_spread_m``). Such a view is treated as one without depth."""
    d = depth_m[depth_m > 0]
    if d.size < min_pixels:
        return ""
    near = float((d < cfg.min_occluder_depth_m).mean())
    if near > 0.5:
        return f"{near:.0%} of the measured depth is nearer than {cfg.min_occluder_depth_m:g} m"
    lo, hi = np.percentile(d, [5, 95])
    if hi - lo < cfg.min_depth_spread_m:
        return f"the measured depth is flat ({lo:.3f}-{hi:.3f} m)"
    return ""


def _occluder_doubt(
    view_depth: np.ndarray,
    occ_depth: np.ndarray,
    occluded: np.ndarray,
    cover: np.ndarray,
    cfg: RenderConfig,
    camera: Camera | None = None,
    origin_px: tuple[int, int] = (0, 0),
    others: Sequence[tuple[Camera, np.ndarray]] = (),
) -> str:
    """Why the occluder that a view's measured depth implies in front of a face is not
    consistent (empty: it is): nearer than ``min_occluder_depth_m``; a surface holding more
    than ``max_occluder_image_share`` of the view's measured depth (a whole-image surface);
    absent from the depth around the face (fewer than ``min_occluder_ring_share`` of the
    window's pixels beyond the face in its depth band); or contradicted by the other
    cameras' geometry (:func:`_seen_through`)."""
    z = float(np.median(occ_depth[occluded]))
    if z < cfg.min_occluder_depth_m:
        return f"occluder at {z:.2f} m, nearer than {cfg.min_occluder_depth_m:g} m"
    measured = view_depth[view_depth > 0]
    share = float((np.abs(measured - z) <= cfg.occluder_band_m).mean()) if measured.size else 0.0
    if share > cfg.max_occluder_image_share:
        return f"occluder at {z:.2f} m spans {share:.0%} of the view's depth"
    ring = ~cover
    if ring.any():
        around = float((np.abs(occ_depth[ring] - z) <= cfg.occluder_band_m).mean())
        if around < cfg.min_occluder_ring_share:
            return f"occluder at {z:.2f} m absent around the face"
    if camera is not None and others:
        ys, xs = np.nonzero(occluded)
        step = max(1, ys.size // 256)  # a deterministic sample of the occluder's pixels
        uv = np.stack([xs[::step] + origin_px[0], ys[::step] + origin_px[1]], -1).astype(np.float64)
        pts = transform_points(camera.world_from_cam, unproject_px(camera.color, uv, occ_depth[ys[::step], xs[::step]]))
        for other, depth in others:
            seen, through = _seen_through(other, depth, pts, cfg.occluder_band_m)
            if seen >= 20 and through > 0.5 * seen:
                return f"occluder at {z:.2f} m seen through by {other.name}'s depth ({through}/{seen} points)"
    return ""


def _seen_through(camera: Camera, depth_m: np.ndarray, points_world_m: np.ndarray, tolerance_m: float) -> tuple[int, int]:
    """How many of ``points_world_m`` ``camera``'s registered depth measures (in its image,
    depth known), and through how many of them it sees (measured depth beyond the point by
    more than ``tolerance_m``: the point is empty space, no surface)."""
    uv, z = project_world(camera, points_world_m)
    h, w = depth_m.shape
    u, v = np.round(uv[:, 0]).astype(np.int64), np.round(uv[:, 1]).astype(np.int64)
    ok = (z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    d = np.zeros(len(z), np.float32)
    d[ok] = depth_m[v[ok], u[ok]]
    known = ok & (d > 0)
    return int(known.sum()), int((known & (d > z + tolerance_m)).sum())


def render_faces(
    renderer: FaceRenderer,
    view: View,
    camera: Camera,
    faces: Sequence[FaceMesh],
    templates: TemplateSet,
    occluders: Occluders | None,
    cfg: RenderConfig,
    others: Sequence[tuple[Camera, np.ndarray]] = (),
    lens: LensField | None = None,
) -> RenderedFaces:
    """Render every face into one view: a patch per face visible in it, and per face the
    outcome with its reason (:class:`RenderOutcome`).

    ``others``: the other calibrated cameras of the frame-set with their registered depth
    (0 = unknown); where one of them sees through the occluder that this view's depth puts
    in front of a face, that occluder does not hide it.

    Faces behind the camera, outside the image, turned away, or with a visible share below
    ``cfg.min_visible_fraction`` get no patch. ``occluders`` is used only when the view has
    no depth; without both, nothing hides a face (draw). The patches are
    :class:`RenderedFacePatch` (a FacePatch that also says which surrounding pixels may
    anchor the blended colours). ``lens``: the colour image's
    :class:`~orscene.geometry.camera.LensField` (a session's ``CameraRig.lens(name)``),
    whose :meth:`~orscene.geometry.camera.LensField.valid` drops vertices beyond the lens
    model's field; built for the call when None.
    """
    if view.camera != camera.name:
        raise ShapeError("render_faces view", f"a view of camera {camera.name!r}", view.camera)
    H, W = view.rgb.shape[:2]
    if (W, H) != camera.color.size_wh:
        raise ShapeError(f"render_faces view[{view.camera}].rgb", f"size {camera.color.size_wh}", (W, H))
    if not faces:
        return RenderedFaces((), ())
    lens = lens_field(camera.color, lens)
    occ = None
    if view.depth_m is None and occluders is not None:
        occ = _project_occluders(camera, occluders, faces, cfg, lens)
    patches: list[RenderedFacePatch] = []
    outcomes: list[RenderOutcome] = []
    for face in faces:
        patch, outcome = _render_face(renderer, view, camera, face, templates, occ, cfg, others, lens)
        outcomes.append(outcome)
        if patch is not None:
            patches.append(patch)
    return RenderedFaces(tuple(patches), tuple(outcomes))


def _render_face(
    renderer: FaceRenderer,
    view: View,
    camera: Camera,
    face: FaceMesh,
    templates: TemplateSet,
    occ: "_ViewOccluders | None",
    cfg: RenderConfig,
    others: Sequence[tuple[Camera, np.ndarray]],
    lens: LensField,
) -> tuple["RenderedFacePatch | None", RenderOutcome]:
    """One face in one view: facing test, projection, window, rasterization, visibility, patch."""
    if _turned_away(face, camera, cfg):
        log.debug("face %d is turned away from camera %s: not rendered", face.track_id, camera.name)
        why = f"turned more than {cfg.max_view_angle_deg:g} deg away from the camera"
        return None, RenderOutcome(face.track_id, RenderStatus.TURNED_AWAY, why)
    pix_z, ok = _project_vertices(camera, face.vertices_world_m, cfg.near_m, lens)
    tris = np.asarray(face.faces)
    if not ok.all():  # drop the triangles behind the camera or beyond the lens model's field
        log.debug("face %d is partly behind camera %s or outside its field", face.track_id, camera.name)
        tris = tris[ok[tris].all(axis=1)]
        if tris.size == 0:
            return None, RenderOutcome(face.track_id, RenderStatus.OUT_OF_VIEW, "behind the camera or beyond its lens field")
    window = _face_window(pix_z, tris, view.rgb.shape[1], view.rgb.shape[0], cfg)
    if window is None:
        return None, RenderOutcome(face.track_id, RenderStatus.OUT_OF_VIEW, "outside the image")
    origin, size_wh, margin = window
    template = choose_template(templates, face.track_id, cfg)
    rgb, zf = render_mesh_patch(
        renderer, pix_z, tris, origin, size_wh, cfg,
        uv=face.uv.astype(np.float32), texture=renderer.texture(template),
    )  # fmt: skip
    cover = zf > 0
    n_cover = int(cover.sum())
    if n_cover == 0:
        return None, RenderOutcome(face.track_id, RenderStatus.OUT_OF_VIEW, "no pixel rasterized (back faces culled or off the image)")
    occ_depth = _occluder_depth(renderer, view, face.track_id, origin, size_wh, occ, cfg)
    occluded, background, doubt = _face_visibility(view, camera, face.track_id, zf, cover, occ_depth, margin, origin, cfg, others)
    visible = cover & ~occluded
    fraction = float(visible.sum()) / n_cover
    if fraction < cfg.min_visible_fraction:
        log.debug("face %d hidden in %s (visible %.2f)", face.track_id, camera.name, fraction)
        why = f"visible share {fraction:.2f} below {cfg.min_visible_fraction:g}"
        return None, RenderOutcome(face.track_id, RenderStatus.HIDDEN, why, fraction, doubt)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    # background is not cut out of the margin: registered depth is unreliable at
    # silhouettes (mixed pixels, parallax shadows), and face pixels must not survive there
    mask = cv2.dilate(visible.astype(np.uint8), kernel).astype(bool) & ~occluded
    patch = RenderedFacePatch(
        camera=camera.name,
        track_id=face.track_id,
        origin_px=origin,
        rgb=push_pull_fill(rgb, cover),
        mask=mask,
        depth_m=zf,
        visible_fraction=fraction,
        source=FaceSource.RENDER_3D,
        anchor=~mask & ~occluded & ~background,
        depth_doubt=doubt,
    )
    return patch, RenderOutcome(face.track_id, RenderStatus.RENDERED, "", fraction, doubt)


def _turned_away(face: FaceMesh, camera: Camera, cfg: RenderConfig) -> bool:
    """True when the face's axis points more than ``max_view_angle_deg`` away from the camera."""
    cos_away = float(np.cos(np.deg2rad(cfg.max_view_angle_deg)))
    to_cam = camera.center_world_m - face.world_from_head[:3, 3]
    return float(face.world_from_head[:3, 2] @ to_cam) < cos_away * float(np.linalg.norm(to_cam))


def _face_window(
    pix_z: np.ndarray, tris: np.ndarray, W: int, H: int, cfg: RenderConfig
) -> tuple[tuple[int, int], tuple[int, int], int] | None:
    """``(origin_px, size_wh, margin_px)`` of the window a face is rendered in: its projected
    box plus the mask margin (``margin_frac`` of the face size) and 2 pixels, clipped to the
    image; None when nothing of it is in the image."""
    used = pix_z[np.unique(tris), :2]
    lo = used.min(axis=0)
    hi = used.max(axis=0)
    size = float(np.sqrt(max(hi[0] - lo[0], 1.0) * max(hi[1] - lo[1], 1.0)))
    margin = max(int(cfg.min_margin_px), int(np.ceil(cfg.margin_frac * size)))
    pad = margin + 2
    x0 = max(0, int(np.floor(lo[0])) - pad)
    y0 = max(0, int(np.floor(lo[1])) - pad)
    x1 = min(W, int(np.ceil(hi[0])) + pad + 1)
    y1 = min(H, int(np.ceil(hi[1])) + pad + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0), (x1 - x0, y1 - y0), margin


def _face_visibility(
    view: View,
    camera: Camera,
    track_id: int,
    zf: np.ndarray,
    cover: np.ndarray,
    occ_depth: np.ndarray | None,
    margin: int,
    origin: tuple[int, int],
    cfg: RenderConfig,
    others: Sequence[tuple[Camera, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, str]:
    """``(occluded, background, depth_doubt)`` over a face's window: the face pixels hidden
    by a nearer surface, the pixels beyond the face's depth, and why the view's depth was
    overruled (then nothing is occluded) or empty (module docstring, step 3)."""
    if occ_depth is None:
        nothing = np.zeros_like(cover)
        return nothing, nothing, ""
    doubt = ""
    k = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    # beyond the rendered face, compare with the nearest face depth around it
    z_inf = np.where(cover, zf, np.inf).astype(np.float32)
    z_ref = np.where(cover, zf, cv2.erode(z_inf, k, borderType=cv2.BORDER_CONSTANT, borderValue=np.inf))
    occ_depth = _fill_small_holes(occ_depth)
    known = occ_depth > 0
    occluded = _drop_specks(known & (occ_depth < z_ref - cfg.depth_tolerance_m))
    if view.depth_m is None and cfg.rgb_only_occluder_shrink_px > 0 and occluded.any():
        occluded = cv2.erode(occluded.astype(np.uint8), np.ones((3, 3), np.uint8),
                             iterations=int(cfg.rgb_only_occluder_shrink_px)).astype(bool)  # fmt: skip
    background = _drop_specks(known & ~cover & (occ_depth > z_ref + cfg.background_tolerance_m))
    if view.depth_m is not None and (occluded & cover).any():
        doubt = _occluder_doubt(view.depth_m, occ_depth, occluded & cover, cover, cfg, camera, origin, others)
        if doubt:  # depth is evidence, not a veto: draw the face whole (and say so)
            log.info("face %d in %s: depth overruled (%s)", track_id, camera.name, doubt)
            occluded = np.zeros_like(cover)
    return occluded, background, doubt
