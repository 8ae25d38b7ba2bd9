"""Training data that knows real handwriting: MNIST plus pen digits drawn as the canvas would draw them.

Each pen digit of the training writers is drawn `copies` times, every time by a different hand
(`distort_strokes`), often in a style MNIST lacks (`pen_styles.add_style`, before the hand changes it), at
a random size, place and pen width on a 280x280 canvas (`render_digit`), and brought to 28x28 by the page's
own `to_mnist`. The images join MNIST's training set; the test set stays MNIST's, so a run's reports still say
how it does on MNIST.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitdnn.data.mnist import MnistData, cache_path, save_npz_atomically
from digitdnn.data.pen_styles import STYLES, Style, add_style
from digitdnn.data.pendigits import (
    SPLIT_SALT,
    PenDigits,
    calibration_indices,
    load_pen_digits,
    render_digit,
    split_by_writer,
)
from digitdnn.data.stroke_augment import distort_strokes
from digitdnn.imaging.preprocess import to_mnist

DEFAULT_COPIES = 4      # drawings made of each training writer's digit
PEN_DIGIT_COPIES = 2    # drawings of each training writer's pen digit in the page's "MNIST + pen digits"
DRAWING_VERSION = 2     # part of the cache's file name: raise it when drawing changes what it makes
_LOG = logging.getLogger(__name__)


def draw_pen_digits(pen: PenDigits, indices, *, copies: int = 1, seed: int = 0, distort: bool = True,
                    styles: bool | Style = True, progress: Callable[[float], None] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The digits `indices` of `pen` as the network sees them after the canvas.

    Returns uint8 images (M, 28, 28), their labels (M,) and which digit of `pen` each one draws (M,).

    Args:
        copies: drawings per digit, each with its own hand, size, place and pen.
        distort: change the hand (slant, wobble, loose ends...) before drawing; False draws the
            trajectory as written (how held-out writers are measured).
        styles: write some digits in a style MNIST lacks (digitdnn.data.pen_styles.STYLES: crossed zeros,
            long-flag ones, barred sevens, curved-tail nines...), each for its share of that digit's drawings;
            one Style: every digit of its label in that style.
        progress: called with the share done, now and then.
    A drawing that to_mnist refuses (a dot) is left out.
    """
    rng = np.random.default_rng(seed)
    images, labels, drawn = [], [], []
    indices = np.asarray(indices)
    total = len(indices) * copies
    for n, i in enumerate(i for _ in range(copies) for i in indices):
        strokes = pen.strokes(int(i))
        label = int(pen.label[i])
        if styles is True:
            strokes = add_style(strokes, label, rng)
        elif isinstance(styles, Style) and label == styles.label:
            strokes = styles.draw([np.asarray(s, np.float64) for s in strokes], rng)
        if distort:
            strokes = distort_strokes(strokes, rng)
        x = to_mnist(render_digit(strokes, rng))
        if x is not None:
            images.append(np.round(x * 255).astype(np.uint8))
            labels.append(label)
            drawn.append(i)
        if progress is not None and n % 500 == 0:
            progress(n / total)
    return np.stack(images), np.array(labels, np.uint8), np.array(drawn, np.int64)


def with_extra_training(data: MnistData, x: np.ndarray, y: np.ndarray, source: str) -> MnistData:
    """`data` with uint8 images `x` (labels `y`) added to its training set; the test set unchanged."""
    return MnistData(np.concatenate([data.x_train, x]), np.concatenate([data.y_train, np.asarray(y, np.uint8)]),
                     data.x_test, data.y_test, f"{data.source} + {source}")


def kept_drawings(pen: PenDigits, name: str, draw: Callable[[], tuple[np.ndarray, np.ndarray]],
                  cache_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Drawings of `pen` (uint8 (N, 28, 28) images, labels 0-9) made by `draw` once and kept in the MNIST cache folder
    as `name`-<the set's fingerprint>-v<DRAWING_VERSION>.npz, read back afterwards; a kept file that is unreadable
    or not such drawings is drawn again, and one that cannot be written is only logged."""
    digest = hashlib.sha256()
    for array in (pen.points, pen.stroke_starts, pen.sample_starts, pen.label, pen.writer):
        digest.update(np.ascontiguousarray(array).tobytes())
    cache = cache_path(cache_dir).parent / f"{name}-{digest.hexdigest()[:16]}-v{DRAWING_VERSION}.npz"
    try:
        with np.load(cache, allow_pickle=False) as stored:
            x, y = stored["x"], stored["y"]
        if x.dtype == np.uint8 and x.shape[1:] == (28, 28) and len(x) == len(y) and np.isin(y, range(10)).all():
            return x, y
        _LOG.warning("the kept pen-digit drawings %s are not 28x28 digits; drawing them again", cache)
    except FileNotFoundError:
        pass  # not drawn yet
    except (OSError, ValueError, KeyError):
        _LOG.warning("the kept pen-digit drawings %s are unreadable; drawing them again", cache, exc_info=True)
    x, y = draw()
    try:
        save_npz_atomically(cache, {"x": x, "y": y})
    except OSError:
        _LOG.warning("could not keep the pen-digit drawings at %s", cache, exc_info=True)
    return x, y


def training_drawings(pen: PenDigits, *, copies: int, seed: int = 0, cache_dir: str | Path | None = None,
                      progress: Callable[[float], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The training writers' digits drawn `copies` times: (uint8 images, labels), drawn once per (set, copies, seed,
    DRAWING_VERSION) and kept (kept_drawings): drawing them takes about 5 ms a digit."""
    def draw() -> tuple[np.ndarray, np.ndarray]:
        x, y, _ = draw_pen_digits(pen, split_by_writer(pen)[0], copies=copies, seed=seed, progress=progress)
        return x, y

    return kept_drawings(pen, f"pen-drawings-c{copies}-s{seed}", draw, cache_dir)


def mnist_with_pen_digits(data: MnistData, *, copies: int = DEFAULT_COPIES, seed: int = 0,
                          pen: PenDigits | None = None, cache_dir: str | Path | None = None,
                          progress: Callable[[float], None] | None = None) -> MnistData:
    """MNIST plus `copies` canvas drawings of every training writer's pen digit (held-out writers never)."""
    pen = pen or load_pen_digits()
    x, y = training_drawings(pen, copies=copies, seed=seed, cache_dir=cache_dir, progress=progress)
    return with_extra_training(data, x, y, f"{len(y)} pen-digit drawings ({copies} per digit)")


def pen_digits_record(pen: PenDigits, copies: int) -> dict:
    """What a model's sidecar says about the pen digits it was trained with (and those it was not)."""
    train, held = split_by_writer(pen)
    calibration = calibration_indices(pen)
    writers = {name: len(np.unique(pen.writer[part])) for name, part in
               (("training", train), ("held_out", held), ("calibration", calibration))}
    return {"copies": copies, "training_digits": len(train), "training_writers": writers["training"],
            "held_out_writers": writers["held_out"], "calibration_writers": writers["calibration"],
            "labs": sorted(set(pen.lab.tolist())), "drawing_version": DRAWING_VERSION,
            "styles": {style.name: style.share for style in STYLES},
            "split": f"digitdnn.data.pendigits.split_by_writer ({SPLIT_SALT})",
            "licence": "UNIPEN train_r01_v07, CC BY 4.0 (digitdnn/assets/pen-digits/README.md)"}
