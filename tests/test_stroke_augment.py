"""Stroke-level augmentation of pen trajectories."""
import numpy as np

from digitdnn.data.stroke_augment import bounding_box as _box
from digitdnn.data.stroke_augment import distort_strokes


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
