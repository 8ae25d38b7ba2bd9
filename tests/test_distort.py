"""digitdnn.imaging.distort: each distortion keeps shape and range and does what its name says."""
import numpy as np
import pytest

from digitdnn.imaging.distort import centre_of_mass, distort, resize_whole_canvas
from digitdnn.imaging.preprocess import grow


@pytest.fixture
def digit(small_mnist) -> np.ndarray:
    return small_mnist.x_test[0].astype(np.float32) / 255  # a 7


def ink_box(image, level=0.5):
    rows = np.flatnonzero((image >= level).any(axis=1))
    cols = np.flatnonzero((image >= level).any(axis=0))
    return rows[0], cols[0], rows[-1] + 1, cols[-1] + 1


@pytest.mark.parametrize("settings", [{}, {"dx": 3.5, "dy": -2}, {"scale": 0.4}, {"scale": 1.6}, {"degrees": 37},
                                      {"thicken": 2}, {"thicken": -1}, {"dx": 9, "scale": 1.3, "degrees": -120,
                                                                         "thicken": 0.75}])
def test_shape_type_and_range_are_kept(digit, settings):
    out = distort(digit, **settings)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


def test_no_distortion_gives_the_image_back(digit):
    np.testing.assert_allclose(distort(digit), digit, atol=1e-5)


def test_whole_pixel_shifts_move_the_image(digit):
    out = distort(digit, dx=3, dy=-2)
    expected = np.zeros_like(digit)
    expected[:-2, 3:] = digit[2:, :-3]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    cx, cy = centre_of_mass(digit)
    assert centre_of_mass(out) == pytest.approx((cx + 3, cy - 2), abs=1e-3)


def test_rotation_is_counterclockwise_about_the_centre_of_mass():
    image = np.zeros((28, 28), np.float32)  # two dots symmetric about the centre (14, 14): not symmetric under 90°
    image[6, 12:14], image[21, 14:16] = 1.0, 1.0
    assert centre_of_mass(image) == pytest.approx((14.0, 14.0))
    np.testing.assert_allclose(distort(image, degrees=90), np.rot90(image), atol=1e-4)  # np.rot90: counterclockwise
    np.testing.assert_allclose(distort(image, degrees=-90), np.rot90(image, -1), atol=1e-4)


def test_scaling_shrinks_and_grows_the_ink_about_its_centre(digit):
    top, left, bottom, right = ink_box(digit)
    small = distort(digit, scale=0.5)
    s_top, s_left, s_bottom, s_right = ink_box(small, level=0.25)
    assert (s_bottom - s_top) == pytest.approx((bottom - top) / 2, abs=2)
    assert (s_right - s_left) == pytest.approx((right - left) / 2, abs=2)
    assert small.sum() == pytest.approx(digit.sum() / 4, rel=0.15)
    assert centre_of_mass(small) == pytest.approx(centre_of_mass(digit), abs=0.5)
    assert distort(digit, scale=1.3).sum() > 1.4 * digit.sum()


def test_thicken_and_thin_change_the_pen(digit):
    np.testing.assert_allclose(distort(digit, thicken=1), np.clip(grow(digit, 1), 0, 1), atol=1e-5)
    assert distort(digit, thicken=1).sum() > 1.5 * digit.sum()
    assert distort(digit, thicken=-0.5).sum() < 0.8 * digit.sum()


def test_bad_input_is_refused(digit):
    with pytest.raises(ValueError, match="28, 28"):
        distort(np.zeros((20, 20), np.float32))
    with pytest.raises(ValueError, match="scale"):
        distort(digit, scale=0)


def test_whole_canvas_resize_keeps_place_and_ink_share():
    ink = np.zeros((280, 280), np.float32)
    ink[20:120, 200:240] = 1.0  # a stroke in the top-right corner, a tenth of the canvas high
    small = resize_whole_canvas(ink)
    assert small.shape == (28, 28) and small.dtype == np.float32
    assert small.mean() == pytest.approx(ink.mean(), rel=1e-4)
    assert (small[2:12, 20:24] == 1).all() and small[14:].sum() == 0
