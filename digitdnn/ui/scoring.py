"""A model's ten probabilities for one image, checked before any view shows them, and what a view says when the
model is not sure.

A model can pass every check at load time (finite weights, finite outputs on random pixels) and still overflow on
real ink, giving infinities and NaN. Every view that scores the drawing takes its probabilities from here, so such
an answer becomes one plain message (NO_USABLE_ANSWER) and never "nan%", a chart of NaN or an exception. Every view
that names one digit adds `not_sure`'s words when the model is unsure, so they all say it the same way.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from digitdnn.training.calibration import UNSURE_BELOW

if TYPE_CHECKING:
    from digitdnn.model import Classifier

NO_USABLE_ANSWER = ("This model gives no usable answer for this drawing (its numbers overflow): train a new model, "
                    "or open or upload another one.")


def probabilities(classifier: Classifier, image: np.ndarray) -> np.ndarray | None:
    """The classifier's ten probabilities for one (28, 28) image, or None when they are not usable numbers."""
    with np.errstate(all="ignore"):  # an overflow is reported as None, not as warnings in the server's log
        scores = np.asarray(classifier.predict_proba(image))[0]
    return scores if usable(scores) else None


def usable(scores: np.ndarray) -> bool:
    """Whether ten probabilities are numbers that can be shown: all finite."""
    return bool(np.isfinite(scores).all())


def not_sure(probabilities: np.ndarray, short: bool = False) -> str | None:
    """None when the top probability is at least UNSURE_BELOW; else "Not sure: 45% for 4. Runner-up: 9 (30%)."
    (short, for a caption under a thumbnail: "not sure, runner-up 9 (30%)")."""
    top, runner_up = (int(d) for d in np.argsort(-probabilities, kind="stable")[:2])  # top is argmax's digit
    if probabilities[top] >= UNSURE_BELOW:
        return None
    if short:
        return f"not sure, runner-up {runner_up} ({probabilities[runner_up]:.0%})"
    return f"Not sure: {probabilities[top]:.0%} for {top}. Runner-up: {runner_up} ({probabilities[runner_up]:.0%})."
