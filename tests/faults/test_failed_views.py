"""The pipeline's side of a bad input file (issue 16, item 4), without running it: a view
listed in ``FrameSet.failed`` is written obscured or withheld, named in the audit entry."""

import numpy as np

from orscene.pipeline.config import OnError
from orscene.pipeline.frameset import FramesetResult
from orscene.pipeline.outputs import OutputLayout
from orscene.pipeline.process import _failed_frameset, _with_failed_views, _write_frameset
from orscene.types import FaceSource, FrameSet, View, ViewFailure


def _fs() -> FrameSet:
    rgb = np.full((6, 8, 3), 200, np.uint8)
    failed = {
        "bad_rgb": ViewFailure("bad_rgb", "/in/bad_rgb/color/000004.jpg", "truncated JPEG (no end-of-image marker)", (10, 4)),
        "bad_depth": ViewFailure("bad_depth", "/in/bad_depth/depth/000004.png", "depth image is an empty file", (8, 6), rgb.copy()),
    }
    return FrameSet(4, 123, {"good": View("good", rgb, 123)}, failed)


def test_failed_views_are_obscured_and_named(tmp_path):
    fs = _fs()
    good = FramesetResult(4, 123, {"good": "placeholder"}, ())
    r = _with_failed_views(good, fs, OnError.OBSCURE)
    assert r.views["good"] == "placeholder"
    rgb_fail, depth_fail = r.views["bad_rgb"], r.views["bad_depth"]
    assert rgb_fail.status == depth_fail.status == "obscured"
    assert rgb_fail.rgb.shape == (4, 10, 3) and (rgb_fail.rgb == 64).all()  # nothing of an unreadable image to show
    assert depth_fail.rgb.shape == (6, 8, 3) and (depth_fail.rgb < 200).all()  # the readable colour, darkened and pixelated
    for v, f in ((rgb_fail, fs.failed["bad_rgb"]), (depth_fail, fs.failed["bad_depth"])):
        assert v.mask.all() and v.file == f.path and v.reason == f.reason
        (face,) = v.faces
        assert face.source is FaceSource.OBSCURED and face.frame == 4
    entry, faces = _write_frameset(
        _with_failed_views(FramesetResult(4, 123, {}, ()), fs, OnError.OBSCURE), OutputLayout(tmp_path), images=True
    )
    assert entry["views"]["bad_rgb"]["file"] == "/in/bad_rgb/color/000004.jpg"
    assert entry["views"]["bad_depth"]["reason"] == "depth image is an empty file"
    assert (tmp_path / "images" / "bad_rgb" / "000004.jpg").is_file() and len(faces) == 2


def test_failed_views_are_withheld_on_request():
    r = _with_failed_views(FramesetResult(4, 123, {}, ()), _fs(), OnError.WITHHOLD)
    for v in r.views.values():
        assert v.status == "withheld" and v.rgb is None and v.mask.all() and v.faces == () and v.file


def test_a_failing_frameset_keeps_its_failed_views():
    r = _failed_frameset(_fs(), OnError.OBSCURE, "boom")
    assert sorted(r.views) == ["bad_depth", "bad_rgb", "good"] and r.error == "boom"
    assert r.views["good"].reason == "boom" and r.views["good"].file == ""
    assert r.views["bad_rgb"].file.endswith("000004.jpg")
