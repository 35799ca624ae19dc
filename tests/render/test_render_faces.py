"""Rendering face meshes into views: position, orientation, depth-based visibility."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from orscene.geometry.camera import project_world
from orscene.render import (
    FaceTemplate,
    Occluders,
    RenderConfig,
    TemplateSet,
    RenderStatus,
    render_faces,
    synthetic_face_mesh,
)
from orscene.types import PointCloud, View

CFG = RenderConfig()
RATIONAL = np.array([0.25, -0.08, 0.002, -0.001, 0.01, 0.45, -0.02, 0.01])


def _view(cam, depth=None, fill=80):
    w, h = cam.color.size_wh
    return View(cam.name, np.full((h, w, 3), fill, np.uint8), 0, None if depth is None else depth.astype(np.float32))


def _inside_triangles(pix: np.ndarray, tris: np.ndarray, xs: np.ndarray, ys: np.ndarray):
    """Reference rasterization: which pixel centres lie inside a projected triangle, with the
    screen-linear z there (z 0 = none)."""
    P = np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float64)
    zbuf = np.full(P.shape[0], np.inf)
    for a, b, c in tris:
        A, B, C = pix[a, :2], pix[b, :2], pix[c, :2]
        lo, hi = np.minimum(np.minimum(A, B), C), np.maximum(np.maximum(A, B), C)
        sel = np.nonzero((P[:, 0] >= lo[0]) & (P[:, 0] <= hi[0]) & (P[:, 1] >= lo[1]) & (P[:, 1] <= hi[1]))[0]
        if sel.size == 0:
            continue
        T = np.array([[B[0] - A[0], C[0] - A[0]], [B[1] - A[1], C[1] - A[1]]])
        if abs(np.linalg.det(T)) < 1e-12:
            continue
        l12 = np.linalg.solve(T, (P[sel] - A).T).T
        l0 = 1 - l12.sum(1)
        ins = (l12 >= 0).all(1) & (l0 >= 0)
        z = l0 * pix[a, 2] + l12[:, 0] * pix[b, 2] + l12[:, 1] * pix[c, 2]
        idx = sel[ins]
        zbuf[idx] = np.minimum(zbuf[idx], z[ins])
    zbuf[~np.isfinite(zbuf)] = 0
    return zbuf.reshape(xs.shape)


def test_rendered_face_matches_projection_with_lens_distortion(renderer, templates, head_pose, make_camera):
    cam = make_camera(w=320, h=240, f=300.0, dist=RATIONAL, eye=(0.2, -1.0, 1.7), target=(0.45, 0.0, 1.4))
    face = synthetic_face_mesh(1, head_pose([0.0, 0.0, 1.6], [0.2, -1.0, 0.05]))
    (patch,) = render_faces(renderer, _view(cam), cam, [face], templates, None, CFG).patches
    x0, y0 = patch.origin_px
    h, w = patch.mask.shape
    xs, ys = np.meshgrid(np.arange(x0, x0 + w), np.arange(y0, y0 + h))
    uv, z = project_world(cam, face.vertices_world_m)
    ref_z = _inside_triangles(np.column_stack([uv, z]), face.faces, xs, ys)
    cover, ref = patch.depth_m > 0, ref_z > 0
    assert ref.sum() > 1500
    # coverage agrees up to pixels on the silhouette (centres within rounding of an edge)
    assert (cover ^ ref).sum() < 0.03 * ref.sum()
    both = cover & ref
    np.testing.assert_allclose(patch.depth_m[both], ref_z[both], atol=2e-3)
    # off-vertex points (triangle centroids) land where the camera model puts them
    cents = face.vertices_world_m[face.faces].mean(axis=1)
    cuv, cz = project_world(cam, cents)
    c = np.rint(cuv).astype(int) - [x0, y0]
    ok = cover[c[:, 1], c[:, 0]]
    assert ok.mean() > 0.97
    np.testing.assert_allclose(patch.depth_m[c[ok, 1], c[ok, 0]], cz[ok], atol=5e-3)
    # distortion matters here: the pinhole projection would be far off
    und = dataclasses.replace(cam, color=dataclasses.replace(cam.color, distortion=np.zeros(8)))
    assert np.abs(project_world(und, cents)[0] - cuv).max() > 3.0


def test_texture_orientation_right_cheek_left_forehead_top(renderer, head_pose, make_camera):
    S = 64
    tex = np.zeros((S, S, 3), np.uint8)
    tex[: S // 2, : S // 2] = (255, 0, 0)  # forehead, person's right
    tex[: S // 2, S // 2 :] = (0, 255, 0)  # forehead, person's left
    tex[S // 2 :, : S // 2] = (0, 0, 255)  # chin, person's right
    tex[S // 2 :, S // 2 :] = (255, 255, 255)  # chin, person's left
    tset = TemplateSet((FaceTemplate("quadrants", tex, {}),), "CC0-1.0", Path("quadrants.yaml"))
    cam = make_camera(w=200, h=160, f=250.0)
    face = synthetic_face_mesh(2, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    (patch,) = render_faces(renderer, _view(cam), cam, [face], tset, None, CFG).patches
    ys, xs = np.nonzero(patch.depth_m > 0)
    cy, cx = ys.mean(), xs.mean()

    def mean_colour(top: bool, left: bool) -> np.ndarray:
        sel = ((ys < cy - 3) if top else (ys > cy + 3)) & ((xs < cx - 3) if left else (xs > cx + 3))
        return patch.rgb[ys[sel], xs[sel]].astype(float).mean(0)

    # seen from the front, the person's right cheek is on the image's left
    np.testing.assert_allclose(mean_colour(True, True), (255, 0, 0), atol=25)
    np.testing.assert_allclose(mean_colour(True, False), (0, 255, 0), atol=25)
    np.testing.assert_allclose(mean_colour(False, True), (0, 0, 255), atol=25)
    np.testing.assert_allclose(mean_colour(False, False), (255, 255, 255), atol=25)


def test_face_turned_away_or_behind_camera_is_not_rendered(renderer, templates, head_pose, make_camera):
    cam = make_camera()
    away = synthetic_face_mesh(3, head_pose([0.0, 0.0, 1.6], [0.0, 1.0, 0.0]))
    behind = synthetic_face_mesh(4, head_pose([0.0, -2.0, 1.6], [0.0, -1.0, 0.0]))
    both = render_faces(renderer, _view(cam), cam, [away, behind], templates, None, CFG)
    assert both.patches == ()
    # each face says why it was not drawn (the pipeline's audit reads it)
    assert [o.track_id for o in both.outcomes] == [3, 4]
    assert both.outcomes[0].status is RenderStatus.TURNED_AWAY and "away" in both.outcomes[0].reason
    assert both.outcomes[1].status in (RenderStatus.TURNED_AWAY, RenderStatus.OUT_OF_VIEW)
    # both the head-axis test and back-face culling (not a wrong winding) remove it
    no_cull = dataclasses.replace(CFG, cull_back_faces=False, max_view_angle_deg=180.0)
    assert len(render_faces(renderer, _view(cam), cam, [away], templates, None, no_cull).patches) == 1
    culled = render_faces(renderer, _view(cam), cam, [away], templates, None, dataclasses.replace(CFG, max_view_angle_deg=180.0))
    assert culled.patches == () and culled.outcomes[0].status is RenderStatus.OUT_OF_VIEW
    # a face in profile (90 deg) is still drawn
    profile = synthetic_face_mesh(3, head_pose([0.0, 0.0, 1.6], [1.0, -0.05, 0.0]))
    assert len(render_faces(renderer, _view(cam), cam, [profile], templates, None, CFG).patches) == 1


def test_face_behind_a_nearer_depth_surface_is_not_drawn(renderer, templates, head_pose, make_camera):
    cam = make_camera()  # 1.2 m in front of the face
    face = synthetic_face_mesh(5, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    w, h = cam.color.size_wh
    wall = np.full((h, w), 2.5, np.float32)
    (p,) = render_faces(renderer, _view(cam, wall), cam, [face], templates, None, CFG).patches
    assert p.visible_fraction == 1.0
    # a surgical light 40 cm in front of the face (and around it) hides everything: no patch
    light = wall.copy()
    light[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 0.8
    hidden = render_faces(renderer, _view(cam, light), cam, [face], templates, None, CFG)
    assert hidden.patches == ()
    (o,) = hidden.outcomes
    assert o.status is RenderStatus.HIDDEN and o.visible_fraction < CFG.min_visible_fraction and not o.depth_doubt
    # an occluder over the image's left half: only the right half is drawn, never over the occluder
    half = wall.copy()
    half[:, : w // 2] = 0.8
    (p,) = render_faces(renderer, _view(cam, half), cam, [face], templates, None, CFG).patches
    assert 0.3 < p.visible_fraction < 0.7
    x0, y0 = p.origin_px
    ys, xs = np.nonzero(p.mask)
    assert xs.size > 0 and (xs + x0 >= w // 2).all()


def test_depth_holes_do_not_hide_a_face(renderer, templates, head_pose, make_camera, rng):
    cam = make_camera()
    face = synthetic_face_mesh(6, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    w, h = cam.color.size_wh
    (p,) = render_faces(renderer, _view(cam, np.zeros((h, w))), cam, [face], templates, None, CFG).patches
    assert p.visible_fraction == 1.0
    holes = np.full((h, w), 2.5, np.float32)
    holes[rng.random((h, w)) < 0.7] = 0.0
    (p,) = render_faces(renderer, _view(cam, holes), cam, [face], templates, None, CFG).patches
    assert p.visible_fraction == 1.0
    # the face's own measured surface (2 cm noise) does not hide it either
    own = np.zeros((h, w), np.float32)
    own[p.origin_px[1] : p.origin_px[1] + p.mask.shape[0], p.origin_px[0] : p.origin_px[0] + p.mask.shape[1]] = np.where(
        p.depth_m > 0, p.depth_m + rng.normal(0, 0.02, p.depth_m.shape), 0
    )
    (p2,) = render_faces(renderer, _view(cam, own), cam, [face], templates, None, CFG).patches
    assert p2.visible_fraction > 0.95


def test_rgb_only_camera_uses_other_bodies_as_occluders(renderer, templates, head_pose, make_camera, box_body):
    cam = make_camera()  # no depth
    face = synthetic_face_mesh(7, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    other = box_body(8, center=(0.0, -0.5, 1.6), size=(0.5, 0.3, 0.6))  # between camera and face
    assert render_faces(renderer, _view(cam), cam, [face], templates, Occluders(bodies=[other]), CFG).patches == ()
    # a face is never hidden by its own body, and without occluders it is drawn
    own = box_body(7, center=(0.0, -0.5, 1.6), size=(0.5, 0.3, 0.6))
    assert len(render_faces(renderer, _view(cam), cam, [face], templates, Occluders(bodies=[own]), CFG).patches) == 1
    assert len(render_faces(renderer, _view(cam), cam, [face], templates, None, CFG).patches) == 1
    # an arm-like box over the image's left half of the face: drawn only beside it
    arm = box_body(9, center=(-0.06, -0.4, 1.6), size=(0.12, 0.08, 0.5))
    (p,) = render_faces(renderer, _view(cam), cam, [face], templates, Occluders(bodies=[arm]), CFG).patches
    assert 0.2 < p.visible_fraction < 0.8
    uv, _ = project_world(cam, arm.vertices_world_m)
    ys, xs = np.nonzero(p.mask)
    assert (xs + p.origin_px[0] > uv[:, 0].max() - 1 - CFG.rgb_only_occluder_shrink_px).all()


def test_rgb_only_camera_uses_fused_point_cloud_as_occluder(renderer, templates, head_pose, make_camera):
    cam = make_camera()
    face = synthetic_face_mesh(10, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    g = np.arange(-0.3, 0.3, 0.01)
    xx, zz = np.meshgrid(g, g + 1.6)

    def plane(y: float) -> PointCloud:
        return PointCloud(np.column_stack([xx.ravel(), np.full(xx.size, y), zz.ravel()]).astype(np.float32))

    assert render_faces(renderer, _view(cam), cam, [face], templates, Occluders(point_cloud=plane(-0.5)), CFG).patches == ()
    (p,) = render_faces(renderer, _view(cam), cam, [face], templates, Occluders(point_cloud=plane(0.4)), CFG).patches
    assert p.visible_fraction == 1.0


def test_mask_covers_face_with_margin_and_box(renderer, templates, head_pose, make_camera):
    cam = make_camera()
    face = synthetic_face_mesh(11, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    (p,) = render_faces(renderer, _view(cam), cam, [face], templates, None, CFG).patches
    cover = p.depth_m > 0
    assert (p.mask >= cover).all() and p.mask.sum() > 1.2 * cover.sum()
    uv, _ = project_world(cam, face.vertices_world_m)
    x0, y0, x1, y1 = p.box_xyxy_px
    assert x0 < uv[:, 0].min() and y0 < uv[:, 1].min() and x1 > uv[:, 0].max() and y1 > uv[:, 1].max()
    assert p.rgb.shape[:2] == p.mask.shape and p.camera == "cam0" and p.track_id == 11


def test_view_of_another_camera_is_rejected(renderer, templates, head_pose, make_camera):
    from orscene.errors import ShapeError

    cam = make_camera()
    face = synthetic_face_mesh(1, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    with pytest.raises(ShapeError):
        render_faces(renderer, _view(make_camera(name="cam1")), cam, [face], templates, None, CFG).patches


def test_background_does_not_anchor_and_isolated_holes_do_not_leak(renderer, templates, head_pose, make_camera, rng):
    cam = make_camera()
    face = synthetic_face_mesh(12, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    w, h = cam.color.size_wh
    (free,) = render_faces(renderer, _view(cam), cam, [face], templates, None, CFG).patches
    wall = np.full((h, w), 2.5, np.float32)
    (p,) = render_faces(renderer, _view(cam, wall), cam, [face], templates, None, CFG).patches
    cover = p.depth_m > 0
    # the margin extends beyond the face also in front of a far wall (depth is unreliable at
    # silhouettes), but the wall's colour may not tint the face
    assert free.mask.sum() > 1.2 * cover.sum()
    np.testing.assert_array_equal(p.mask, free.mask)
    assert not p.anchor.any() and free.anchor[~free.mask].all()
    # an occluder over the left half, riddled with 1-pixel dropouts: nothing drawn over it
    half = wall.copy()
    half[:, : w // 2] = 0.8
    speck = (rng.random((h, w)) < 0.08) & (np.arange(w)[None, :] < w // 2 - 2)
    half[speck] = 0.0
    (p,) = render_faces(renderer, _view(cam, half), cam, [face], templates, None, CFG).patches
    ys, xs = np.nonzero(p.mask)
    assert (xs + p.origin_px[0] >= w // 2 - 1).all()


def test_rendering_is_unaffected_by_another_current_gl_context(renderer, templates, head_pose, make_camera):
    import moderngl

    cam = make_camera()
    face = synthetic_face_mesh(13, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    (ref,) = render_faces(renderer, _view(cam), cam, [face], templates, None, CFG).patches
    other = moderngl.create_standalone_context(backend=CFG.gl_backend)
    try:
        with other:  # e.g. a scene renderer's context left current
            (p,) = render_faces(renderer, _view(cam), cam, [face], templates, None, CFG).patches
    finally:
        other.release()
    np.testing.assert_array_equal(p.mask, ref.mask)
    np.testing.assert_array_equal(p.rgb, ref.rgb)


def test_depth_noise_specks_do_not_punch_holes_into_the_mask(renderer, templates, head_pose, make_camera, rng):
    cam = make_camera()
    face = synthetic_face_mesh(14, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    w, h = cam.color.size_wh
    (ref,) = render_faces(renderer, _view(cam), cam, [face], templates, None, CFG).patches
    depth = np.zeros((h, w), np.float32)
    x0, y0 = ref.origin_px
    win = depth[y0 : y0 + ref.mask.shape[0], x0 : x0 + ref.mask.shape[1]]
    win[ref.depth_m > 0] = ref.depth_m[ref.depth_m > 0]
    speck = (rng.random((h, w)) < 0.03) & (depth > 0)
    depth[speck] = 0.5  # flying pixels far in front of the face
    (p,) = render_faces(renderer, _view(cam, depth), cam, [face], templates, None, CFG).patches
    assert (p.mask >= (p.depth_m > 0)).all()  # every face pixel is still replaced


def test_face_cut_by_the_image_border_is_rendered_and_blended(renderer, templates, head_pose, make_camera):
    from orscene.render import blend_faces

    cam = make_camera()
    face = synthetic_face_mesh(15, head_pose([0.62, 0.0, 1.6], [0.0, -1.0, 0.0]))  # half outside on the right
    uv, _ = project_world(cam, face.vertices_world_m)
    assert uv[:, 0].max() > cam.color.width_px and uv[:, 0].min() < cam.color.width_px - 5
    (p,) = render_faces(renderer, _view(cam), cam, [face], templates, None, CFG).patches
    x0, _ = p.origin_px
    assert x0 + p.mask.shape[1] == cam.color.width_px and p.mask[:, -1].any()
    out, union = blend_faces(_view(cam).rgb, [p], CFG)
    assert union[:, -1].any() and union.sum() == p.mask.sum()


def test_point_cloud_occluder_edge_does_not_grow_by_the_splat(renderer, templates, head_pose, make_camera):
    cam = make_camera()
    face = synthetic_face_mesh(16, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    # a sheet 50 cm in front of the face covering world x < 0 (the image's left half), 1.5 cm spacing
    xx, zz = np.meshgrid(np.arange(-0.4, 0.0, 0.015), np.arange(1.3, 1.9, 0.015))
    sheet = PointCloud(np.column_stack([xx.ravel(), np.full(xx.size, -0.5), zz.ravel()]).astype(np.float32))
    cfg = dataclasses.replace(CFG, splat_radius_px=3, rgb_only_occluder_shrink_px=0)
    (p,) = render_faces(renderer, _view(cam), cam, [face], templates, Occluders(point_cloud=sheet), cfg).patches
    edge_u = project_world(cam, np.array([[xx.max(), -0.5, 1.6]]))[0][0, 0]
    ys, xs = np.nonzero(p.mask)
    u = xs + p.origin_px[0]
    assert u.min() >= edge_u - 1.0  # not drawn over the sheet
    visible_u = np.nonzero((p.depth_m > 0) & p.mask)[1] + p.origin_px[0]
    assert visible_u.min() <= edge_u + 2.0  # nor hidden beyond its edge
    # by default RGB-only occluders are shrunk by 2 px (privacy first at uncertain edges)
    (q,) = render_faces(renderer, _view(cam), cam, [face], templates, Occluders(point_cloud=sheet), CFG).patches
    qu = np.nonzero(q.mask)[1] + q.origin_px[0]
    assert edge_u - 3.0 <= qu.min() <= u.min() - 1


def test_depth_is_evidence_not_a_veto(renderer, templates, head_pose, make_camera):
    """Measured depth hides a face only where the occluder it implies is consistent: a
    constant 400 mm (a wall "in front of" everything), a surface spanning the whole view, or
    a blob exactly on the face and nowhere around it does not; the face is then drawn whole
    and the patch says why (the pipeline covers the head in 2D as well)."""
    cam = make_camera()  # 1.2 m in front of the face
    face = synthetic_face_mesh(5, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    w, h = cam.color.size_wh
    (ref,) = render_faces(renderer, _view(cam, np.full((h, w), 2.5)), cam, [face], templates, None, CFG).patches
    assert ref.visible_fraction == 1.0 and ref.depth_doubt == ""
    for depth, why in [
        (np.full((h, w), 0.4), "nearer than"),  # the faulty camera of the issue: constant 400 mm
        (np.full((h, w), 0.8), "spans"),  # one surface over the whole view
    ]:
        (p,) = render_faces(renderer, _view(cam, depth), cam, [face], templates, None, CFG).patches
        assert p.visible_fraction == 1.0 and why in p.depth_doubt
        np.testing.assert_array_equal(p.mask, ref.mask)  # drawn as if nothing were in front
    # a blob that fills the rendered face and nothing around it: the face measured 30 cm off
    blob = np.full((h, w), 2.5, np.float32)
    x0, y0 = ref.origin_px
    win = blob[y0 : y0 + ref.mask.shape[0], x0 : x0 + ref.mask.shape[1]]
    win[ref.depth_m > 0] = ref.depth_m[ref.depth_m > 0] - 0.3
    (p,) = render_faces(renderer, _view(cam, blob), cam, [face], templates, None, CFG).patches
    assert p.visible_fraction == 1.0 and "absent around" in p.depth_doubt


def test_a_view_whose_depth_is_implausible_as_a_whole_is_named():
    from orscene.render import depth_doubt

    rng = np.random.default_rng(0)
    scene = rng.uniform(1.5, 4.0, (120, 160)).astype(np.float32)
    assert depth_doubt(scene, CFG) == ""
    assert "nearer than" in depth_doubt(np.full((120, 160), 0.4, np.float32), CFG)
    assert "flat" in depth_doubt(np.full((120, 160), 2.0, np.float32) + rng.normal(0, 0.002, (120, 160)).astype(np.float32), CFG)
    assert depth_doubt(np.zeros((120, 160), np.float32), CFG) == ""  # nothing measured: nothing to judge
    # only the registered (non-zero) pixels count
    roi = np.zeros((120, 160), np.float32)
    roi[40:80, 60:100] = 0.4
    assert "nearer than" in depth_doubt(roi, CFG)


def test_an_occluder_another_camera_sees_through_does_not_hide_a_face(renderer, templates, head_pose, make_camera):
    """cam0's depth puts a surface 0.8 m in front of it (0.4 m before the face, reaching well
    around it). cam1, to the side, looks across that place: where it measures the far wall
    there, the surface is empty space and the face is drawn; where it measures something
    nearer (its view blocked), nothing contradicts the occluder and the face stays hidden."""
    cam = make_camera()  # at (0, -1.2, 1.6) looking at the face
    side = make_camera("cam1", eye=(1.2, -0.4, 1.6), target=(0.0, -0.4, 1.6))
    face = synthetic_face_mesh(5, head_pose([0.0, 0.0, 1.6], [0.0, -1.0, 0.0]))
    w, h = cam.color.size_wh
    light = np.full((h, w), 2.5, np.float32)
    light[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 0.8
    assert render_faces(renderer, _view(cam, light), cam, [face], templates, None, CFG).patches == ()
    blocked = (side, np.full((h, w), 0.5, np.float32))
    assert render_faces(renderer, _view(cam, light), cam, [face], templates, None, CFG, [blocked]).patches == ()
    through = (side, np.full((h, w), 3.0, np.float32))
    (p,) = render_faces(renderer, _view(cam, light), cam, [face], templates, None, CFG, [through]).patches
    assert p.visible_fraction == 1.0 and "seen through by cam1" in p.depth_doubt
    unknown = (side, np.zeros((h, w), np.float32))  # no depth there: nothing to say
    assert render_faces(renderer, _view(cam, light), cam, [face], templates, None, CFG, [unknown]).patches == ()
