"""Distort one 28x28 network input on purpose (shift, scale, rotate, thicken or thin), and the naive
whole-canvas resize that most drawing demos feed their network.

The page's "Try to fool it" panel moves these by sliders. digitdnn.training.augment does random
distortions of whole training batches in TensorFlow; this is one image, chosen by hand, in numpy/PIL.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from digitdnn.imaging.preprocess import grow
from digitdnn.model import IMAGE_SHAPE


def distort(image: np.ndarray, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0, degrees: float = 0.0,
            thicken: float = 0.0) -> np.ndarray:
    """The (28, 28) float image in [0, 1] with its strokes thickened by `thicken` pixels a side (< 0 thins),
    then scaled and rotated (counterclockwise, in degrees) about its centre of mass, then shifted by
    (dx, dy) pixels (right, down). Ink pushed off the edge is lost. Returns (28, 28) float32 in [0, 1]."""
    image = np.asarray(image, dtype=np.float32)
    if image.shape != IMAGE_SHAPE:
        raise ValueError(f"expected a {IMAGE_SHAPE} image, got shape {image.shape}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if thicken:
        image = np.clip(grow(image, thicken), 0.0, 1.0)
    cx, cy = centre_of_mass(image)
    angle = math.radians(degrees)
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    # PIL maps each output point to the input point (a x + b y + c, d x + e y + f): the inverse map.
    ox, oy = cx + dx, cy + dy
    coefficients = (cos, -sin, cx - cos * ox + sin * oy, sin, cos, cy - sin * ox - cos * oy)
    moved = Image.fromarray(image).transform((IMAGE_SHAPE[1], IMAGE_SHAPE[0]), Image.Transform.AFFINE,
                                             coefficients, resample=Image.Resampling.BILINEAR)
    return np.clip(np.asarray(moved, dtype=np.float32), 0.0, 1.0)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(x, y) of the ink's centre of mass in continuous coordinates (pixel i spans [i, i + 1));
    the image centre when there is no ink."""
    image = np.asarray(image, dtype=np.float64)
    mass = image.sum()
    if mass <= 0:
        return image.shape[1] / 2, image.shape[0] / 2
    rows, cols = np.indices(image.shape)
    return float((cols * image).sum() / mass) + 0.5, float((rows * image).sum() / mass) + 0.5


def resize_whole_canvas(ink: np.ndarray) -> np.ndarray:
    """What most drawing demos feed their network: the whole canvas's ink (H, W) area-resized to 28x28,
    without cropping, centring or pen correction."""
    picture = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32))
    resized = picture.resize((IMAGE_SHAPE[1], IMAGE_SHAPE[0]), Image.Resampling.BOX)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
