"""Compositing rendered faces: Poisson blending changes only masked pixels, and places them right."""

import dataclasses

import cv2
import numpy as np
import pytest

from orscene.errors import ShapeError
from orscene.render import BlendMode, RenderConfig, blend_faces, render_faces, synthetic_face_mesh
from orscene.render.blend import solve_poisson
from orscene.types import FacePatch, View

CFG = RenderConfig()


def _textured_image(rng, w=160, h=120) -> np.ndarray:
    """A smooth random colour field with some structure (stands in for a photo)."""
    small = rng.integers(40, 220, (6, 8, 3)).astype(np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(img.astype(int) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)


def _faces_in(renderer, templates, head_pose, make_camera, rgb, centers):
    cam = make_camera()
    faces = [synthetic_face_mesh(i, head_pose(c, [0.0, -1.0, 0.0])) for i, c in enumerate(centers)]
    return render_faces(renderer, View(cam.name, rgb, 0), cam, faces, templates, None, CFG).patches


@pytest.mark.parametrize("mode", [BlendMode.POISSON, BlendMode.OPENCV, BlendMode.PASTE])
def test_blending_changes_only_pixels_inside_the_masks(renderer, templates, head_pose, make_camera, rng, mode):
    rgb = _textured_image(rng)
    patches = _faces_in(renderer, templates, head_pose, make_camera, rgb, [(-0.25, 0.0, 1.6), (0.25, 0.1, 1.6)])
    assert len(patches) == 2
    out, union = blend_faces(rgb, patches, dataclasses.replace(CFG, blend=mode))
    expected = np.zeros(union.shape, bool)
    for p in patches:
        x0, y0 = p.origin_px
        expected[y0 : y0 + p.mask.shape[0], x0 : x0 + p.mask.shape[1]] |= p.mask
    np.testing.assert_array_equal(union, expected)
    np.testing.assert_array_equal(out[~union], rgb[~union])
    changed = np.abs(out.astype(int) - rgb).sum(-1) > 10
    assert changed[union].mean() > 0.5  # the face really replaced what was there
    assert rgb is not out and rgb.dtype == out.dtype == np.uint8


@pytest.mark.parametrize("mode", [BlendMode.POISSON, BlendMode.OPENCV])
def test_poisson_of_the_image_itself_is_the_image(rng, mode):
    """A patch whose colours are the image's own (also at the image border) leaves it
    unchanged: the clone is placed at the right pixels."""
    rgb = _textured_image(rng)
    for x0, y0 in [(50, 40), (0, 0), (160 - 30, 120 - 25)]:
        mask = np.zeros((25, 30), bool)
        mask[3:-3, 4:-4] = True
        patch = FacePatch("cam0", 0, (x0, y0), rgb[y0 : y0 + 25, x0 : x0 + 30].copy(), mask, np.ones((25, 30), np.float32), 1.0)
        out, union = blend_faces(rgb, [patch], dataclasses.replace(CFG, blend=mode))
        assert union.sum() == mask.sum()
        assert np.abs(out.astype(int) - rgb).max() <= 3


def test_solve_poisson_known_answers(rng):
    dst = rng.uniform(0, 255, (20, 24, 3)).astype(np.float32)
    mask = np.zeros((20, 24), bool)
    mask[4:15, 5:19] = True
    # src = dst + constant has dst's gradients: the solution is dst
    np.testing.assert_allclose(solve_poisson(dst + 40.0, dst, mask), dst, atol=1e-2)
    # a constant border and a linear ramp inside give a harmonic (linear) result
    yy, xx = np.mgrid[0:20, 0:24].astype(np.float32)
    ramp = np.repeat((2.0 * xx)[..., None], 3, -1)
    full = np.ones((20, 24), bool)
    np.testing.assert_allclose(solve_poisson(ramp + 7.0, ramp, full), ramp, atol=1e-2)
    # the result inside the mask is harmonic where the guidance is flat
    flat = np.zeros_like(dst)
    out = solve_poisson(flat, dst, mask)
    lap = out[5:14, 6:18, 0] * -4 + out[4:13, 6:18, 0] + out[6:15, 6:18, 0] + out[5:14, 5:17, 0] + out[5:14, 7:19, 0]
    np.testing.assert_allclose(lap, 0.0, atol=1e-2)


def test_own_solver_agrees_with_opencv_seamless_clone(renderer, templates, head_pose, make_camera, rng):
    rgb = _textured_image(rng)
    patches = _faces_in(renderer, templates, head_pose, make_camera, rgb, [(0.0, 0.0, 1.6)])
    own, union = blend_faces(rgb, patches, CFG)
    ocv, _ = blend_faces(rgb, patches, dataclasses.replace(CFG, blend=BlendMode.OPENCV))
    a, b = own[union].astype(float), ocv[union].astype(float)
    # the same structure; OpenCV discretises the guidance at the mask border per pixel
    # (not per edge), which shifts the level by up to ~15 grey levels here
    assert np.abs(a.mean(0) - b.mean(0)).max() < 20.0
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_nearer_face_is_composited_on_top(renderer, templates, head_pose, make_camera, rng):
    rgb = _textured_image(rng)
    cam = make_camera()
    far = synthetic_face_mesh(0, head_pose([0.0, 0.3, 1.6], [0.0, -1.0, 0.0]))
    near = synthetic_face_mesh(1, head_pose([0.03, -0.3, 1.6], [0.0, -1.0, 0.0]))
    cfg = dataclasses.replace(CFG, blend=BlendMode.PASTE)
    p_far, p_near = render_faces(renderer, View(cam.name, rgb, 0), cam, [far, near], templates, None, cfg).patches
    for order in ([p_far, p_near], [p_near, p_far]):
        out, _ = blend_faces(rgb, order, cfg)
        x0, y0 = p_near.origin_px
        m = p_near.mask
        np.testing.assert_array_equal(out[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]][m], p_near.rgb[m])


