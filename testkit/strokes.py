"""Digits drawn as mouse strokes: templates of writing styles, a seeded generator, a stored set, one style per digit.

A template is a digit in one writing style: strokes of control points in a unit
box (x right, y down, the digit about 1 high). A point written twice in a row
is a sharp corner; elsewhere the stroke is a smooth curve through the points.
The generator turns templates into drawings the way people produce them on a
canvas: varied size, place, pen width and slant, sampled at mouse-event
spacing with a shaky hand; `Drawing.render` paints one like the page's canvas
(digitdnn.imaging.brush). `digit_strokes` gives the one clear style per digit that the
browser tests and the page benchmarks draw.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitdnn.imaging.brush import CANVAS, render
from testkit import ROOT

TEMPLATES = ROOT / "tests" / "data" / "stroke_templates.json"
DRAWING_COUNT = 420   # drawings in tests/data/stroke_drawings.npz ...
DRAWING_SEED = 2024   # ... and the seed that expanded the templates into them


@dataclass(frozen=True)
class Template:
    """One writing style of one digit: strokes of control points in a unit box."""

    label: int
    style: str
    strokes: tuple[np.ndarray, ...]  # each (n, 2) float: x, y


@dataclass(frozen=True)
class Drawing:
    """A digit drawn on a canvas: polylines in canvas pixels and the brush that drew them."""

    label: int
    style: str
    strokes: tuple[np.ndarray, ...]  # each (n, 2) float32: x, y in canvas pixels
    brush: float                     # brush diameter, canvas pixels
    transparent: bool                # canvas background left transparent instead of black
    canvas: tuple[int, int] = CANVAS  # (width, height)

    def render(self) -> np.ndarray:
        """The drawing as the canvas returns it: white ink, (H, W, 4) uint8 RGBA."""
        background = (0, 0, 0, 0) if self.transparent else (0, 0, 0, 255)
        return render(self.strokes, canvas=self.canvas, brush=self.brush, background=background)


def smooth_stroke(points: np.ndarray, samples_per_segment: int = 12) -> np.ndarray:
    """A dense polyline through control points: centripetal Catmull-Rom, sharp at doubled points."""
    points = np.asarray(points, dtype=np.float64)
    repeated = np.flatnonzero(np.all(np.diff(points, axis=0) == 0, axis=1))
    pieces = np.split(points, repeated + 1)
    dense = [_catmull_rom(piece, samples_per_segment) for piece in pieces if len(piece)]
    return np.concatenate(dense)


def _catmull_rom(points: np.ndarray, samples: int) -> np.ndarray:
    """Centripetal Catmull-Rom spline through `points` (no loops or cusps at uneven spacing)."""
    if len(points) < 3:
        return points if len(points) < 2 else np.linspace(points[0], points[1], samples + 1)
    ends = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    out = [points[:1]]
    for i in range(1, len(ends) - 2):
        p0, p1, p2, p3 = ends[i - 1:i + 3]
        t1 = np.linalg.norm(p1 - p0) ** 0.5 + 1e-9
        t2 = t1 + np.linalg.norm(p2 - p1) ** 0.5 + 1e-9
        t3 = t2 + np.linalg.norm(p3 - p2) ** 0.5 + 1e-9
        t = np.linspace(t1, t2, samples + 1)[1:, None]
        a1 = (t1 - t) / t1 * p0 + t / t1 * p1
        a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
        a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
        b1 = (t2 - t) / t2 * a1 + t / t2 * a2
        b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
        out.append((t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2)
    return np.concatenate(out)


def load_templates(path: str | Path) -> list[Template]:
    """Read templates from JSON: {"templates": [{"digit": 4, "style": "open", "strokes": [[[x, y], ...], ...]}]}."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))["templates"]
    return [Template(int(e["digit"]), str(e["style"]), tuple(np.asarray(s, dtype=np.float64) for s in e["strokes"]))
            for e in entries]


def expand(templates: list[Template], count: int, seed: int, canvas=CANVAS) -> list[Drawing]:
    """Draw `count` digits from the templates in turn, each with its own random hand (seeded, deterministic).

    Per drawing: height 30%-85% of the canvas, anywhere fully on it; slant and
    rotation; width stretched; a slow wobble of the whole hand; mouse events
    every few pixels with a little jitter; brush 8-35 px on a 280 px canvas, at most
    a quarter of the digit's height (a person drawing small draws thinner);
    one in four on a transparent background.
    """
    rng = np.random.default_rng(seed)
    return [_draw(templates[i % len(templates)], rng, canvas) for i in range(count)]


