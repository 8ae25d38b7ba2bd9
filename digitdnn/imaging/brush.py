"""Paint strokes as the page's canvas does: a round brush, anti-aliased edges, RGBA.

Used to draw pen trajectories (digitdnn/data/pendigits.py) and, in tests and benchmarks, mouse-like drawings.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CANVAS = (280, 280)   # (width, height) of the page's canvas


def render(strokes, *, canvas=CANVAS, brush=20.0, ink=(255, 255, 255, 255), background=(0, 0, 0, 255),
           supersample=2) -> np.ndarray:
    """Paint polylines with a round brush, anti-aliased, on an RGBA canvas.

    Args:
        strokes: sequence of strokes, each a sequence of (x, y) canvas pixel coordinates.
        canvas: (width, height) in pixels.
        brush: brush diameter in pixels.
        ink, background: RGBA colours; on a transparent background, inked pixels keep the ink colour
            with partial alpha at the edges, as an HTML canvas does.
        supersample: paint at this many times the size, then average down (the anti-aliasing).
    Returns:
        (height, width, 4) uint8 array.
    """
    width, height = canvas
    mask = Image.new("L", (width * supersample, height * supersample), 0)
    pen = ImageDraw.Draw(mask)
    radius = brush * supersample / 2
    for stroke in strokes:
        points = [(float(x) * supersample, float(y) * supersample) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=255, width=max(1, round(brush * supersample)), joint="curve")
        for x, y in (points[0], points[-1]):
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    coverage = np.asarray(mask.resize(canvas, Image.Resampling.BOX), dtype=np.float32)[:, :, None] / 255.0
    ink = np.asarray(ink, dtype=np.float32)
    background = np.asarray(background, dtype=np.float32)
    if background[3] == 0:  # as an HTML canvas stores it: ink colour wherever there is ink, alpha = coverage
        rgba = np.concatenate([np.where(coverage > 0, ink[:3], background[:3]), coverage * ink[3]], axis=2)
    else:
        rgba = coverage * ink + (1.0 - coverage) * background
    return np.round(rgba).astype(np.uint8)
