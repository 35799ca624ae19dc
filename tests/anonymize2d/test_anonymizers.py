import numpy as np
import pytest

from orscene.anonymize2d import Anonymize2DConfig, AnonymizeMethod, anonymize_regions, box_to_mask
from orscene.errors import ConfigError, ShapeError


@pytest.fixture
def image(rng):
    img = rng.integers(0, 256, size=(64, 80, 3), dtype=np.uint8)
    return img


def test_box_to_mask_pixel_edges():
    m = box_to_mask((1.5, 2.5, 4.5, 3.5), 8, 8)  # columns 2..4, row 3
    assert m.sum() == 3 and m[3, 2:5].all()


def test_blur_changes_only_the_region(image):
    box = (20.5, 10.5, 40.5, 30.5)
    out, mask = anonymize_regions(image, [box], Anonymize2DConfig(method=AnonymizeMethod.BLUR, margin=0.0))
    assert mask.sum() == 20 * 20 and mask[11:31, 21:41].all()
    assert np.array_equal(out[~mask], image[~mask])
    # random noise blurred with a 61x61 kernel: far smoother than the original inside
    assert out[mask].astype(float).std() < 0.3 * image[mask].astype(float).std()


def test_blur_is_the_61x61_gaussian_of_the_whole_image(rng):
    """Inside the regions, the windowed blur equals OpenCV's 61x61 Gaussian blur of the whole
    image (to rounding), also where a region touches the image border."""
    import cv2

    img = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    boxes = [(0.5, 0.5, 50.5, 40.5), (150.5, 90.5, 230.5, 170.5), (200.5, 120.5, 299.5, 199.5)]
    out, mask = anonymize_regions(img, boxes, Anonymize2DConfig(method=AnonymizeMethod.BLUR, margin=0.0))
    ref = cv2.GaussianBlur(img, (61, 61), 0, borderType=cv2.BORDER_REFLECT101)
    assert np.abs(out[mask].astype(int) - ref[mask]).max() <= 1
    assert np.array_equal(out[~mask], img[~mask])


def test_pixelate_blockwise_constant(image):
    box = (7.5, 7.5, 39.5, 39.5)  # 32x32 px -> 8x8 blocks of 4x4
    out, mask = anonymize_regions(image, [box], Anonymize2DConfig(method=AnonymizeMethod.PIXELATE, margin=0.0))
    assert mask.sum() == 32 * 32
    face = out[8:40, 8:40].astype(int)
    blocks = face.reshape(8, 4, 8, 4, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()
    assert np.allclose(blocks[0, 0, 0, 0], image[8:12, 8:12].reshape(-1, 3).mean(0), atol=0.51)
    assert np.array_equal(out[~mask], image[~mask])


def test_black_zero_inside_unchanged_outside(image):
    region = np.zeros(image.shape[:2], dtype=bool)
    region[5:20, 50:70] = True
    region[40, 3] = True
    out, mask = anonymize_regions(image, [region], method=AnonymizeMethod.BLACK)
    assert np.array_equal(mask, region)
    assert (out[region] == 0).all()
    assert np.array_equal(out[~region], image[~region])


def test_box_margin_expands(image):
    _, mask = anonymize_regions(image, [(20.5, 20.5, 30.5, 30.5)], Anonymize2DConfig(method=AnonymizeMethod.BLACK, margin=0.2))
    assert mask.sum() == 14 * 14


def test_template_poisson_changes_only_mask(image):
    tpl = np.zeros((50, 40, 3), dtype=np.uint8)
    tpl[..., 0] = 200
    tpl[10:20, 5:15] = (30, 30, 220)
    base = np.full((64, 80, 3), 90, dtype=np.uint8)
    out, mask = anonymize_regions(base, [(20.5, 10.5, 50.5, 50.5)], Anonymize2DConfig(method=AnonymizeMethod.TEMPLATE, margin=0.0), template=tpl)
    assert np.array_equal(out[~mask], base[~mask])
    inside = out[mask].astype(int)
    assert np.abs(inside - 90).max() > 20  # template structure appears inside


def test_errors(image):
    with pytest.raises(ConfigError):
        anonymize_regions(image, [(1, 1, 5, 5)], method=AnonymizeMethod.TEMPLATE)
    with pytest.raises(ConfigError):
        anonymize_regions(image, [(1, 1, 5, 5)], Anonymize2DConfig(method=AnonymizeMethod.BLUR, blur_kernel_px=60))
    with pytest.raises(ShapeError):
        anonymize_regions(image[..., 0], [(1, 1, 5, 5)], method=AnonymizeMethod.BLACK)
    with pytest.raises(ShapeError):
        anonymize_regions(image, [np.zeros((3, 3), bool)], method=AnonymizeMethod.BLACK)


def test_no_regions_is_identity(image):
    out, mask = anonymize_regions(image, [], method=AnonymizeMethod.BLUR)
    assert np.array_equal(out, image) and not mask.any()
