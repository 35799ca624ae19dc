import numpy as np

from orscene.pipeline.config import OnError
from orscene.pipeline.process import _failed_frameset
from orscene.types import FaceSource, FrameSet, View


def _frameset():
    rgb = np.full((6, 8, 3), 200, np.uint8)
    return FrameSet(4, 123, {"a": View("a", rgb, 123), "b": View("b", rgb.copy(), 124)})


def test_withhold_writes_no_image_and_masks_everything():
    r = _failed_frameset(_frameset(), OnError.WITHHOLD, "boom")
    assert r.error == "boom"
    for v in r.views.values():
        assert v.rgb is None and v.status == "withheld" and v.mask.all() and v.faces == ()


def test_obscure_reports_the_whole_view():
    r = _failed_frameset(_frameset(), OnError.OBSCURE, "boom")
    for name, v in r.views.items():
        assert v.status == "obscured" and v.mask.all()
        (face,) = v.faces
        assert face.source is FaceSource.OBSCURED and face.box_xyxy_px == (-0.5, -0.5, 7.5, 5.5)
        assert (v.rgb < 200).all()  # darkened
