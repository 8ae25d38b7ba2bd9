"""to_mnist and preprocess_steps: MNIST's steps on canvas drawings of any size, place, pen and polarity."""
from pathlib import Path

import numpy as np
import pytest

from digitdnn.imaging.brush import render
from digitdnn.imaging.preprocess import (
    MAX_INK_SHARE,
    PEN_RANGE,
    drawing_problem,
    preprocess_steps,
    stroke_width,
    to_mnist,
)
from testkit.strokes import load_drawings, load_templates, smooth_stroke

TEMPLATES = {(t.label, t.style): t for t in load_templates(Path(__file__).parent / "data" / "stroke_templates.json")}
WHITE, BLACK, CLEAR = (255, 255, 255, 255), (0, 0, 0, 255), (0, 0, 0, 0)


def digit_strokes(label=2, style="plain", height=200.0, left=60.0, top=40.0):
    """A template's strokes placed on a canvas: `height` pixels high, top-left corner at (left, top)."""
    return [smooth_stroke(s) * height + (left, top) for s in TEMPLATES[(label, style)].strokes]


def draw(strokes=None, canvas=(280, 280), brush=18.0, ink=WHITE, background=BLACK):
    """An RGBA canvas with the strokes painted (the default: a 2 filling most of a 280x280 canvas)."""
    return render(digit_strokes() if strokes is None else strokes, canvas=canvas, brush=brush,
                  ink=ink, background=background)


def centre_of_mass(image):
    rows, cols = np.indices(image.shape)
    mass = image.sum()
    return (rows * image).sum() / mass, (cols * image).sum() / mass


