"""The canvas's picture read without trusting it (its size from the PNG header, before decoding) and the drawing as
the class's store keeps it (greyscale on black, at most the canvas's size)."""
import base64
import io

import numpy as np
import pytest
from PIL import Image

from benchmarks.trust_canvas import blank_png
from digitdnn.imaging.canvas_png import (
    CANVAS_SIZE,
    DATA_URL_PREFIX,
    CanvasImageError,
    png_size,
    read_canvas_png,
    stored_picture,
)


def png_of(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(data: bytes) -> str:
    return DATA_URL_PREFIX + base64.b64encode(data).decode("ascii")


def a_stroke(side: int) -> np.ndarray:
    """White ink (a bar in the middle) on a transparent side x side canvas, RGBA."""
    image = np.zeros((side, side, 4), np.uint8)
    image[side * 3 // 10:side * 7 // 10, side * 4 // 10:side * 6 // 10] = 255
    return image


def test_the_size_comes_from_the_header_alone():
    header = blank_png(9000, 7000)[:33]  # signature and IHDR: no pixels at all
    assert png_size(data_url(header)) == (9000, 7000)


@pytest.mark.parametrize("value", [
    "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(40)).decode(),
    data_url(b"GIF89a" + bytes(40)),
    data_url(b"\x89PNG\r\n\x1a\n" + bytes(4) + b"IEND" + bytes(20)),  # a PNG whose first chunk is not IHDR
    data_url(b"\x89PNG"),
    DATA_URL_PREFIX + "#!not base64 at all#!#!#!#!#!#!#!#!",
    "", None, 42,
], ids=["a JPEG", "GIF bytes", "no IHDR first", "too short", "not base64", "empty", "None", "a number"])
def test_anything_but_a_png_data_url_is_refused(value):
    with pytest.raises(CanvasImageError):
        png_size(value)
    with pytest.raises(CanvasImageError):
        read_canvas_png(value, CANVAS_SIZE)


@pytest.mark.parametrize("width, height", [(9000, 9000), (281, 280), (280, 281), (279, 279), (560, 280),
                                           (4 * CANVAS_SIZE + 1, 4 * CANVAS_SIZE + 1), (0, 0)])
def test_a_picture_that_is_not_the_canvas_is_refused_before_it_is_decoded(width, height):
    header_only = data_url(blank_png(width, height)[:33])  # decoding it would fail: refused from the header
    with pytest.raises(CanvasImageError, match=f"{width} x {height} pixels"):
        read_canvas_png(header_only, CANVAS_SIZE)


def test_a_data_url_longer_than_the_cap_is_refused_unread():
    value = data_url(png_of(Image.fromarray(a_stroke(CANVAS_SIZE))))
    with pytest.raises(CanvasImageError, match="characters"):
        read_canvas_png(value, CANVAS_SIZE, max_chars=len(value) - 1)
    assert read_canvas_png(value, CANVAS_SIZE, max_chars=len(value)).shape == (CANVAS_SIZE, CANVAS_SIZE, 4)


def test_a_damaged_png_of_the_right_size_is_refused():
    whole = png_of(Image.fromarray(np.random.default_rng(0).integers(0, 256, (280, 280, 4), np.uint8)))
    with pytest.raises(CanvasImageError, match="unreadable"):
        read_canvas_png(data_url(whole[:len(whole) // 2]), CANVAS_SIZE)


def test_the_canvas_size_is_decoded_as_sent():
    drawing = a_stroke(CANVAS_SIZE)
    np.testing.assert_array_equal(read_canvas_png(data_url(png_of(Image.fromarray(drawing))), CANVAS_SIZE), drawing)


@pytest.mark.parametrize("ratio", [1.5, 2, 3, 4])
def test_a_picture_at_a_device_pixel_ratio_is_scaled_to_the_canvas(ratio):
    side = round(CANVAS_SIZE * ratio)
    image = read_canvas_png(data_url(png_of(Image.fromarray(a_stroke(side)))), CANVAS_SIZE)
    assert image.shape == (CANVAS_SIZE, CANVAS_SIZE, 4) and image.dtype == np.uint8
    middle, corner = image[CANVAS_SIZE // 2, CANVAS_SIZE // 2], image[5, 5]
    assert list(middle) == [255, 255, 255, 255] and corner[3] == 0


def test_a_grey_or_rgb_png_reads_as_rgba():
    grey = np.zeros((CANVAS_SIZE, CANVAS_SIZE), np.uint8)
    grey[100:180, 120:160] = 255
    image = read_canvas_png(data_url(png_of(Image.fromarray(grey))), CANVAS_SIZE)
    assert image.shape == (CANVAS_SIZE, CANVAS_SIZE, 4)
    np.testing.assert_array_equal(image[..., 0], grey)


def test_the_stored_drawing_is_grey_on_black_whatever_hides_under_transparent_pixels():
    rng = np.random.default_rng(1)
    drawing = rng.integers(0, 256, (CANVAS_SIZE, CANVAS_SIZE, 4), np.uint8)  # random colours ...
    drawing[..., 3] = 0                                                     # ... none of them showing
    drawing[100:180, 120:160] = 255                                         # but a white bar
    picture = stored_picture(drawing)
    assert picture.mode == "L" and picture.size == (CANVAS_SIZE, CANVAS_SIZE)
    pixels = np.asarray(picture)
    assert pixels[100:180, 120:160].min() == 255 and np.delete(pixels, np.s_[100:180], axis=0).max() == 0


def test_a_stored_drawing_larger_than_the_canvas_is_shrunk_to_it():
    picture = stored_picture(a_stroke(1100))
    assert picture.size == (CANVAS_SIZE, CANVAS_SIZE) and np.asarray(picture)[CANVAS_SIZE // 2, CANVAS_SIZE // 2] == 255
    wide_ink = np.full((300, 600), 255, np.uint8)  # a photo's ink, grey, wider than high
    assert stored_picture(wide_ink).size == (CANVAS_SIZE, CANVAS_SIZE // 2)


def test_the_correction_stores_a_few_kb_of_grey_at_the_canvas_size():
    from digitdnn.ui.correction import png_bytes

    padded = np.random.default_rng(2).integers(0, 256, (1100, 1100, 4), np.uint8)  # issue 21: ~4 MB as sent
    padded[..., 3] = 0
    padded[300:800, 450:650] = 255
    stored = png_bytes(padded)
    assert stored is not None and len(stored) < 8_000, len(stored)
    with Image.open(io.BytesIO(stored)) as picture:
        assert picture.mode == "L" and picture.size == (CANVAS_SIZE, CANVAS_SIZE)
    assert png_bytes(None) is None