def test_patch_outside_the_image_is_rejected(rng):
    rgb = _textured_image(rng)
    patch = FacePatch("cam0", 0, (150, 100), np.zeros((30, 30, 3), np.uint8), np.ones((30, 30), bool), np.ones((30, 30), np.float32), 1.0)
    with pytest.raises(ShapeError):
        blend_faces(rgb, [patch], CFG)


def test_background_does_not_tint_the_blended_face():
    """Boundary pixels marked as not anchoring (background) do not pull the face's colour."""
    from orscene.render.renderer import RenderedFacePatch

    H, W = 40, 60
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[:, :30] = (250, 250, 250)  # bright wall on the left
    rgb[:, 30:] = (180, 120, 90)  # skin on the right
    mask = np.zeros((30, 40), bool)
    mask[5:25, 5:35] = True
    src = np.full((30, 40, 3), (150, 100, 80), np.uint8)
    x0, y0 = 10, 5
    anchor = np.zeros((30, 40), bool)
    anchor[:, 20:] = True  # image columns >= 30: the skin
    anchor &= ~mask
    depth = np.ones((30, 40), np.float32)
    plain = FacePatch("cam0", 0, (x0, y0), src, mask, depth, 1.0)
    anchored = RenderedFacePatch("cam0", 0, (x0, y0), src, mask, depth, 1.0, anchor=anchor)
    full = dataclasses.replace(CFG, interior_harmonization=1.0)
    out_plain, _ = blend_faces(rgb, [plain], full)
    out_anch, _ = blend_faces(rgb, [anchored], full)
    left = (slice(y0 + 8, y0 + 17), slice(x0 + 6, x0 + 12))
    # plain Poisson drifts towards the wall on the left; anchored stays at the skin's colour
    assert out_plain[left].astype(float).mean() > 200
    np.testing.assert_allclose(out_anch[y0 + 5 : y0 + 25, x0 + 5 : x0 + 35].reshape(-1, 3).mean(0), (180, 120, 90), atol=6)

    # interior_harmonization 0: the template's own colour deep inside, the skin's at the border
    keep, _ = blend_faces(rgb, [anchored], dataclasses.replace(CFG, interior_harmonization=0.0))
    centre, border = keep[y0 + 15, x0 + 20].astype(float), keep[y0 + 15, x0 + 34].astype(float)
    src_c, skin = np.array([150.0, 100, 80]), np.array([180.0, 120, 90])
    assert np.abs(centre - src_c).max() < 0.3 * np.abs(skin - src_c).max()
    np.testing.assert_allclose(border, skin, atol=8)
