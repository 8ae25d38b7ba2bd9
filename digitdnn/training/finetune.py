"""Fine-tuning: a trained network continued on the class's drawings mixed with MNIST and real people's pen digits,
so that what it knows holds.

A recipe that needs no arguments (Adam at a small rate for a few epochs, augmented, the drawings a fifth of what
is seen). The mix (`fine_tune_data`) holds pen digits of the pen set's training writers beside MNIST's sample: a
model trained with them forgets their handwriting on MNIST alone, and reads other writers worse after a retrain
on right labels; one trained without them only gains data. The test set stays MNIST's, so each epoch shows
whether MNIST still holds, and `mnist_fall` says when it did not (mislabelled drawings): such a model must not
replace the one it started from unless someone insists.
Design notes: docs/design-notes.md
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from digitdnn.config import TrainConfig
from digitdnn.data.mnist import MnistData
from digitdnn.model import IMAGE_SHAPE, N_CLASSES, Classifier, as_batch

_LOG = logging.getLogger(__name__)

EPOCHS = 4
LEARNING_RATE = 3e-4          # Adam; a third of what trains the default network from scratch
BATCH_SIZE = 128
MNIST_SAMPLE = 8_000          # MNIST training images mixed in
DRAWINGS_SHARE = 0.2          # of the mixed training set, reached by repeating the drawings ...
MAX_REPEATS = 20              # ... at most this often (a handful of drawings is not repeated hundreds of times)
PEN_PER_MNIST = 1.0           # pen-digit drawings per MNIST image of the mix (as many as there are, at most)
PEN_COPIES, PEN_SEED = 1, 0   # the kept drawings of the pen digits (pen_training.training_drawings) sampled
AUGMENT = True                # random distortions of half of every batch (the drawings are seen many times)
_KEPT_SETTINGS = ("l2", "seed")  # taken over from the classifier's own training config
MAX_MNIST_FALL = 0.015        # MNIST test accuracy a fine-tune may lose (1.5 points) and still replace its start
USED_ANYWAY = "used_anyway"   # model card key of a fine-tuned model kept despite mnist_fall: its sentence


def fine_tune_config(classifier: Classifier, epochs: int | None = None,
                     learning_rate: float | None = None) -> TrainConfig:
    """The TrainConfig that continues `classifier`: its layers (and, when recorded, L2 and seed) with the recipe."""
    hidden = classifier.layers[:-1]
    if not hidden:
        raise ValueError("the classifier has no hidden layer to fine-tune")
    units = tuple(int(w.shape[1]) for w, _, _ in hidden)
    saved = classifier.metadata.get("config")
    kept: dict[str, Any] = {}
    if isinstance(saved, dict):
        kept = {name: saved[name] for name in _KEPT_SETTINGS if name in saved}
    recipe: dict[str, Any] = dict(hidden_units=units, activation=hidden[0][2], optimizer="adam", batch_size=BATCH_SIZE,
                  learning_rate=LEARNING_RATE if learning_rate is None else learning_rate,
                  epochs=EPOCHS if epochs is None else epochs, augment=AUGMENT, dropout=0.0)
    try:
        return TrainConfig(**recipe, **kept)
    except ValueError:  # a damaged or foreign config: the recipe alone
        _LOG.warning("the model's saved config %r does not fit; fine-tuning with the recipe alone", kept,
                     exc_info=True)
        return TrainConfig(**recipe)


def mixed_data(x, y, data, seed: int = 0, mnist_sample: int | None = MNIST_SAMPLE, *,
               pen: tuple[np.ndarray, np.ndarray] | None = None) -> MnistData:
    """MNIST's training sample (`mnist_sample` images; None: all of them, as for a run from scratch), a sample of
    the pen-digit drawings `pen` (uint8 images, labels; PEN_PER_MNIST per MNIST image) when given, plus the
    drawings (as uint8, repeated to about DRAWINGS_SHARE of it all) and MNIST's test set."""
    pixels, labels = _checked_drawings(x, y)
    rng = np.random.default_rng(seed)
    size = len(data.x_train) if mnist_sample is None else min(mnist_sample, len(data.x_train))
    sample = np.sort(rng.choice(len(data.x_train), size=size, replace=False))
    pen_x, pen_y = pen if pen is not None else (np.zeros((0, *IMAGE_SHAPE), np.uint8), np.zeros(0, np.uint8))
    pen_sample = np.sort(rng.choice(len(pen_y), size=min(round(PEN_PER_MNIST * size), len(pen_y)), replace=False))
    wanted = DRAWINGS_SHARE / (1 - DRAWINGS_SHARE) * (len(sample) + len(pen_sample))
    repeats = int(np.clip(math.ceil(wanted / len(labels)), 1, MAX_REPEATS))
    with_pen = f", {len(pen_sample)} pen-digit drawings" if pen is not None else ""
    return MnistData(
        x_train=np.concatenate([data.x_train[sample], pen_x[pen_sample], np.tile(pixels, (repeats, 1, 1))]),
        y_train=np.concatenate([np.asarray(data.y_train, np.uint8)[sample], np.asarray(pen_y, np.uint8)[pen_sample],
                                np.tile(labels, repeats)]),
        x_test=data.x_test,
        y_test=data.y_test,
        source=f"{len(sample)} MNIST training images{with_pen} and {len(labels)} drawings x {repeats}; "
               f"test: MNIST ({getattr(data, 'source', 'given data')})",
    )


