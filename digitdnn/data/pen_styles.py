"""Writing styles that MNIST's American writers rarely used, drawn from a digit's own strokes.

Each style is built from the structure of the digit it changes (its box, its stem, its loop), so it
fits any writer's digit: a zero crossed by a slash of any length and angle (as in engineering and
computing hands, and much of continental Europe), a dot in a zero, the continental one with a long
lead-in stroke (with or without a base), a one written as a bare slanted bar, a seven with a bar
across its stem, and a nine whose tail curves left
like a "g".

`STYLES` names each with the share of that digit's training drawings that get it: judgment from
how these digits are taught and written in different countries (school scripts in France, Germany,
Italy and Scandinavia teach the long-flag one and the barred seven; the crossed zero comes from
engineering and computing practice), not counts from a survey. Strokes in any units, y down.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitdnn.data.stroke_augment import bounding_box

Strokes = list[np.ndarray]


@dataclass(frozen=True)
class Style:
    """One way of writing a digit: its name, the digit, the share of that digit's drawings that get it, and how."""

    name: str
    label: int
    share: float
    draw: Callable[[Strokes, np.random.Generator], Strokes]


def _line(start, end, count: int = 16) -> np.ndarray:
    return np.linspace(np.asarray(start, np.float64), np.asarray(end, np.float64), count)


def _nearest_x_at(strokes: Strokes, y: float) -> float:
    """The x of the ink point whose y is closest to `y` (a stem's place at that height)."""
    every = np.concatenate(strokes)
    return float(every[np.argmin(np.abs(every[:, 1] - y)), 0])


def _narrowed(strokes: Strokes, ratio: float) -> Strokes:
    """The strokes squeezed sideways about their middle to width/height `ratio`, if they are wider than that."""
    low, high = bounding_box(strokes)
    width, height = high - low
    if width <= ratio * height:
        return strokes
    middle = (low[0] + high[0]) / 2
    scale = ratio * height / width
    return [np.column_stack([middle + (s[:, 0] - middle) * scale, s[:, 1]]) for s in strokes]


