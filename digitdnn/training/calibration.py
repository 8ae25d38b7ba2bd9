"""Probabilities that mean what they say: expected calibration error and temperature scaling.

A network trained with cross-entropy is often over-confident on inputs unlike its training data
(90% sure and wrong). Temperature scaling divides the logits by one number T > 1 fitted on
held-out examples; the predicted digit never changes, only how sure the network says it is.
Because the output layer is linear before the softmax, T is folded into its weights: the scaled
model is an ordinary model of the same architecture.
"""
from __future__ import annotations

import numpy as np

from digitdnn.model import Classifier, load_layers

UNSURE_BELOW = 0.7   # below this top probability the page is "not sure" and names the runner-up (docs/benchmarks.md:
#                    held-out writers with foreign styles: 3.3% of all digits flagged, 59% of the wrong answers)
ECE_BINS = 15
TEMPERATURES = np.exp(np.linspace(np.log(0.5), np.log(5.0), 200))  # the grid fit_temperature searches


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by the bins' sizes."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def _scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.maximum(probabilities, 1e-30)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature (0.5 to 5) that minimises the cross-entropy of `probabilities` (N, 10) for `labels`."""
    labels = np.asarray(labels)
    losses = [-np.log(np.maximum(_scaled(probabilities, t)[np.arange(len(labels)), labels], 1e-30)).mean()
              for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def with_temperature(classifier: Classifier, temperature: float) -> Classifier:
    """A copy of `classifier` whose probabilities are softmax(logits / temperature); same predictions."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    *hidden, (w, b, activation) = classifier.layers
    layers = [*hidden, (w / np.float32(temperature), b / np.float32(temperature), activation)]
    import keras

    model = keras.models.clone_model(classifier.model)
    load_layers(model, layers)
    metadata = dict(classifier.metadata, temperature=float(temperature))
    return Classifier(model, metadata)
