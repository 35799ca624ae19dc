"""The one box type (orscene.types.Box): its pixel-edge convention, IoU/IoA and NMS."""

import json
import pickle

import numpy as np
import pytest

from orscene.errors import ShapeError
from orscene.types import Box, FaceBox, FacePatch, boxes_array, nms, pairwise_intersection, pairwise_ioa, pairwise_iou


def test_box_is_a_tuple_of_four_floats():
    b = Box(1, 2, np.float32(3.5), np.int64(4))
    assert b == (1.0, 2.0, 3.5, 4.0) and isinstance(b, tuple)
    assert all(type(v) is float for v in b)
    x0, y0, x1, y1 = b
    assert (x0, y1) == (1.0, 4.0) and b[2] == 3.5 and tuple(b) == (1.0, 2.0, 3.5, 4.0)
    assert hash(b) == hash((1.0, 2.0, 3.5, 4.0))
    assert json.loads(json.dumps(b)) == [1.0, 2.0, 3.5, 4.0]
    assert pickle.loads(pickle.dumps(b)) == b and type(pickle.loads(pickle.dumps(b))) is Box
    assert np.asarray(b).shape == (4,)
    assert Box.of([1, 2, 3, 4]) == Box.of(np.array([1.0, 2, 3, 4])) == Box(1, 2, 3, 4)
    with pytest.raises(ShapeError):
        Box.of((1, 2, 3))


def test_pixel_edge_convention():
    # pixel c spans [c - 0.5, c + 0.5]; the whole 4 x 3 image is (-0.5, -0.5, 3.5, 2.5)
    img = Box.image(4, 3)
    assert img == (-0.5, -0.5, 3.5, 2.5) and img.area == 12.0
    assert img.pixel_range(4, 3) == (0, 0, 4, 3)
    # one pixel
    assert Box.from_pixel_range(2, 1, 3, 2) == (1.5, 0.5, 2.5, 1.5)
    assert Box.from_pixel_range(2, 1, 3, 2).area == 1.0
    # pixels lying wholly inside: (0, 0, 3, 1.5) holds columns 1, 2 and row 1 only
    assert Box(0.0, 0.0, 3.0, 1.5).pixel_range(10, 10) == (1, 1, 3, 2)
    # within 1e-9 px an edge counts as on the pixel's edge
    assert Box(0.5 + 1e-10, 0.5 - 1e-10, 2.5 - 1e-10, 2.5).pixel_range(10, 10) == (1, 1, 3, 3)
    assert Box(0.5 + 1e-6, 0.5, 2.5, 2.5).pixel_range(10, 10) == (2, 1, 3, 3)
    # clipped to the image
    assert Box(-10, -10, 100, 100).pixel_range(8, 6) == (0, 0, 8, 6)
    # round trip for every half-open range
    for c0, r0, c1, r1 in [(0, 0, 1, 1), (3, 5, 17, 9), (0, 0, 640, 480)]:
        assert Box.from_pixel_range(c0, r0, c1, r1).pixel_range(640, 480) == (c0, r0, c1, r1)


def test_box_to_mask_and_crops_follow_the_pixel_range():
    from orscene.anonymize2d import box_to_mask
    from orscene.evaluate.metrics import box_coverage

    box = Box(1.2, 0.7, 4.5, 3.9)
    c0, r0, c1, r1 = box.pixel_range(8, 6)
    assert (c0, r0, c1, r1) == (2, 2, 5, 4)  # rows 2, 3 span [1.5, 3.5], inside [0.7, 3.9]
    mask = box_to_mask(box, 6, 8)
    want = np.zeros((6, 8), bool)
    want[r0:r1, c0:c1] = True
    assert np.array_equal(mask, want)
    assert box_coverage(box, mask) == 1.0
    half = want.copy()
    half[r0] = False
    assert box_coverage(box, half) == 0.5


def test_around_mask_and_face_patch_box():
    m = np.zeros((5, 6), bool)
    assert Box.around_mask(m) is None
    m[1, 2] = m[3, 4] = True
    assert Box.around_mask(m) == (1.5, 0.5, 4.5, 3.5)
    assert Box.around_mask(m).pixel_range(6, 5) == (2, 1, 5, 4)
    patch = FacePatch("c", 0, (10, 20), np.zeros((5, 6, 3), np.uint8), m, np.zeros((5, 6), np.float32), 1.0)
    assert patch.box_xyxy_px == (11.5, 20.5, 14.5, 23.5) and isinstance(patch.box_xyxy_px, Box)
    empty = FacePatch("c", 0, (10, 20), np.zeros((5, 6, 3), np.uint8), np.zeros((5, 6), bool), np.zeros((5, 6), np.float32), 1.0)
    assert empty.box_xyxy_px == (10.0, 20.0, 10.0, 20.0) and empty.box_xyxy_px.is_empty


def test_geometry_helpers():
    b = Box(0, 0, 10, 20)
    assert (b.width, b.height, b.area, b.center) == (10.0, 20.0, 200.0, (5.0, 10.0))
    assert b.expanded(0.1) == (-1.0, -2.0, 11.0, 22.0)
    assert Box(-3, 2, 50, 9).clipped(40, 8) == (-0.5, 2.0, 39.5, 7.5)
    assert b.contains(10, 0) and not b.contains(10.01, 5)
    assert b.overlaps((9, 19, 30, 30)) and not b.overlaps((10, 0, 20, 20))  # touching edges do not
    assert b.union((5, -5, 12, 3)) == (0, -5, 12, 20)


