"""Synthetic phone photos of a digit written on paper, for tests and benchmarks: a pen digit (digitdnn.data.pendigits)
in dark ink on light paper, lit unevenly (a strong gradient), with a shadow along one edge, a warm tint, sensor noise
and JPEG compression."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from digitdnn.data.pendigits import render_digit

PHOTO = (640, 480)   # width, height
DIGIT_CANVAS = 300   # the digit is written inside a square this big, placed with paper all around it


def paper_photo(strokes: list[np.ndarray], rng: np.random.Generator) -> bytes:
    """A JPEG of the digit (pen strokes) photographed on paper."""
    width, height = PHOTO
    coverage = np.zeros((height, width), np.float32)
    written = render_digit(strokes, rng, canvas=(DIGIT_CANVAS, DIGIT_CANVAS))[:, :, 0] / np.float32(255)
    top = int(rng.integers(40, height - DIGIT_CANVAS - 40))
    left = int(rng.integers(60, width - DIGIT_CANVAS - 60))
    coverage[top:top + DIGIT_CANVAS, left:left + DIGIT_CANVAS] = written

    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = (np.cos(angle) * (cols - width / 2) + np.sin(angle) * (rows - height / 2)) / max(width, height)
    light = rng.uniform(0.8, 0.95) * (1 - rng.uniform(0.45, 0.6) * (along + 0.5))  # dimmer by half across the photo
    light *= _edge_shadow(rows, cols, rng)
    ink = rng.uniform(0.08, 0.25)                                                     # how much light the ink returns
    grey = light * (1 - coverage * (1 - ink))
    tint = np.array([1.0, rng.uniform(0.9, 1.0), rng.uniform(0.75, 0.9)], np.float32)  # warm indoor light
    rgb = grey[:, :, None] * tint + rng.normal(0, rng.uniform(0.01, 0.03), (height, width, 3))
    picture = Image.fromarray(np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=int(rng.integers(60, 90)))
    return buffer.getvalue()


def _edge_shadow(rows: np.ndarray, cols: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A soft-edged shadow (the phone's, a hand's) along one edge: light multiplied by 0.3-0.6 inside it."""
    height, width = rows.shape
    distance = [rows, height - 1 - rows, cols, width - 1 - cols][int(rng.integers(4))]
    depth = rng.uniform(25, 60)
    inside = 0.5 * (1 - np.tanh((distance - depth) / 8))
    return 1 - rng.uniform(0.4, 0.7) * inside
