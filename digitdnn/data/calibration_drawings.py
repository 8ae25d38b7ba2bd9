"""The calibration writers' pen digits drawn as the canvas would, kept, and a temperature fitted on them.

The calibration writers are neither trained on nor measured (pendigits.calibration_indices). Their digits are
drawn with other hands and foreign styles, as writers from elsewhere would write them, so that a temperature
fitted on them keeps a model's probabilities honest on handwriting unlike its training data. They are drawn once
per (pen set, CALIBRATION_SEED, DRAWING_VERSION) and kept in the MNIST cache folder (pen_training.kept_drawings).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from digitdnn.data.pen_training import draw_pen_digits, kept_drawings
from digitdnn.data.pendigits import PenDigits, calibration_indices, load_pen_digits
from digitdnn.model import Classifier
from digitdnn.training.calibration import fit_temperature, with_temperature

CALIBRATION_SEED = 7    # the calibration writers are drawn with this seed


def calibration_drawings(pen: PenDigits | None = None, *, cache_dir: str | Path | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The calibration writers' digits of `pen` (default: load_pen_digits()) drawn once each: uint8 images
    (N, 28, 28) and their labels (N,), read from the MNIST cache folder when drawn before."""
    pen = pen or load_pen_digits()

    def draw() -> tuple[np.ndarray, np.ndarray]:
        x, y, _ = draw_pen_digits(pen, calibration_indices(pen), seed=CALIBRATION_SEED)
        return x, y

    return kept_drawings(pen, f"calibration-drawings-s{CALIBRATION_SEED}", draw, cache_dir)


def calibrate(classifier: Classifier, pen: PenDigits | None = None, *, cache_dir: str | Path | None = None,
              drawings: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Classifier, float]:
    """`classifier` with a temperature fitted on the calibration drawings folded into its output layer (metadata
    "temperature"; the same predictions), and that temperature.

    Args:
        drawings: what calibration_drawings(pen, cache_dir=cache_dir) returned, if it was called already.
    Raises ValueError when its probabilities on the drawings are not finite numbers (a diverged network), and
    PenDigitsError (a ValueError) when the pen set cannot be read.
    """
    x, y = drawings if drawings is not None else calibration_drawings(pen, cache_dir=cache_dir)
    with np.errstate(all="ignore"):
        probabilities = classifier.predict_proba(x / np.float32(255))
    if not np.isfinite(probabilities).all():
        raise ValueError("its probabilities on the calibration drawings are not finite numbers")
    temperature = fit_temperature(probabilities, y)
    return with_temperature(classifier, temperature), temperature