def _draw(template: Template, rng: np.random.Generator, canvas) -> Drawing:
    """One random hand drawing one template."""
    width, height = canvas
    side = min(canvas)
    dense = [smooth_stroke(s) for s in template.strokes]
    slant = rng.uniform(-0.15, 0.4)                    # x shift per unit height, rightward lean positive
    angle = np.deg2rad(rng.uniform(-8, 8))
    stretch = rng.uniform(0.8, 1.25)
    shape = np.array([[stretch, -slant], [0.0, 1.0]])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    wobble = rng.normal(0, 0.025, size=(2, 2)), rng.uniform(0, 2 * np.pi, size=(2, 2)), rng.uniform(1, 3, size=(2, 2))
    shaped = [(_wobbled(s, *wobble) - 0.5) @ (rotation @ shape).T for s in dense]
    every = np.concatenate(shaped)
    low, high = every.min(axis=0), every.max(axis=0)
    digit_height = rng.uniform(0.3, 0.85) * height
    scale = digit_height / (high[1] - low[1])
    brush = rng.uniform(8, 35) * side / 280
    brush = min(brush, digit_height / 4)
    extent = (high - low) * scale
    margin = brush / 2 + 1
    room = np.array([width, height]) - extent - 2 * margin
    if room.min() < 0:  # too wide for the canvas: shrink to fit
        scale *= min((np.array([width, height]) - 2 * margin) / extent)
        extent = (high - low) * scale
        room = np.maximum(np.array([width, height]) - extent - 2 * margin, 0)
    corner = margin + rng.uniform(0, 1, size=2) * room
    spacing = rng.uniform(3, 10) * side / 280          # pixels between mouse events
    strokes = []
    for s in shaped:
        placed = (s - low) * scale + corner
        sampled = _resample(placed, spacing)
        sampled = sampled + rng.normal(0, 0.6 * side / 280, size=sampled.shape)
        strokes.append(np.clip(sampled, 0, [width - 1, height - 1]).astype(np.float32))
    return Drawing(template.label, template.style, tuple(strokes), float(brush), bool(rng.uniform() < 0.25),
                   (int(width), int(height)))


def _wobbled(points: np.ndarray, amplitude: np.ndarray, phase: np.ndarray, frequency: np.ndarray) -> np.ndarray:
    """Bend the unit box smoothly: each coordinate moves by a slow sine of the other coordinates."""
    moved = points.copy()
    for axis in range(2):
        for other in range(2):
            moved[:, axis] += amplitude[axis, other] * np.sin(frequency[axis, other] * np.pi * points[:, other]
                                                             + phase[axis, other])
    return moved


def _resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` pixels along a polyline, as mouse events would report them."""
    lengths = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    if lengths[-1] == 0:
        return points[:1]
    at = np.linspace(0, lengths[-1], max(2, int(np.ceil(lengths[-1] / spacing)) + 1))
    return np.stack([np.interp(at, lengths, points[:, 0]), np.interp(at, lengths, points[:, 1])], axis=1)


def save_drawings(drawings: list[Drawing], path: str | Path) -> None:
    """Store drawings in a compressed .npz (polylines, labels, styles, brushes, backgrounds, canvas sizes)."""
    strokes = [s for d in drawings for s in d.strokes]
    np.savez_compressed(
        path,
        points=np.concatenate(strokes).astype(np.float32),
        stroke_lengths=np.array([len(s) for s in strokes], dtype=np.int32),
        strokes_per_drawing=np.array([len(d.strokes) for d in drawings], dtype=np.int32),
        labels=np.array([d.label for d in drawings], dtype=np.uint8),
        styles=np.array([d.style for d in drawings]),
        brushes=np.array([d.brush for d in drawings], dtype=np.float32),
        transparent=np.array([d.transparent for d in drawings]),
        canvases=np.array([d.canvas for d in drawings], dtype=np.int32),
    )


def load_drawings(path: str | Path) -> list[Drawing]:
    """Read drawings written by save_drawings."""
    with np.load(path, allow_pickle=False) as data:
        strokes = np.split(data["points"], np.cumsum(data["stroke_lengths"])[:-1])
        bounds = np.concatenate([[0], np.cumsum(data["strokes_per_drawing"])])
        return [Drawing(int(label), str(style), tuple(strokes[bounds[i]:bounds[i + 1]]), float(brush),
                        bool(transparent), (int(canvas[0]), int(canvas[1])))
                for i, (label, style, brush, transparent, canvas) in enumerate(
                    zip(data["labels"], data["styles"], data["brushes"], data["transparent"], data["canvases"],
                        strict=True))]


# One clear writing style per digit (tests/data/stroke_templates.json), drawn 180 px high on the 280 px canvas.
STYLES = {0: "oval_counterclockwise", 1: "stick", 2: "plain", 3: "round", 4: "open",
          5: "two_strokes", 6: "straight_stem", 7: "plain", 8: "two_circles", 9: "straight_tail"}


def digit_strokes(digit: int, height: float = 180, left: float = 60, top: float = 50) -> list:
    """The polylines of a digit's chosen writing style (STYLES), in canvas pixels."""
    template = next(t for t in load_templates(TEMPLATES) if t.label == digit and t.style == STYLES[digit])
    return [smooth_stroke(points, samples_per_segment=6) * height + (left, top) for points in template.strokes]


def main(argv=None) -> None:
    """Expand templates into a stored drawing set: python -m testkit.strokes TEMPLATES OUT [--count N] [--seed S]."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("templates", help="templates JSON")
    parser.add_argument("out", help=".npz to write")
    parser.add_argument("--count", type=int, default=DRAWING_COUNT)
    parser.add_argument("--seed", type=int, default=DRAWING_SEED)
    args = parser.parse_args(argv)
    drawings = expand(load_templates(args.templates), args.count, args.seed)
    save_drawings(drawings, args.out)
    print(f"wrote {len(drawings)} drawings to {args.out}")


if __name__ == "__main__":
    main()
