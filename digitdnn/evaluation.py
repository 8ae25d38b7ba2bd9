"""A classifier on a labelled test set: its probabilities, confusion matrix, and the mistakes behind each cell."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from digitdnn.model import N_CLASSES

BATCH_SIZE = 2000  # images per forward pass: bounds the memory of the hidden activations


@dataclass(frozen=True)
class Evaluation:
    """Every test image's true label and the ten probabilities the classifier gave it."""

    labels: np.ndarray         # (N,) int true digits
    probabilities: np.ndarray  # (N, 10) float32
    seconds: float = 0.0       # time the forward passes took

    @property
    def predicted(self) -> np.ndarray:
        """The most probable digit for each image, (N,)."""
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """The probability of the predicted digit, (N,)."""
        return self.probabilities.max(axis=1)

    @property
    def accuracy(self) -> float:
        """The share of images named correctly (0 for no images)."""
        return float((self.predicted == self.labels).mean()) if len(self.labels) else 0.0

    @property
    def correct(self) -> int:
        """How many images were named correctly."""
        return int((self.predicted == self.labels).sum())

    def digit_counts(self) -> np.ndarray:
        """(10,) int: how many images of each digit there are."""
        return np.bincount(self.labels, minlength=N_CLASSES)

    def digit_accuracy(self) -> np.ndarray:
        """(10,) float: the share of each digit's images named correctly (NaN for a digit with no images)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(self.confusion_matrix()) / self.digit_counts()

    def confusion_matrix(self) -> np.ndarray:
        """(10, 10) int counts: row = true digit, column = predicted digit."""
        matrix = np.zeros((N_CLASSES, N_CLASSES), np.int64)
        np.add.at(matrix, (self.labels, self.predicted), 1)
        return matrix

    def cell_indices(self, true: int, predicted: int) -> np.ndarray:
        """Indices of the images of digit `true` named `predicted`, most confident first."""
        found = np.flatnonzero((self.labels == true) & (self.predicted == predicted))
        return found[np.argsort(-self.confidence[found], kind="stable")]

    def confident_mistakes(self, count: int) -> np.ndarray:
        """Indices of up to `count` wrongly named images, the most confident mistakes first."""
        wrong = np.flatnonzero(self.predicted != self.labels)
        return wrong[np.argsort(-self.confidence[wrong], kind="stable")][:count]


def evaluate(classifier, images: np.ndarray, labels: np.ndarray, batch_size: int = BATCH_SIZE) -> Evaluation:
    """Run `classifier.predict_proba` over uint8 images (N, 28, 28) in batches.

    Args:
        classifier: anything with predict_proba((n, 28, 28) float32 in [0, 1]) -> (n, 10).
        images: (N, 28, 28) uint8 MNIST images (or floats already in [0, 1]).
        labels: (N,) true digits.
        batch_size: images per forward pass.
    Returns:
        An Evaluation holding the labels and the (N, 10) probabilities.
    """
    images = np.asarray(images)
    scale = np.float32(255) if images.dtype == np.uint8 else np.float32(1)
    started = time.perf_counter()
    parts = [classifier.predict_proba(images[i:i + batch_size].astype(np.float32) / scale)
             for i in range(0, len(images), batch_size)]
    probabilities = np.concatenate(parts) if parts else np.zeros((0, N_CLASSES), np.float32)
    return Evaluation(np.asarray(labels, dtype=np.int64), probabilities.astype(np.float32, copy=False),
                      time.perf_counter() - started)
