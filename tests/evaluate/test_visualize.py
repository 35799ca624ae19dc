import numpy as np
import pytest

from orscene.errors import ShapeError
from orscene.evaluate.visualize import GREEN, GREY, RED, draw_evaluation
from orscene.types import FaceBox, FaceSource


def test_draw_evaluation_colours():
    img = np.zeros((60, 80, 3), np.uint8)
    found = FaceBox(0, "a", 1, (9.5, 9.5, 19.5, 19.5))
    missed = FaceBox(0, "a", 2, (39.5, 9.5, 49.5, 19.5))
    ignored = FaceBox(0, "a", -1, (9.5, 39.5, 19.5, 49.5), ignore=True)
    pred = FaceBox(0, "a", -1, (9.5, 9.5, 19.5, 19.5), score=0.9, source=FaceSource.HEAD_2D)
    mask = np.zeros((60, 80), bool)
    mask[30:, 60:] = True
    out = draw_evaluation(img, [found, missed, ignored], [], mask)
    assert tuple(out[10, 40]) == RED and tuple(out[40, 10]) == GREY
    assert out[50, 70, 2] > 80 and out[5, 5].sum() == 0  # mask tinted, the rest untouched
    out = draw_evaluation(img, [found, missed], [pred])
    assert tuple(out[15, 11]) == GREEN and tuple(out[10, 40]) == RED
    assert img.sum() == 0  # input not modified
    with pytest.raises(ShapeError):
        draw_evaluation(img, [], [], np.zeros((5, 5), bool))