def crossed_zero(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    """A zero, often narrowed to an oval, crossed through its middle by a slash written fast: upright like a phi
    or leaning like a Scandinavian o, ending anywhere from inside the oval to 0.45 of its height beyond it."""
    if rng.uniform() < 0.6:
        strokes = _narrowed(strokes, rng.uniform(0.4, 0.8))
    low, high = bounding_box(strokes)
    half = (high - low) / 2
    centre = (low + high) / 2 + rng.normal(0, 0.05, 2) * (high - low)
    if rng.uniform() < 0.35:
        lean = rng.normal(0, 6)                                   # upright, like a phi
    else:
        lean = rng.uniform(20, 55) * (1 if rng.uniform() < 0.8 else -1)  # mostly bottom left to top right
    angle = np.deg2rad(lean)
    up = np.array([np.sin(angle), -np.cos(angle)])
    to_edge = min(half[0] / max(abs(up[0]), 1e-6), half[1] / max(abs(up[1]), 1e-6))
    height = 2 * half[1]
    top = centre + up * (to_edge + rng.uniform(-0.15, 0.45) * height)
    bottom = centre - up * (to_edge + rng.uniform(-0.15, 0.45) * height)
    return [*strokes, _line(bottom, top)]


def dotted_zero(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    """A zero with a dot (a short dash) in its middle."""
    low, high = bounding_box(strokes)
    centre = (low + high) / 2 + rng.normal(0, 0.04, 2) * (high - low)
    dash = rng.normal(0, 0.03, 2) * (high - low).max()
    return [*strokes, _line(centre - dash, centre + dash, 3)]


def long_flag_one(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    """The continental one: a lead-in stroke rising from the left to the stem's top in the same stroke, 15%-90% of
    the height long and 20-60 degrees below horizontal; a third of them with a base."""
    low, high = bounding_box(strokes)
    height = high[1] - low[1]
    top = np.array([_nearest_x_at(strokes, low[1]), low[1]])
    length, angle = rng.uniform(0.15, 0.9) * height, np.deg2rad(rng.uniform(20, 60))
    flag = _line(top + length * np.array([-np.cos(angle), np.sin(angle)]), top)
    starts_at_top = np.linalg.norm(strokes[0][0] - top) <= np.linalg.norm(strokes[0][-1] - top)
    first = strokes[0] if starts_at_top else strokes[0][::-1]
    styled = [np.vstack([flag, first]), *strokes[1:]]
    if rng.uniform() < 1 / 3:
        bottom = np.array([_nearest_x_at(strokes, high[1]), high[1]])
        half = rng.uniform(0.15, 0.3) * height
        styled.append(_line(bottom - (half, 0), bottom + (half, 0)))
    return styled


def slanted_one(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    """A one written as a bare bar leaning 15-35 degrees to the right (its top further right than its foot)."""
    low, high = bounding_box(strokes)
    middle = (low + high) / 2
    lean = np.tan(np.deg2rad(rng.uniform(15, 35)))
    return [np.column_stack([s[:, 0] + lean * (middle[1] - s[:, 1]), s[:, 1]]) for s in strokes]


def barred_seven(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    """A seven with a short bar across the middle of its stem."""
    low, high = bounding_box(strokes)
    height = high[1] - low[1]
    y = low[1] + rng.uniform(0.45, 0.6) * height
    x = _nearest_x_at(strokes, y)
    half = rng.uniform(0.15, 0.3) * height
    tilt = rng.normal(0, 0.04) * height
    return [*strokes, _line((x - half, y + tilt), (x + half, y - tilt))]


def curved_tail_nine(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    """A nine whose tail bends left like a "g": the tail's lower part drawn towards the left, and the stroke
    carried on from its foot in a hook that turns 90-160 degrees from down towards the left."""
    low, high = bounding_box(strokes)
    width, height = high - low
    start = low[1] + 0.6 * height
    bend = rng.uniform(0.2, 0.6) * max(width, 0.5 * height)

    def bent(s: np.ndarray) -> np.ndarray:
        depth = np.clip((s[:, 1] - start) / max(high[1] - start, 1e-6), 0, 1)
        return np.column_stack([s[:, 0] - bend * depth ** 2, s[:, 1]])

    strokes = [bent(s) for s in strokes]
    which = int(np.argmax([max(s[0, 1], s[-1, 1]) for s in strokes]))
    tail = strokes[which] if strokes[which][-1, 1] >= strokes[which][0, 1] else strokes[which][::-1]
    turn = np.deg2rad(90 + np.linspace(0, rng.uniform(90, 160), 12))
    step = rng.uniform(0.5, 1.0) * max(width, 0.5 * height) / len(turn)
    hook = tail[-1] + np.cumsum(step * np.column_stack([np.cos(turn), np.sin(turn)]), axis=0)
    return [*strokes[:which], np.vstack([tail, hook]), *strokes[which + 1:]]


STYLES = (
    Style("crossed zero", 0, 0.3, crossed_zero),
    Style("dotted zero", 0, 0.05, dotted_zero),
    Style("long-flag one", 1, 0.35, long_flag_one),
    Style("slanted one", 1, 0.1, slanted_one),
    Style("barred seven", 7, 0.35, barred_seven),
    Style("curved-tail nine", 9, 0.25, curved_tail_nine),
)


def add_style(strokes: Strokes, label: int, rng: np.random.Generator) -> Strokes:
    """The digit in one of its STYLES, each for its share of the calls; otherwise the strokes unchanged."""
    draw = rng.uniform()
    for style in STYLES:
        if style.label == int(label):
            if draw < style.share:
                return style.draw([np.asarray(s, np.float64) for s in strokes], rng)
            draw -= style.share
    return strokes
