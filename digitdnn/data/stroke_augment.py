"""Distortions of pen trajectories, for training on real handwriting.

`distort_strokes` changes how a digit was written while keeping what it is: slant, rotation,
aspect, a slow wobble of the hand, uneven pen speed (points resampled at a random spacing),
stroke ends that stop short (a loop that fails to close) or run on (an overshoot). Strokes in
any units (y pointing down). Writing styles are digitdnn.data.pen_styles.
"""
from __future__ import annotations

import numpy as np

SLANT = (-0.25, 0.45)          # x moves by this times the height above the box's middle (rightward lean positive)
MAX_ROTATION_DEGREES = 10.0
MAX_ASPECT_LOG = 0.2           # width/height changed by up to exp(+-0.2)
WOBBLE = 0.03                  # amplitude of the hand's slow wobble, as a share of the digit's size
SPACING = (0.01, 0.06)         # distance between points after resampling, as a share of the digit's size
END_CHANGE = (-0.12, 0.08)     # each stroke end cut (negative) or extended, as a share of the stroke's length


def bounding_box(strokes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest (x, y) of all the strokes' points."""
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
    low, high = bounding_box(strokes)
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
