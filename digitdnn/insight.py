"""Inside a trained network: first-layer weights as 28x28 tiles, and which hidden units push a drawing towards a digit.

A unit's push towards digit d is gradient x input: its activation times its effective
weight to d's margin, the logit of d minus the mean of the ten logits (softmax ignores
what raises every logit alike). For the last hidden layer the effective weight is the
output weight itself, so its pushes add up to the margin minus the output biases' share.
Everything is numpy on ``Classifier.layers`` and ``Classifier.hidden_activations``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitdnn.model import IMAGE_SHAPE


@dataclass(frozen=True)
class UnitPush:
    """One hidden unit's part in the margin of a digit for one image."""

    layer: int          # 1 = first hidden layer
    unit: int           # index in its layer
    activation: float   # the unit's output for the image
    weight: float       # effective weight: d(margin of the digit) / d(activation)
    push: float         # activation * weight: > 0 pushes towards the digit, < 0 away from it


def weight_tiles(classifier) -> np.ndarray:
    """The first hidden layer's incoming weights, one 28x28 tile per unit: (units, 28, 28) float32."""
    w = classifier.layers[0][0]
    return np.ascontiguousarray(w.T).reshape(-1, *IMAGE_SHAPE)


def _slope(activation: np.ndarray, name: str) -> np.ndarray:
    """The activation function's derivative, written in terms of its output."""
    if name == "relu":
        return (activation > 0).astype(np.float32)
    if name == "elu":
        return np.where(activation > 0, 1.0, activation + 1.0).astype(np.float32)
    if name == "tanh":
        return 1.0 - activation * activation
    if name == "sigmoid":
        return activation * (1.0 - activation)
    raise ValueError(f"unsupported activation {name!r}")


def effective_weights(classifier, image: np.ndarray, digit: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For one (28, 28) image: every hidden layer's activations, (units,) each, and the effective weights
    d(margin of `digit`) / d(activation) of its units, by backpropagation in numpy."""
    if not 0 <= int(digit) <= 9:
        raise ValueError(f"digit must be 0 to 9, got {digit!r}")
    activations = [a[0] for a in classifier.hidden_activations(image)]
    *hidden, (w_out, _, _) = classifier.layers
    weight = w_out[:, digit] - w_out.mean(axis=1)
    weights = [weight]
    for (w, _, name), a in zip(hidden[:0:-1], activations[:0:-1], strict=True):
        weight = w @ (_slope(a, name) * weight)
        weights.insert(0, weight)
    return activations, weights


def pushes(classifier, image: np.ndarray, digit: int) -> list[np.ndarray]:
    """Every hidden unit's push towards `digit` for one (28, 28) image: a (units,) array per hidden layer."""
    activations, weights = effective_weights(classifier, image, digit)
    return [a * w for a, w in zip(activations, weights, strict=True)]


def strongest_pushes(classifier, image: np.ndarray, digit: int,
                     count: int = 5) -> tuple[list[UnitPush], list[UnitPush]]:
    """The `count` units (all layers together) pushing hardest towards `digit`, and the `count` pushing hardest
    against it; each list strongest first, only units whose push has that sign."""
    activations, weights = effective_weights(classifier, image, digit)
    layer_of = np.concatenate([np.full(a.size, i) for i, a in enumerate(activations)])
    unit_of = np.concatenate([np.arange(a.size) for a in activations])
    every_activation, every_weight = np.concatenate(activations), np.concatenate(weights)
    every_push = every_activation * every_weight
    order = np.argsort(-every_push, kind="stable")

    def unit(i: int) -> UnitPush:
        return UnitPush(int(layer_of[i]) + 1, int(unit_of[i]), float(every_activation[i]), float(every_weight[i]),
                        float(every_push[i]))

    towards = [unit(i) for i in order[:count] if every_push[i] > 0]
    against = [unit(i) for i in order[::-1][:count] if every_push[i] < 0]
    return towards, against


def units_by_importance(classifier, image: np.ndarray | None, digit: int | None) -> np.ndarray:
    """First-layer unit indices, the largest |push| towards `digit` for `image` first;
    without an image, the units with the largest weights first."""
    if image is None or digit is None:
        return np.argsort(-np.abs(classifier.layers[0][0]).sum(axis=0), kind="stable")
    return np.argsort(-np.abs(pushes(classifier, image, digit)[0]), kind="stable")


def mosaic(tiles: np.ndarray, columns: int, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """Tiles (n, h, w) laid out row by row, `columns` to a row, `gap` pixels of `fill` between them."""
    n, h, w = tiles.shape
    rows = max(1, -(-n // columns))
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), fill, np.float32)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return out
