"""Depth-to-colour registration: known answers on synthetic cameras, and the real Azure
Kinect recording's mug edges."""

import cv2
import numpy as np
import pytest

from orscene.errors import ShapeError
from orscene.geometry.camera import project_cam
from orscene.geometry.depth_registration import (
    DepthRegistrationConfig,
    prepare_depth_registration,
    register_depth_to_color,
)
from orscene.recording.mkv import MkvReader
from orscene.types import Camera, Intrinsics


def _cam(color: Intrinsics, depth: Intrinsics, cam_from_depth: np.ndarray) -> Camera:
    return Camera("c", color, np.eye(4), depth, cam_from_depth)


def _intr(w, h, f, dist=None):
    return Intrinsics(np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]]), dist, w, h)


def test_identity_registration_is_exact():
    intr = _intr(64, 48, 60.0)
    depth = np.full((48, 64), 2000, np.uint16)
    out = register_depth_to_color(depth, _cam(intr, intr, np.eye(4)), DepthRegistrationConfig(splat_2x2=False))
    assert out.dtype == np.float32 and out.shape == (48, 64)
    np.testing.assert_allclose(out, 2.0, atol=1e-6)


def test_translation_along_z_and_fronto_parallel_plane():
    """A plane at 2 m seen by a depth sensor 0.1 m behind the colour camera: the colour
    camera sees it at 1.9 m, and the plane's points land where project() puts them."""
    col = _intr(80, 60, 70.0, [0.05, -0.01, 0, 0, 0, 0, 0, 0])
    dep = _intr(40, 30, 45.0, [0.02, 0, 0, 0, 0, 0, 0, 0])
    T = np.eye(4)
    T[2, 3] = -0.1
    cam = _cam(col, dep, T)
    out = register_depth_to_color(np.full((30, 40), 2.0, np.float32), cam)
    valid = out > 0
    assert valid[15:45, 20:60].all()
    np.testing.assert_allclose(out[valid], 1.9, atol=1e-5)
    # one depth pixel: it lands on the 2x2 colour pixels around project(cam_from_depth @ unproject(pixel))
    from orscene.geometry.camera import unproject_px

    single = np.zeros((30, 40), np.float32)
    single[7, 31] = 2.0
    out = register_depth_to_color(single, cam)
    p = unproject_px(dep, np.array([31.0, 7.0]), np.array(2.0)) + [0, 0, -0.1]
    uv, z = project_cam(col, p)
    ys, xs = np.nonzero(out)
    assert sorted(set(xs)) == [int(np.floor(uv[0])), int(np.floor(uv[0])) + 1]
    assert sorted(set(ys)) == [int(np.floor(uv[1])), int(np.floor(uv[1])) + 1]
    np.testing.assert_allclose(out[ys, xs], z, atol=1e-5)


def test_z_buffer_nearest_wins():
    intr = _intr(32, 24, 30.0)
    T = np.eye(4)
    T[0, 3] = 0.05  # colour camera 5 cm to the left: parallax makes near and far overlap
    depth = np.full((24, 32), 3.0, np.float32)
    depth[:, 12:20] = 1.0  # a near bar
    out = register_depth_to_color(depth, _cam(intr, intr, T), DepthRegistrationConfig(fill_gaps=False))
    # the bar shifts right by f * tx / z = 1.5 px, the background by 0.5 px: where both land, 1 m wins
    uv_bar, _ = project_cam(intr, np.array([[(12 - 15.5) / 30 * 1.0, 0, 1.0]]) + [0.05, 0, 0])
    col = int(np.floor(uv_bar[0, 0])) + 1
    assert out[12, col] == pytest.approx(1.0)
    assert out[12, 2] == pytest.approx(3.0) and out[12, 28] == pytest.approx(3.0)


def test_gap_fill_closes_holes_but_does_not_grow_edges():
    from orscene.geometry.depth_registration import _fill_single_pixel_gaps

    d = np.zeros((7, 7), np.float32)
    d[1:6, 1:6] = 2.0
    d[3, 3] = 0.0  # a hole inside
    out = _fill_single_pixel_gaps(d)
    assert out[3, 3] == 2.0
    assert (out[0] == 0).all() and (out[:, 0] == 0).all() and (out[6] == 0).all()


def test_wrong_depth_size_raises():
    intr = _intr(32, 24, 30.0)
    with pytest.raises(ShapeError):
        register_depth_to_color(np.ones((10, 10), np.uint16), _cam(intr, intr, np.eye(4)))


@pytest.fixture(scope="module")
def mug(shared_data):
    r = MkvReader(shared_data / "azure_kinect" / "recording.mkv")
    f = r.read(0)
    return r.camera, f.rgb, f.depth_mm


