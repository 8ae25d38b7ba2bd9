"""On-the-fly augmentation: random distortions that make MNIST look like digits drawn with a mouse.

A random stroke thickness change, then one resampling combining an affine map with an elastic distortion; the
random numbers come from numpy (`random_parameters`, so a seeded generator fixes the result) and the resampling
runs inside the compiled training step. Design notes: docs/design-notes.md
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from digitdnn.model import IMAGE_SHAPE

SIZE = IMAGE_SHAPE[0]
CENTRE = (SIZE - 1) / 2.0
MAX_ROTATION_DEGREES = 15.0
SCALE_RANGE = (0.9, 1.1)        # overall size (drawings are scaled to a 20 px box, like MNIST)
MAX_ASPECT_LOG = 0.12           # width/height changed by up to exp(+-0.12), about +-13%
MAX_SHEAR = 0.2                 # x += shear * y, about +-11 degrees of slant
MAX_SHIFT_PIXELS = 1.0         # small: drawings are centred by centre of mass, like MNIST
THICKNESS_RANGE = (-0.4, 1.0)   # <0: blend towards erosion (thinner), >0: towards dilation (thicker)
ELASTIC_GRID = 4                # coarse displacement grid, ELASTIC_GRID x ELASTIC_GRID
ELASTIC_PIXELS = 1.0            # standard deviation of the coarse displacements
N_PARAMETERS = 7 + 2 * ELASTIC_GRID**2  # random numbers per image: thickness, 6 affine, the coarse grid


def _upsample_matrix(coarse: int, fine: int) -> np.ndarray:
    """(fine, coarse) linear interpolation weights, the grid's corners on the image's corners."""
    positions = np.linspace(0.0, coarse - 1.0, fine)
    left = np.minimum(np.floor(positions).astype(int), coarse - 2)
    frac = positions - left
    weights = np.zeros((fine, coarse), np.float32)
    weights[np.arange(fine), left] = 1.0 - frac
    weights[np.arange(fine), left + 1] = frac
    return weights


def _coordinate_basis() -> np.ndarray:
    """(G*G + 3, 784): a source coordinate map is a weighted sum of these rows.

    The first G*G rows upsample a coarse displacement grid bilinearly; the last three are the
    output pixel's column, its row and a constant, which carry the affine part.
    """
    up = _upsample_matrix(ELASTIC_GRID, SIZE)
    elastic = np.kron(up, up).T  # (G*G, 784)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    return np.concatenate([elastic, cols.reshape(1, -1), rows.reshape(1, -1), np.ones((1, SIZE * SIZE))])


_BASIS = _coordinate_basis().astype(np.float32)


def _max3x3(images: tf.Tensor) -> tf.Tensor:
    """3x3 maximum filter of (B, 28, 28) images (zero outside), as two separable 3-tap maxima."""
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1]])
    rows = tf.maximum(tf.maximum(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
    return tf.maximum(tf.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])


def _change_thickness(images: tf.Tensor, amount: tf.Tensor) -> tf.Tensor:
    """Blend each (B, 28, 28) image towards its dilation (amount > 0) or erosion (amount < 0)."""
    sign = tf.where(amount < 0, -1.0, 1.0)[:, None, None]
    filtered = sign * _max3x3(sign * images)  # a dilation, or for sign -1 an erosion
    return images + tf.abs(amount)[:, None, None] * (filtered - images)


def _source_coordinates(uniform: tf.Tensor) -> tf.Tensor:
    """For every output pixel, the (col, row) it samples in the input: an affine map plus an elastic field.

    `uniform` is (B, 6 + 2*G*G) in [0, 1): rotation, scale, aspect, shear, shift x, shift y, then
    the coarse displacements. Returns (B, 2, 784).
    """
    def spread(column, low, high):
        return low + (high - low) * uniform[:, column]

    max_angle = MAX_ROTATION_DEGREES * np.pi / 180.0
    angle = spread(0, -max_angle, max_angle)
    log_scale = spread(1, np.log(SCALE_RANGE[0]), np.log(SCALE_RANGE[1]))
    log_aspect = spread(2, -MAX_ASPECT_LOG, MAX_ASPECT_LOG)
    shear = spread(3, -MAX_SHEAR, MAX_SHEAR)
    shift_x = spread(4, -MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS)
    shift_y = spread(5, -MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS)

    # Inverse of (shift o rotate o shear o scale), mapping output offsets from the centre to input ones.
    inv_x, inv_y = tf.exp(-(log_scale + log_aspect)), tf.exp(-(log_scale - log_aspect))
    cos, sin = tf.cos(angle), tf.sin(angle)
    col_x, col_y = inv_x * (cos + shear * sin), inv_x * (sin - shear * cos)
    row_x, row_y = -inv_y * sin, inv_y * cos
    centre_x, centre_y = CENTRE + shift_x, CENTRE + shift_y
    col_0 = CENTRE - col_x * centre_x - col_y * centre_y
    row_0 = CENTRE - row_x * centre_x - row_y * centre_y
    affine = tf.stack([tf.stack([col_x, col_y, col_0], 1), tf.stack([row_x, row_y, row_0], 1)], 1)  # (B, 2, 3)
    # Uniform coarse displacements with standard deviation ELASTIC_PIXELS.
    coarse = tf.reshape(uniform[:, 6:] * 2.0 - 1.0, [-1, 2, ELASTIC_GRID**2]) * (ELASTIC_PIXELS * np.sqrt(3.0))
    weights = tf.concat([coarse, affine], axis=2)  # (B, 2, G*G + 3)
    return tf.reshape(tf.matmul(tf.reshape(weights, [-1, _BASIS.shape[0]]), tf.constant(_BASIS)), [-1, 2, SIZE * SIZE])


def _bilinear_sample(images: tf.Tensor, coords: tf.Tensor) -> tf.Tensor:
    """Sample (B, 28, 28) images at fractional (col, row) coordinates (B, 2, 784); outside is black."""
    batch = tf.shape(images)[0]
    width = SIZE + 2
    padded = tf.pad(images, [[0, 0], [1, 2], [1, 2]])  # one black pixel around, one more for the corners
    corners = tf.stack(  # each pixel with its right, lower and lower-right neighbours: one gather fetches all four
        [padded[:, :-1, :-1], padded[:, :-1, 1:], padded[:, 1:, :-1], padded[:, 1:, 1:]], axis=-1
    )
    corners = tf.reshape(corners, [batch, width * width, 4])
    coords = tf.clip_by_value(coords, -1.0, SIZE - 1e-3)
    whole = tf.floor(coords)
    frac = coords - whole
    whole = tf.cast(whole, tf.int32) + 1  # indices into the padded image
    found = tf.gather(corners, whole[:, 1] * width + whole[:, 0], batch_dims=1)  # (B, 784, 4)
    fc, fr = frac[:, 0], frac[:, 1]
    top = found[..., 0] + fc * (found[..., 1] - found[..., 0])
    bottom = found[..., 2] + fc * (found[..., 3] - found[..., 2])
    return tf.reshape(top + fr * (bottom - top), [batch, SIZE, SIZE])


def random_parameters(rng: np.random.Generator, count: int) -> np.ndarray:
    """The random numbers that define `count` distortions: (count, N_PARAMETERS) float32 in [0, 1)."""
    return rng.random((count, N_PARAMETERS), dtype=np.float32)


def augment_batch(images: tf.Tensor, parameters: tf.Tensor) -> tf.Tensor:
    """Distorted copies of (B, 28, 28) float32 images in [0, 1], one per row of `parameters` (B, N_PARAMETERS)."""
    low, high = THICKNESS_RANGE
    thick = _change_thickness(images, low + (high - low) * parameters[:, 0])
    return tf.clip_by_value(_bilinear_sample(thick, _source_coordinates(parameters[:, 1:])), 0.0, 1.0)


@tf.function(
    input_signature=[tf.TensorSpec([None, SIZE, SIZE], tf.float32), tf.TensorSpec([None, N_PARAMETERS], tf.float32)]
)
def _augment_compiled(images, parameters):
    return augment_batch(images, parameters)


def augmented_examples(images, seed: int | None = None) -> np.ndarray:
    """Augmented copies of numpy images (28, 28) or (N, 28, 28), uint8 or floats in [0, 1], as float32.

    The same seed gives the same distortions; seed None draws a fresh one, so calls differ.
    """
    x = np.asarray(images)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    single = x.shape == (SIZE, SIZE)
    if single:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (SIZE, SIZE):
        raise ValueError(f"images must have shape (28, 28) or (N, 28, 28), got {np.shape(images)}")
    parameters = random_parameters(np.random.default_rng(seed), len(x))
    out = _augment_compiled(tf.constant(x), tf.constant(parameters)).numpy()
    return out[0] if single else out
