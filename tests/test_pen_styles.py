"""Writing styles drawn from a digit's own strokes: each changes its digit only, for its share, as it says."""
import numpy as np
import pytest

from digitdnn.data import pen_styles
from digitdnn.data.pen_styles import STYLES, add_style
from digitdnn.data.stroke_augment import bounding_box


def _first(pen, label: int, n: int = 0) -> list[np.ndarray]:
    return [np.asarray(s, np.float64) for s in pen.strokes(int(np.flatnonzero(pen.label == label)[n]))]


def _changed(before, after) -> bool:
    return len(before) != len(after) or any(a.shape != b.shape or not np.allclose(a, b)
                                            for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("label", sorted({style.label for style in STYLES}))
def test_each_digit_gets_its_styles_for_their_share(pen, label):
    rng = np.random.default_rng(2)
    strokes = _first(pen, label)
    calls = 400
    changed = sum(_changed(strokes, add_style(strokes, label, rng)) for _ in range(calls))
    share = sum(style.share for style in STYLES if style.label == label)
    assert abs(changed / calls - share) < 0.08


def test_digits_without_a_style_come_back_unchanged(pen):
    rng = np.random.default_rng(3)
    for label in sorted(set(range(10)) - {style.label for style in STYLES}):
        strokes = pen.strokes(int(np.flatnonzero(pen.label == label)[0]))
        assert add_style(strokes, label, rng) is strokes


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
def test_a_style_stays_near_its_digit(pen, style):
    rng = np.random.default_rng(4)
    for n in range(10):
        strokes = _first(pen, style.label, n)
        low, high = bounding_box(strokes)
        size = (high - low).max()
        new_low, new_high = bounding_box(style.draw(strokes, rng))
        assert (new_low > low - size).all() and (new_high < high + size).all()


def test_crossed_zeros_cross_the_middle_at_every_length_and_angle(pen):
    rng = np.random.default_rng(5)
    zero = _first(pen, 0)
    beyond, leans = [], []
    for _ in range(200):
        styled = pen_styles.crossed_zero(zero, rng)
        oval, slash = styled[:-1], styled[-1]
        low, high = bounding_box(oval)
        assert np.linalg.norm(slash - (low + high) / 2, axis=1).min() < 0.2 * (high - low).max()
        height = high[1] - low[1]
        beyond.append(max(low[1] - slash[:, 1].min(), slash[:, 1].max() - high[1]) / height)
        (x0, y0), (x1, y1) = slash[0], slash[-1]
        leans.append(np.degrees(np.arctan2(x1 - x0, y0 - y1)))
    assert min(beyond) < 0 and max(beyond) > 0.3          # from inside the oval to far beyond it
    assert min(np.abs(leans)) < 5 and max(np.abs(leans)) > 45   # upright like a phi, and diagonal


def test_a_long_flag_one_leads_into_its_stem_in_one_stroke(pen):
    rng = np.random.default_rng(6)
    one = _first(pen, 1)
    low, high = bounding_box(one)
    height = high[1] - low[1]
    flags = []
    for _ in range(100):
        styled = pen_styles.long_flag_one(one, rng)
        start = styled[0][0]
        assert start[0] < low[0] + 0.05 * height and start[1] > low[1]   # begins left of the stem, below its top
        flags.append(np.linalg.norm(start - styled[0][16]) / height)
        assert len(styled) in (len(one), len(one) + 1)                    # the flag joins the stem; maybe a base
    assert max(flags) > 0.7 and min(flags) < 0.3


def test_a_slanted_one_leans_right(pen):
    one = _first(pen, 1)
    slanted = pen_styles.slanted_one(one, np.random.default_rng(7))
    every, before = np.concatenate(slanted), np.concatenate(one)
    top, foot = every[np.argmin(every[:, 1])], every[np.argmax(every[:, 1])]
    height = np.ptp(before[:, 1])
    assert top[0] - foot[0] > np.tan(np.radians(15)) * height * 0.8 + (before[np.argmin(before[:, 1]), 0]
                                                                        - before[np.argmax(before[:, 1]), 0])


def test_a_curved_tail_nine_ends_left_of_its_foot(pen):
    rng = np.random.default_rng(8)
    for n in range(10):
        nine = _first(pen, 9, n)
        styled = pen_styles.curved_tail_nine(nine, rng)
        low, high = bounding_box(nine)
        ends = [point for s in styled for point in (s[0], s[-1])]
        lowest_end = max(ends, key=lambda point: point[1])
        foot = max(((s[0] if s[0][1] > s[-1][1] else s[-1]) for s in nine), key=lambda point: point[1])
        assert lowest_end[0] < foot[0] or min(ends, key=lambda point: point[0])[0] < foot[0] - 0.1 * (high - low)[0]