def _left_edge_offsets(rgb: np.ndarray, depth_m: np.ndarray) -> np.ndarray:
    """Per image row across the mug's left side (rows 430..589, columns 230..369): the
    colour edge is the gradient peak of the first strong horizontal gradient (the wall is
    smooth; the mug's silhouette is the first strong edge from the left); the depth edge
    is the first column from which at least 6 of 8 pixels are nearer than 0.5 m (the mug is
    at ~0.27 m, the wall at ~0.77 m). Returns depth edge minus colour edge, pixels."""
    gray = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (5, 5), 0).astype(np.float32)
    gx = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0))
    x0, x1 = 230, 370
    out = []
    for y in range(430, 590, 2):
        strong = np.nonzero(gx[y, x0:x1] > 25)[0]
        assert strong.size, f"no colour edge in row {y}"
        s = strong[0]
        cx = x0 + s + int(np.argmax(gx[y, x0 + s : x0 + s + 6]))
        fg = ((depth_m[y, x0:x1] > 0) & (depth_m[y, x0:x1] < 0.5)).astype(int)
        dense = np.convolve(fg, np.ones(8, int), "valid") >= 6
        out.append(x0 + int(np.argmax(dense)) - 0.5 - cx if dense.any() else np.inf)
    return np.array(out)


def test_real_mug_depth_edge_meets_colour_edge(mug, tmp_path):
    """The registered depth's silhouette of the mug coincides with its colour silhouette.

    How it was checked: per row across the mug's left side, the first dense run of
    near (< 0.5 m) registered depth is compared with the colour gradient peak of the mug's
    outline (see ``_left_edge_offsets``). Correct registration: median offset ~0.5 px
    (measured), required <= 2 px. The same measure on the registered depth shifted by
    10 px gives ~10 px, and with the extrinsics inverted (wrong direction) or the
    translation dropped it fails completely, so the check is sensitive. An overlay
    (colour with depth tint and Canny edges) is saved to /tmp for a human look."""
    cam, rgb, depth_mm = mug
    reg = prepare_depth_registration(cam)
    d = register_depth_to_color(depth_mm, reg)
    assert d.shape == (720, 1280) and d.dtype == np.float32
    assert 0.2 < np.median(d[d > 0]) < 3.7
    off = _left_edge_offsets(rgb, d)
    assert np.isfinite(off).mean() > 0.9
    assert abs(np.median(off)) <= 2.0
    for shift in (-10, 10):
        shifted = _left_edge_offsets(rgb, np.roll(d, shift, axis=1))
        assert abs(np.median(shifted) - shift) <= 2.5 and abs(np.median(shifted)) >= 8
    inv = Camera(cam.name, cam.color, cam.world_from_cam, cam.depth, np.linalg.inv(cam.cam_from_depth))
    wrong = _left_edge_offsets(rgb, register_depth_to_color(depth_mm, inv))
    assert not (abs(np.median(wrong)) <= 2.0)
    tint = cv2.applyColorMap((np.clip(d / 1.5, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
    overlay = np.where(d[..., None] > 0, (rgb * 0.5 + tint * 0.5).astype(np.uint8), rgb)
    overlay[cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 50, 150) > 0] = 255
    cv2.imwrite("/tmp/orscene_mug_registration_overlay.png", overlay[:, :, ::-1])


def test_real_registration_keeps_depth_values(mug):
    """Registered depth is the same surface: the colour-frame z of the mug's depth points
    differs from the raw depth by the small extrinsic (~4 mm, 5 deg)."""
    cam, rgb, depth_mm = mug
    d = register_depth_to_color(depth_mm, cam)
    assert 0.24 < np.median(d[450:550, 320:420][d[450:550, 320:420] > 0]) < 0.30  # the mug at ~27 cm
    assert (d == 0)[:, :150].mean() > 0.9  # left of the depth field of view: nothing


def test_regions_of_interest_equal_the_whole_registration(mug, rng):
    """Registering only colour boxes gives, inside each box, exactly the whole
    registration's values (bit for bit) and 0 elsewhere: boxes of every size, at the image
    borders and partly outside, on the real close-range scene (the mug at 27 cm, so the
    depth-to-colour parallax is large)."""
    cam, rgb, depth_mm = mug
    reg = prepare_depth_registration(cam)
    full = register_depth_to_color(depth_mm, reg)
    W, H = cam.color.size_wh
    boxes = [(0, 0, 40, 30), (W - 17, H - 300, W + 20, H + 5), (300, 400, 420, 600), (640, 0, 641, 720)]
    boxes += [(int(x), int(y), int(x + rng.integers(1, 400)), int(y + rng.integers(1, 300))) for x, y in zip(rng.integers(-50, W, 40), rng.integers(-50, H, 40))]
    for b in boxes:
        roi = register_depth_to_color(depth_mm, reg, roi_px=[b])
        m = np.zeros((H, W), bool)
        m[max(0, b[1]) : max(0, b[3]), max(0, b[0]) : max(0, b[2])] = True
        np.testing.assert_array_equal(roi[m], full[m], err_msg=str(b))
        assert not roi[~m].any()
    two = register_depth_to_color(depth_mm, reg, roi_px=[boxes[2], (380, 500, 700, 650)])
    both = np.zeros((H, W), bool)
    both[400:600, 300:420] = both[500:650, 380:700] = True
    np.testing.assert_array_equal(two[both], full[both])
    assert (full[both] > 0).mean() > 0.5
    assert not register_depth_to_color(depth_mm, reg, roi_px=[]).any()
    assert not register_depth_to_color(np.zeros_like(depth_mm), reg, roi_px=[(0, 0, W, H)]).any()