def pen_handwriting(progress: Callable[[float], None] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The pen set's training writers' digits drawn as the canvas draws them (uint8 images, labels; never a
    held-out or calibration writer's): pen_training.training_drawings, drawn once (about a minute, `progress`
    called with the share done) and kept; None, logged, when the pen set cannot be read or drawn."""
    from digitdnn.data.pen_training import training_drawings
    from digitdnn.data.pendigits import load_pen_digits

    try:
        return training_drawings(load_pen_digits(), copies=PEN_COPIES, seed=PEN_SEED, progress=progress)
    except (OSError, ValueError) as exc:  # PenDigitsError is a ValueError
        _LOG.warning("the pen digits cannot be read (%s); fine-tuning on MNIST and the drawings alone", exc)
        return None


def fine_tune_data(x, y, data, seed: int = 0, progress: Callable[[float], None] | None = None) -> MnistData:
    """The recipe's training set, for fine_tune and the page's retrain alike: mixed_data of the drawings x, y with
    MNIST_SAMPLE images of `data` and the pen digits (pen_handwriting; MNIST alone when they cannot be read)."""
    return mixed_data(x, y, data, seed, MNIST_SAMPLE, pen=pen_handwriting(progress))


def fine_tune(
    classifier: Classifier,
    x,
    y,
    *,
    epochs: int | None = None,
    data=None,
    on_epoch_end: Callable | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int, float], None] | None = None,
    learning_rate: float | None = None,
):
    """Continue `classifier` on drawings x (N, 28, 28) floats in [0, 1] with labels y (N,) 0-9, mixed with MNIST
    and pen digits (fine_tune_data).

    Args:
        epochs, learning_rate: None keeps the recipe (EPOCHS, LEARNING_RATE with Adam).
        data: MNIST (x_train, y_train, x_test, y_test as uint8); None loads it.
        on_epoch_end, should_stop, on_progress: as for digitdnn.train.
    A calibrated classifier (metadata "temperature", folded into its output layer) is trained without
    its temperature and gets it back afterwards, in every classifier handed out (on_epoch_end's too).

    Returns:
        TrainResult(classifier, history): a new classifier (the given one is unchanged);
        history.initial_test_accuracy is the MNIST test accuracy before, history.test_accuracy after,
        history.status "diverged" (with the starting weights kept) if the loss blew up.
    Raises:
        ValueError: bad drawings or labels, or a classifier this library cannot rebuild.
    """
    from digitdnn.training.loop import train

    cfg = fine_tune_config(classifier, epochs, learning_rate)
    _checked_drawings(x, y)  # before loading MNIST
    if data is None:
        from digitdnn.data.mnist import load_mnist

        data = load_mnist()
    mix = fine_tune_data(x, y, data, cfg.seed)
    temperature = classifier.metadata.get("temperature")
    if not temperature:
        return train(cfg, mix, on_epoch_end=on_epoch_end, should_stop=should_stop,
                     on_progress=on_progress, initial=classifier)

    from digitdnn.training.calibration import with_temperature
    from digitdnn.training.history import TrainResult

    def calibrated_epoch_end(report, snapshot) -> None:
        if on_epoch_end is not None:
            on_epoch_end(report, with_temperature(snapshot, temperature))

    result = train(cfg, mix, on_epoch_end=on_epoch_end and calibrated_epoch_end,
                   should_stop=should_stop, on_progress=on_progress,
                   initial=with_temperature(classifier, 1 / temperature))
    return TrainResult(with_temperature(result.classifier, temperature), result.history)


def mnist_fall(before: float | None, after: float | None) -> str | None:
    """Why a fine-tuned model must not replace the model it started from: its MNIST test accuracy fell by more than
    MAX_MNIST_FALL, as one clause ("MNIST test accuracy fell from 99.1% to 88.1% (more than 1.5 points)"); None when
    it held, or when either figure is unknown (no warm start, no result). An `after` of NaN counts as a fall."""
    if before is None or after is None or after >= before - MAX_MNIST_FALL:
        return None
    shown = "not a number" if math.isnan(after) else f"{after:.1%}"
    return f"MNIST test accuracy fell from {before:.1%} to {shown} (more than {MAX_MNIST_FALL * 100:g} points)"


def _checked_drawings(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Drawings as uint8 (N, 28, 28) and labels as uint8 (N,); ValueError naming x or y if they are not that."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"x must be one or more 28x28 drawings, shape (N, 28, 28), got {x.shape}")
    try:
        x = as_batch(x).reshape(-1, *IMAGE_SHAPE)
    except ValueError as exc:
        raise ValueError(f"x: {exc}") from None
    if y.shape != (len(x),):
        raise ValueError(f"y must hold one label per drawing, shape ({len(x)},), got {y.shape}")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= N_CLASSES:
        raise ValueError("y must be integer digits 0-9")
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8), y.astype(np.uint8)
