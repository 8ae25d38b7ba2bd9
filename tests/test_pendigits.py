"""The pen digits: loading (and refusing bad files), the writer split, and drawing them as the canvas would."""
import numpy as np
import pytest

from digitdnn.data.pendigits import (
    PenDigits,
    PenDigitsError,
    calibration_indices,
    load_pen_digits,
    place_on_canvas,
    render_digit,
    split_by_writer,
)
from digitdnn.imaging.preprocess import ink_box, ink_map, stroke_width, to_mnist


def test_the_bundled_set_loads_whole(pen):
    assert len(pen) == 10464
    assert np.bincount(pen.label, minlength=10).min() > 900
    strokes = pen.strokes(0)
    assert strokes and all(s.ndim == 2 and s.shape[1] == 2 and len(s) >= 1 for s in strokes)
    assert sum(len(pen.strokes(i)) for i in range(len(pen))) == len(pen.stroke_starts) - 1


def _write(path, **changes):
    arrays = {"points": np.zeros((4, 2), np.float32), "stroke_starts": np.array([0, 2, 4]),
              "sample_starts": np.array([0, 1, 2]), "label": np.array([1, 7], np.uint8),
              "lab": np.array(["a", "a"]), "writer": np.array([1, 2], np.int32), "checked": np.array([True, False])}
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_a_well_formed_file_loads(tmp_path):
    digits = load_pen_digits(_write(tmp_path / "ok.npz"))
    assert isinstance(digits, PenDigits) and len(digits) == 2
    assert [len(s) for s in digits.strokes(1)] == [2]


@pytest.mark.parametrize("changes, message", [
    ({"writer": None}, "lacks the array"),
    ({"label": np.array([1, 12], np.uint8)}, "0-9"),
    ({"sample_starts": np.array([0, 2, 2])}, "sample_starts"),
    ({"stroke_starts": np.array([0, 3, 3])}, "stroke_starts"),
    ({"points": np.full((4, 2), np.nan, np.float32)}, "finite"),
    ({"lab": np.array(["a"])}, "disagree"),
])
def test_a_malformed_file_is_refused_with_a_reason(tmp_path, changes, message):
    with pytest.raises(PenDigitsError, match=message):
        load_pen_digits(_write(tmp_path / "bad.npz", **changes))


def test_an_unreadable_file_is_a_pen_digits_error(tmp_path):
    bad = tmp_path / "junk.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PenDigitsError, match="cannot read"):
        load_pen_digits(bad)
    with pytest.raises(PenDigitsError, match="cannot read"):
        load_pen_digits(tmp_path / "missing.npz")


def test_the_writer_split_keeps_every_writer_on_one_side(pen):
    train, held = split_by_writer(pen)
    calibration = calibration_indices(pen)
    assert len(train) + len(held) + len(calibration) == len(pen)
    assert len(np.union1d(np.union1d(train, held), calibration)) == len(pen)
    groups = [set(pen.writer[part]) for part in (train, held, calibration)]
    assert not groups[0] & groups[1] and not groups[0] & groups[2] and not groups[1] & groups[2]
    assert 0.05 < len(groups[2]) / len(set(pen.writer)) < 0.2
    assert 0.15 < len(set(pen.writer[held])) / len(set(pen.writer)) < 0.45
    assert set(pen.lab[held]) == set(pen.lab)  # every lab has writers on the held-out side
    again_train, _ = split_by_writer(pen)
    assert np.array_equal(train, again_train)  # fixed, not random


def test_a_digit_is_placed_fully_on_the_canvas_at_varied_size_and_pen(pen):
    rng = np.random.default_rng(0)
    sizes, brushes = [], []
    for i in range(0, 2000, 20):
        placed, brush = place_on_canvas(pen.strokes(i), rng)
        every = np.concatenate(placed)
        assert every.min() >= brush / 2 and every.max() <= 280 - brush / 2
        sizes.append((every.max(axis=0) - every.min(axis=0)).max())
        brushes.append(brush)
    assert min(sizes) < 0.4 * 280 and max(sizes) > 0.75 * 280
    assert min(brushes) < 12 and max(brushes) > 25


def test_a_rendered_digit_looks_like_a_canvas_drawing(pen):
    canvas = render_digit(pen.strokes(5), np.random.default_rng(1))
    assert canvas.shape == (280, 280, 4) and canvas.dtype == np.uint8
    assert (canvas[..., 3] == 255).all()  # an opaque black canvas with white ink
    ink = ink_map(canvas)
    top, left, bottom, right = ink_box(ink)
    assert 8 <= stroke_width(ink[top:bottom, left:right]) <= 36
    x = to_mnist(canvas)
    assert x.shape == (28, 28) and x.max() > 0.9


def test_a_subset_saves_and_loads_back_digit_for_digit(pen, tmp_path):
    picked = [5, 1, 900]
    path = tmp_path / "three.npz"
    pen.subset(picked).save(path)
    small = load_pen_digits(path)
    assert len(small) == 3 and list(small.label) == list(pen.label[picked])
    for new, old in zip(range(3), picked, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(small.strokes(new), pen.strokes(old), strict=True))
