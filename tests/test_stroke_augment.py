"""Stroke-level augmentation and foreign writing styles on pen trajectories."""
import numpy as np
import pytest

from digitdnn.data.stroke_augment import STYLES, add_style, distort_strokes


def _box(strokes):
    every = np.concatenate(strokes)
    return every.min(axis=0), every.max(axis=0)


def test_a_distorted_digit_moves_but_keeps_its_size_and_place(pen):
    rng = np.random.default_rng(0)
    for i in range(0, 3000, 150):
        strokes = pen.strokes(i)
        low, high = _box(strokes)
        size = (high - low).max()
        moved = distort_strokes(strokes, rng)
        assert len(moved) == len(strokes)
        new_low, new_high = _box(moved)
        assert 0.5 * size < (new_high - new_low).max() < 1.8 * size
        assert np.abs((new_low + new_high) / 2 - (low + high) / 2).max() < 0.5 * size
        assert not np.allclose(np.concatenate(moved)[:5], np.concatenate(strokes)[:5])


def test_distortion_is_seeded(pen):
    strokes = pen.strokes(7)
    first = distort_strokes(strokes, np.random.default_rng(5))
    again = distort_strokes(strokes, np.random.default_rng(5))
    other = distort_strokes(strokes, np.random.default_rng(6))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(a.shape == b.shape and np.allclose(a, b) for a, b in zip(first, other, strict=True))


def test_loose_ends_cut_and_extend_strokes():
    from digitdnn.data.stroke_augment import _change_ends

    rng = np.random.default_rng(1)
    line = np.stack([np.arange(50.0), np.zeros(50)], 1)
    changed = [_change_ends(line, rng) for _ in range(200)]
    spans = np.array([np.ptp(c[:, 0]) for c in changed])
    assert (spans < 49 * 0.95).any() and (spans > 49 * 1.05).any()  # loops left open, and overshoots
    assert all(np.allclose(c[:, 1], 0) for c in changed)  # an overshoot carries on in the stroke's direction
    assert spans.min() > 49 * 0.7


@pytest.mark.parametrize("label", sorted(STYLES))
def test_styles_add_their_strokes_to_their_digits_only(pen, label):
    rng = np.random.default_rng(2)
    index = int(np.flatnonzero(pen.label == label)[0])
    strokes = pen.strokes(index)
    styled = [add_style(strokes, label, rng) for _ in range(40)]
    changed = [s for s in styled if len(s) != len(strokes) or len(np.concatenate(s)) != len(np.concatenate(strokes))]
    assert 8 < len(changed) < 32  # about half of the calls give the style
    low, high = _box(strokes)
    size = (high - low).max()
    for s in changed:  # the style's strokes stay near the digit
        new_low, new_high = _box(s)
        assert (new_low > low - 0.5 * size).all() and (new_high < high + 0.5 * size).all()


def test_digits_without_a_foreign_style_are_unchanged(pen):
    rng = np.random.default_rng(3)
    for label in (2, 3, 4, 5, 6, 8, 9):
        strokes = pen.strokes(int(np.flatnonzero(pen.label == label)[0]))
        assert add_style(strokes, label, rng) is strokes


def test_a_slashed_zero_has_a_stroke_crossing_its_middle(pen):
    from digitdnn.data.stroke_augment import _slashed_zero

    zero = pen.strokes(int(np.flatnonzero(pen.label == 0)[0]))
    low, high = _box(zero)
    slash = _slashed_zero(zero, np.random.default_rng(4))[-1]
    middle = (low + high) / 2
    assert np.linalg.norm(slash - middle, axis=1).min() < 0.1 * (high - low).max()
    assert np.ptp(slash[:, 0]) > 0.9 * (high - low)[0] and np.ptp(slash[:, 1]) > 0.9 * (high - low)[1]
