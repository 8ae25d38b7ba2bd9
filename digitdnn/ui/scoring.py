"""A model's ten probabilities for one image, checked before any view shows them.

A model can pass every check at load time (finite weights, finite outputs on random pixels) and still overflow on
real ink, giving infinities and NaN. Every view that scores the drawing takes its probabilities from here, so such
an answer becomes one plain message (NO_USABLE_ANSWER) and never "nan%", a chart of NaN or an exception.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

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