def correlation(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def box_extent(image, level=0.5):
    """(height, width) of the pixels at or above `level`."""
    rows = np.flatnonzero(image.max(axis=1) >= level)
    cols = np.flatnonzero(image.max(axis=0) >= level)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.fixture(scope="module")
def mnist_widths(mnist):
    """stroke_width of 1,000 MNIST test digits: the range a normalised drawing must fall in."""
    return np.array([stroke_width(x) for x in mnist.x_test[:1000].astype(np.float32) / 255.0])


def test_output_is_a_28x28_white_on_black_float_image():
    image = to_mnist(draw())
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.max() > 0.9
    assert image[0].max() == 0 and image[:, 0].max() == 0 and image[-1].max() == 0 and image[:, -1].max() == 0


def test_centre_of_mass_and_box_as_mnist():
    for label, style in [(1, "stick"), (2, "plain"), (4, "closed"), (7, "crossbar"), (0, "round")]:
        image = to_mnist(draw(digit_strokes(label, style, height=150, left=30, top=90)))
        row, col = centre_of_mass(image)
        assert abs(row - 14) < 0.5 and abs(col - 14) < 0.5, (label, style, row, col)
        assert max(box_extent(image)) in (19, 20, 21), (label, style)


@pytest.mark.parametrize("variant", ["black_on_white", "coloured", "transparent_white", "transparent_black",
                                     "grey_2d", "rgb"])
def test_polarity_and_format_do_not_matter(variant):
    reference = to_mnist(draw())
    canvases = {
        "black_on_white": lambda: draw(ink=BLACK, background=WHITE),
        "coloured": lambda: draw(ink=(200, 30, 60, 255), background=(250, 250, 210, 255)),
        "transparent_white": lambda: draw(ink=WHITE, background=CLEAR),
        "transparent_black": lambda: draw(ink=BLACK, background=CLEAR),
        "grey_2d": lambda: 255 - draw()[:, :, 0],
        "rgb": lambda: draw(ink=(20, 20, 160, 255), background=WHITE)[:, :, :3],
    }
    image = to_mnist(canvases[variant]())
    assert image is not None
    assert np.abs(image - reference).max() < 0.1


@pytest.mark.parametrize("height, left, top", [(90, 5, 5), (120, 150, 150), (270, 70, 5), (150, 0, 60)])
def test_size_and_place_do_not_matter(height, left, top):
    reference = to_mnist(draw(digit_strokes(3, "round", height=200, left=60, top=40)))
    image = to_mnist(draw(digit_strokes(3, "round", height=height, left=left, top=top), brush=12))
    assert correlation(image, reference) > 0.9


def test_pen_width_is_normalised_to_mnist(mnist_widths):
    low, high = np.percentile(mnist_widths, [5, 95])
    assert np.percentile(mnist_widths, 25) < PEN_RANGE[0] < PEN_RANGE[1] < high  # MNIST's own pens
    widths = []
    for brush in (6, 10, 20, 30, 40):
        image = to_mnist(draw(digit_strokes(5, "two_strokes", height=200, left=60, top=40), brush=brush))
        widths.append(stroke_width(image))
        assert low <= widths[-1] <= high, (brush, widths[-1], low, high)
    assert max(widths) - min(widths) < 0.8, widths
    # unnormalised, a 40 px pen would be 40 * 20 / 240 = 3.3 MNIST pixels and a 6 px one 0.5
    hairline = to_mnist(draw(digit_strokes(5, "two_strokes", height=500, left=100, top=80), canvas=(700, 700),
                             brush=1))
    assert low <= stroke_width(hairline) <= high


def test_mnist_digits_come_through_nearly_unchanged(small_mnist):
    """MNIST digits already went through these steps: doing them again changes little."""
    digits = small_mnist.x_test[:200]
    images = [to_mnist(d) for d in digits]
    assert all(image is not None for image in images)
    correlations = [correlation(image, digit) for image, digit in zip(images, digits, strict=True)]
    assert np.median(correlations) > 0.85


def test_steps_are_consistent():
    canvas = draw(brush=18)
    steps = preprocess_steps(canvas)
    assert steps.ink.shape == (280, 280) and steps.ink.dtype == np.float32
    top, left, bottom, right = steps.box
    assert 0 <= top < bottom <= 280 and 0 <= left < right <= 280
    assert (steps.ink >= 0.5).sum() == (steps.ink[top:bottom, left:right] >= 0.5).sum()
    np.testing.assert_array_equal(steps.cropped, steps.ink[top:bottom, left:right])
    assert steps.scaled.shape == (20, 20)
    assert max(box_extent(steps.scaled)) in (19, 20)
    np.testing.assert_array_equal(steps.centred, to_mnist(canvas))
    assert 14 < steps.stroke_width < 20  # an 18 px round brush, measured


@pytest.mark.parametrize("canvas", [
    np.zeros((280, 280, 4), np.uint8),                       # untouched, transparent
    np.full((280, 280, 4), 255, np.uint8),                   # solid white
    np.full((200, 300), 30, np.uint8),                       # solid grey
], ids=["transparent", "white", "grey"])
def test_blank_canvas_gives_none(canvas):
    assert to_mnist(canvas) is None
    assert preprocess_steps(canvas) is None


def test_a_dot_or_a_few_pixels_give_none():
    assert to_mnist(draw([[(140, 140)]], brush=20)) is None           # a click
    assert to_mnist(draw([[(140, 140), (146, 143)]], brush=20)) is None  # a click with a wobble
    few = np.zeros((280, 280), np.uint8)
    few[100, 100:104] = 255
    assert to_mnist(few) is None


def test_faint_ink_gives_none():
    assert to_mnist(draw(ink=(20, 20, 20, 255))) is None
    assert to_mnist(draw(ink=(255, 255, 255, 25), background=CLEAR)) is None
    noise = np.random.default_rng(0).integers(0, 20, size=(280, 280), dtype=np.uint8)
    assert to_mnist(noise) is None


def test_a_single_line_is_a_centred_upright_stroke():
    image = to_mnist(draw([[(140, 40), (140, 240)]], brush=15))
    row, col = centre_of_mass(image)
    assert abs(row - 14) < 0.5 and abs(col - 14) < 0.5
    height, width = box_extent(image)
    assert height in (19, 20, 21) and width <= 4


def test_a_digit_touching_the_canvas_edge():
    strokes = digit_strokes(7, "plain", height=300, left=-20, top=-10)  # cut off at the top and left
    image = to_mnist(draw(strokes, brush=25))
    row, col = centre_of_mass(image)
    assert abs(row - 14) < 0.5 and abs(col - 14) < 0.5
    assert max(box_extent(image)) in (19, 20, 21)


def test_non_square_canvas():
    reference = to_mnist(draw(digit_strokes(4, "open", height=200, left=60, top=40)))
    image = to_mnist(draw(digit_strokes(4, "open", height=250, left=200, top=25), canvas=(400, 300), brush=20))
    assert correlation(image, reference) > 0.9


def test_huge_scribble_does_not_raise():
    rng = np.random.default_rng(1)
    scribble = [rng.uniform(0, 280, size=(60, 2))]
    for brush in (10, 40, 90):
        image = to_mnist(draw(scribble, brush=brush))
        assert image is not None and image.shape == (28, 28)
        row, col = centre_of_mass(image)
        assert abs(row - 14) < 0.5 and abs(col - 14) < 0.5
    almost_full = np.full((280, 280), 255, np.uint8)
    almost_full[:3] = 0
    image = to_mnist(almost_full)
    assert image is None or image.shape == (28, 28)


def test_bad_input_raises_clear_errors():
    with pytest.raises(TypeError):
        to_mnist(np.zeros((28, 28), np.float64))
    with pytest.raises(ValueError):
        to_mnist(np.zeros((28, 28, 2), np.uint8))


# ---- drawings that are not digits ----------------------------------------------------------------------------

PAGE_BACKGROUND = (0, 0, 0)  # the page's canvas background


def filled_canvas(fill=0, alpha=255) -> np.ndarray:
    image = np.zeros((280, 280, 4), np.uint8)
    image[..., :3] = fill
    image[..., 3] = alpha
    return image


def scribble(margin: int) -> np.ndarray:
    """Back-and-forth strokes of a 40 px brush over the canvas, `margin` px from its edges."""
    rows = range(margin, 280 - margin, 15)
    points = [[x, y] for i, y in enumerate(rows) for x in ((margin, 280 - margin) if i % 2 == 0
                                                              else (280 - margin, margin))]
    return render([np.array(points, np.float32)], brush=40)


@pytest.mark.parametrize("name, image, reason", [
    ("blank", filled_canvas(), None),
    ("transparent", filled_canvas(alpha=0), None),
    ("a click", render([np.array([[140, 140], [140.5, 140]], np.float32)], brush=20), "a dot"),
    ("a fat click", render([np.array([[100, 90], [104, 93]], np.float32)], brush=40), "a dot"),
    ("a speck", render([np.array([[20, 20], [22, 21]], np.float32)], brush=6), "a dot"),
    ("filled with ink", filled_canvas(fill=255), "covers most of the canvas"),
    ("scribbled over", scribble(margin=10), "covers most of the canvas"),
    ("scribbled, margins left", scribble(margin=40), "covers most of the canvas"),
])
def test_drawings_that_are_not_digits_get_a_reason_not_a_guess(name, image, reason):
    problem = drawing_problem(image, PAGE_BACKGROUND)
    if reason is None:
        assert problem is None and preprocess_steps(image) is None
    else:
        assert problem is not None and reason in problem and problem.endswith("."), problem
    if reason == "a dot":
        assert preprocess_steps(image) is None and drawing_problem(image) == problem


def test_small_and_thin_real_digits_are_not_flagged():
    short_one = render([np.array([[140, 115], [140, 165]], np.float32)], brush=20)
    thin_one = render([np.array([[140, 120], [140, 160]], np.float32)], brush=8)
    for image in (short_one, thin_one):
        assert drawing_problem(image, PAGE_BACKGROUND) is None and preprocess_steps(image) is not None


def test_no_stroke_drawing_or_redrawn_mnist_digit_is_flagged(mnist):
    from benchmarks.drawings import STROKE_DRAWINGS, redraw_mnist

    flagged = [d.label for d in load_drawings(STROKE_DRAWINGS) if drawing_problem(d.render(), PAGE_BACKGROUND)]
    assert flagged == []
    rng = np.random.default_rng(11)
    shares = []
    for digit in mnist.x_test[:400]:
        image = redraw_mnist(digit, rng)
        assert drawing_problem(image, PAGE_BACKGROUND) is None and drawing_problem(image) is None
        shares.append(float((image[..., 0] > 127).mean()))
    assert max(shares) < MAX_INK_SHARE * 0.8  # a margin to the limit, not a coincidence
