"""Distortions of pen trajectories, and writing styles that MNIST lacks, for training on real handwriting.

`distort_strokes` changes how a digit was written while keeping what it is: slant, rotation,
aspect, a slow wobble of the hand, uneven pen speed (points resampled at a random spacing),
stroke ends that stop short (a loop that fails to close) or run on (an overshoot).

`add_style` adds the strokes with which people in many countries write some digits and that
MNIST's American writers rarely used: a slash or a dot inside a zero, a bar across a seven's
stem, a flag and a base on a one. Both take and return strokes in any units (y pointing down).
"""
from __future__ import annotations

import numpy as np

SLANT = (-0.25, 0.45)          # x moves by this times the height above the box's middle (rightward lean positive)
MAX_ROTATION_DEGREES = 10.0
MAX_ASPECT_LOG = 0.2           # width/height changed by up to exp(+-0.2)
WOBBLE = 0.03                  # amplitude of the hand's slow wobble, as a share of the digit's size
SPACING = (0.01, 0.06)         # distance between points after resampling, as a share of the digit's size
END_CHANGE = (-0.12, 0.08)     # each stroke end cut (negative) or extended, as a share of the stroke's length
STYLE_SHARE = 0.5              # of the digits that have a foreign style, how many get it in add_style


def _box(strokes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    every = np.concatenate(strokes)
    return every.min(axis=0), every.max(axis=0)


def _resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` units along a polyline (a lone point stays one)."""
    lengths = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    if len(points) < 2 or lengths[-1] == 0:
        return points[:1]
    at = np.linspace(0, lengths[-1], max(2, int(np.ceil(lengths[-1] / spacing)) + 1))
    return np.stack([np.interp(at, lengths, points[:, 0]), np.interp(at, lengths, points[:, 1])], axis=1)


def _change_ends(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cut or extend both ends of a resampled stroke by a random share of its length."""
    if len(points) < 6:
        return points
    for end in (0, 1):
        change = rng.uniform(*END_CHANGE)
        count = int(round(abs(change) * len(points)))
        if count == 0:
            continue
        if change < 0:
            points = points[count:] if end == 0 else points[:-count]
        else:
            tip, before = (points[0], points[1]) if end == 0 else (points[-1], points[-2])
            extra = tip + np.outer(np.arange(1, count + 1), tip - before)
            points = np.vstack([extra[::-1], points]) if end == 0 else np.vstack([points, extra])
    return points


def distort_strokes(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same digit written by a different hand: slanted, turned, stretched, wobbly, with loose ends."""
    low, high = _box(strokes)
    size = float(max((high - low).max(), 1e-6))
    middle = (low + high) / 2
    angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    aspect = np.exp(rng.uniform(-MAX_ASPECT_LOG, MAX_ASPECT_LOG))
    slant = rng.uniform(*SLANT)
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[aspect, -slant], [0.0, 1.0]])
    phase, frequency = rng.uniform(0, 2 * np.pi, (2, 2)), rng.uniform(0.5, 1.5, (2, 2))
    amplitude = rng.normal(0, WOBBLE, (2, 2))
    spacing = rng.uniform(*SPACING) * size
    out = []
    for stroke in strokes:
        unit = (np.asarray(stroke, np.float64) - middle) / size
        moved = unit @ linear.T
        for axis in range(2):
            for other in range(2):
                moved[:, axis] += amplitude[axis, other] * np.sin(frequency[axis, other] * np.pi * unit[:, other]
                                                                 + phase[axis, other])
        out.append(_change_ends(_resample(moved * size + middle, spacing), rng))
    return out


def _line(start, end, count: int = 16) -> np.ndarray:
    return np.linspace(np.asarray(start, np.float64), np.asarray(end, np.float64), count)


def _nearest_x_at(strokes: list[np.ndarray], y: float) -> float:
    """The x of the ink point whose y is closest to `y` (a stem's place at that height)."""
    every = np.concatenate(strokes)
    return float(every[np.argmin(np.abs(every[:, 1] - y)), 0])


def _slashed_zero(strokes, rng):
    (x0, y0), (x1, y1) = _box(strokes)
    w, h = x1 - x0, y1 - y0
    over = rng.uniform(0.0, 0.15)
    if rng.uniform() < 0.8:  # bottom left to top right
        slash = _line((x0 - over * w, y1 + over * h), (x1 + over * w, y0 - over * h))
    else:
        slash = _line((x0 - over * w, y0 - over * h), (x1 + over * w, y1 + over * h))
    return [*strokes, slash]


def _dotted_zero(strokes, rng):
    (x0, y0), (x1, y1) = _box(strokes)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + rng.normal(0, 0.04, 2) * (x1 - x0, y1 - y0)
    dash = rng.normal(0, 0.03, 2) * max(x1 - x0, y1 - y0)
    return [*strokes, _line(centre - dash, centre + dash, 3)]


def _barred_seven(strokes, rng):
    (x0, y0), (x1, y1) = _box(strokes)
    h = y1 - y0
    y = y0 + rng.uniform(0.45, 0.6) * h
    x = _nearest_x_at(strokes, y)
    half = rng.uniform(0.15, 0.3) * h
    tilt = rng.normal(0, 0.04) * h
    return [*strokes, _line((x - half, y + tilt), (x + half, y - tilt))]


def _flagged_one(strokes, rng):
    (x0, y0), (x1, y1) = _box(strokes)
    h = y1 - y0
    top = np.array([_nearest_x_at(strokes, y0), y0])
    flag_start = top + np.array([-rng.uniform(0.15, 0.35), rng.uniform(0.1, 0.3)]) * h
    flag = _line(flag_start, top)
    # The flag is written in the same stroke as the stem: join it to the stroke that starts at the top.
    starts_at_top = np.linalg.norm(strokes[0][0] - top) <= np.linalg.norm(strokes[0][-1] - top)
    first = strokes[0] if starts_at_top else strokes[0][::-1]
    styled = [np.vstack([flag, first]), *strokes[1:]]
    if rng.uniform() < 0.5:  # a base too
        bottom = np.array([_nearest_x_at(strokes, y1), y1])
        half = rng.uniform(0.15, 0.3) * h
        styled.append(_line(bottom - (half, 0), bottom + (half, 0)))
    return styled


STYLES = {0: (_slashed_zero, _dotted_zero), 1: (_flagged_one,), 7: (_barred_seven,)}


def add_style(strokes: list[np.ndarray], label: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The digit in a style MNIST lacks (slashed or dotted 0, flagged 1 with or without a base, barred 7),
    for STYLE_SHARE of the calls on those digits; other digits and calls come back unchanged."""
    styles = STYLES.get(int(label))
    if not styles or rng.uniform() >= STYLE_SHARE:
        return strokes
    return styles[rng.integers(len(styles))]([np.asarray(s, np.float64) for s in strokes], rng)