def test_empty_boxes():
    e = Box(5, 5, 5, 9)  # zero width
    inv = Box(10, 10, 4, 4)  # inverted
    assert e.is_empty and inv.is_empty and not Box(0, 0, 1, 1).is_empty
    assert e.area == 0.0 and inv.area == 0.0
    assert e.pixel_range(20, 20)[2] <= e.pixel_range(20, 20)[0]
    full = Box(0, 0, 20, 20)
    assert e.iou(full) == 0.0 and inv.iou(full) == 0.0 and inv.iou(inv) == 0.0
    assert e.ioa(full) == 0.0 and full.ioa(e) == 0.0
    assert pairwise_iou([], [full]).shape == (0, 1) and pairwise_iou([full], []).shape == (1, 0)
    assert boxes_array([]).shape == (0, 4)
    with pytest.raises(ShapeError):
        boxes_array([[1, 2, 3]])


def test_iou_ioa_known_answers():
    a = Box(0, 0, 10, 10)
    others = [(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30), (0, 0, 10, 5), (2, 2, 4, 4), (10, 0, 20, 10)]
    np.testing.assert_allclose(pairwise_iou([a], others)[0], [1.0, 50 / 150, 0.0, 0.5, 0.04, 0.0])
    # IoA: the share of ``a`` inside each other box; not symmetric
    np.testing.assert_allclose(pairwise_ioa([a], others)[0], [1.0, 0.5, 0.0, 0.5, 0.04, 0.0])
    np.testing.assert_allclose(pairwise_ioa(others, [a])[:, 0], [1.0, 0.5, 0.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(pairwise_intersection([a], others)[0], [100, 50, 0, 50, 4, 0])
    assert a.iou((5, 0, 15, 10)) == pytest.approx(1 / 3) and Box(2, 2, 4, 4).ioa(a) == 1.0


def test_vectorised_agrees_with_scalar(rng):
    xy = rng.uniform(-20, 100, (30, 2))
    wh = rng.uniform(0, 40, (30, 2))
    wh[:3] = 0  # a few empty boxes
    arr = np.concatenate([xy, xy + wh], axis=1)
    boxes = [Box(*r) for r in arr]
    iou, ioa = pairwise_iou(arr[:12], arr), pairwise_ioa(boxes[:12], boxes)
    assert iou.shape == ioa.shape == (12, 30)
    for i in range(12):
        for j in range(30):
            assert iou[i, j] == boxes[i].iou(boxes[j]) and ioa[i, j] == boxes[i].ioa(boxes[j])
            # by hand
            ix = max(0.0, min(arr[i, 2], arr[j, 2]) - max(arr[i, 0], arr[j, 0]))
            iy = max(0.0, min(arr[i, 3], arr[j, 3]) - max(arr[i, 1], arr[j, 1]))
            union = boxes[i].area + boxes[j].area - ix * iy
            assert iou[i, j] == pytest.approx(ix * iy / union if union > 0 else 0.0, abs=1e-12)
    np.testing.assert_array_equal(iou[:, :12], iou[:, :12].T)


def test_nms_greedy_and_weighted():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 12], [20, 20, 30, 30], [21, 20, 31, 30]], float)
    scores = np.array([0.9, 0.3, 0.8, 0.85])
    kps = np.arange(8, dtype=float).reshape(4, 1, 2)
    kept, ks, kk = nms(boxes, scores, 0.3, attached=kps)
    np.testing.assert_array_equal(kept, boxes[[0, 3]])
    np.testing.assert_array_equal(ks, [0.9, 0.85])
    np.testing.assert_array_equal(kk, kps[[0, 3]])
    wb, ws, wk = nms(boxes, scores, 0.3, weighted=True, attached=kps)
    np.testing.assert_allclose(wb[0], [0, 0, 10, (10 * 0.9 + 12 * 0.3) / 1.2])
    np.testing.assert_allclose(wb[1], [(21 * 0.85 + 20 * 0.8) / 1.65, 20, (31 * 0.85 + 30 * 0.8) / 1.65, 30])
    np.testing.assert_allclose(ws, [0.9, 0.85])
    np.testing.assert_allclose(wk[0, 0], (kps[0, 0] * 0.9 + kps[1, 0] * 0.3) / 1.2)
    # a higher threshold keeps the two overlapping boxes apart
    assert len(nms(boxes, scores, 0.95)[0]) == 4
    # nothing in, nothing out; a zero-area box still forms its own cluster
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.3)[0].shape == (0, 4)
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.3, weighted=True)[0].shape == (0, 4)
    wb, ws, _ = nms([[5, 5, 5, 5], [0, 0, 10, 10]], [0.9, 0.5], 0.3, weighted=True)
    np.testing.assert_array_equal(wb, [[5, 5, 5, 5], [0, 0, 10, 10]])
    with pytest.raises(ShapeError):
        nms(boxes, scores[:2], 0.3)


def test_face_box_holds_a_box():
    f = FaceBox(3, "cam0", 1, [0, 1, 10.5, 20])
    assert isinstance(f.box_xyxy_px, Box) and f.box_xyxy_px == (0.0, 1.0, 10.5, 20.0)
    assert f.area_px == 10.5 * 19
    x0, y0, x1, y1 = f.box_xyxy_px
    assert (x0, y1) == (0.0, 20.0)
    for bad in [(0, 0, -1, 5), (0, 0, np.nan, 5), (1, 2, 3)]:
        with pytest.raises(ShapeError):
            FaceBox(0, "c", -1, bad)
