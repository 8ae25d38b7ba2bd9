"""digitdnn.evaluation: accuracy overall and per digit, confusion matrix, the images behind a cell, the most confident
mistakes."""
import numpy as np
import pytest

from digitdnn.evaluation import Evaluation, evaluate
from digitdnn.storage.models import load_classifier


class FixedAnswers:
    """A stand-in classifier that gives preset probabilities, batch by batch, and counts its calls."""

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, np.float32)
        self.given = 0
        self.batches = []

    def predict_proba(self, x):
        assert x.dtype == np.float32 and x.max() <= 1.0
        n = len(x)
        self.batches.append(n)
        out = self.probabilities[self.given:self.given + n]
        self.given += n
        return out


def one_hot_ish(said, confidence):
    """Probabilities that name `said[i]` with `confidence[i]` and spread the rest evenly."""
    p = np.array([[(1 - c) / 9] * 10 for c in confidence], np.float32)
    p[np.arange(len(said)), said] = confidence
    return p


LABELS = np.array([3, 3, 3, 5, 5, 7, 7, 1])
SAID = np.array([3, 5, 5, 5, 3, 7, 1, 1])
CONFIDENCE = np.array([0.9, 0.6, 0.95, 0.8, 0.7, 0.99, 0.5, 0.9])


@pytest.fixture
def evaluation():
    images = np.zeros((len(LABELS), 28, 28), np.uint8)
    classifier = FixedAnswers(one_hot_ish(SAID, CONFIDENCE))
    result = evaluate(classifier, images, LABELS, batch_size=3)
    assert classifier.batches == [3, 3, 2]
    return result


def test_confusion_matrix_counts_true_rows_and_predicted_columns(evaluation):
    matrix = evaluation.confusion_matrix()
    assert matrix.shape == (10, 10) and matrix.sum() == len(LABELS)
    assert matrix[3, 3] == 1 and matrix[3, 5] == 2 and matrix[5, 3] == 1 and matrix[7, 1] == 1
    assert np.trace(matrix) == 4
    assert evaluation.accuracy == pytest.approx(4 / 8)


def test_per_digit_counts_and_accuracy(evaluation):
    assert evaluation.correct == 4
    counts = evaluation.digit_counts()
    assert counts.shape == (10,) and list(counts[[1, 3, 5, 7]]) == [1, 3, 2, 2] and counts.sum() == 8
    accuracy = evaluation.digit_accuracy()
    np.testing.assert_allclose(accuracy[[1, 3, 5, 7]], [1.0, 1 / 3, 0.5, 0.5])
    assert np.isnan(accuracy[0])  # no image of a 0: no accuracy, not 0%


def test_cell_indices_are_that_cells_images_most_confident_first(evaluation):
    assert list(evaluation.cell_indices(3, 5)) == [2, 1]
    assert list(evaluation.cell_indices(1, 1)) == [7]
    assert list(evaluation.cell_indices(0, 9)) == []


def test_confident_mistakes_are_the_wrong_ones_surest_first(evaluation):
    assert list(evaluation.confident_mistakes(10)) == [2, 4, 1, 6]
    assert list(evaluation.confident_mistakes(2)) == [2, 4]


def test_images_are_scaled_to_the_unit_range():
    seen = []

    class Spy:
        def predict_proba(self, x):
            seen.append(x.copy())
            return np.full((len(x), 10), 0.1, np.float32)

    images = np.full((2, 28, 28), 255, np.uint8)
    evaluate(Spy(), images, np.array([0, 1]))
    assert seen[0].max() == 1.0 and seen[0].shape == (2, 28, 28)


def test_an_empty_test_set_gives_an_empty_evaluation():
    result = evaluate(FixedAnswers(np.zeros((0, 10))), np.zeros((0, 28, 28), np.uint8), np.zeros(0))
    assert result.confusion_matrix().sum() == 0 and result.accuracy == 0.0
    assert isinstance(result, Evaluation)


def test_the_default_model_on_the_test_set_matches_its_predictions(mnist, default_model):
    classifier = load_classifier(default_model)
    images, labels = mnist.x_test[:3000], mnist.y_test[:3000]
    result = evaluate(classifier, images, labels)
    expected = classifier.predict(images.astype(np.float32) / 255)
    np.testing.assert_array_equal(result.predicted, expected)
    matrix = result.confusion_matrix()
    assert matrix.sum() == 3000
    assert np.trace(matrix) / 3000 > 0.95
    assert (np.diag(matrix) == matrix.max(axis=1)).all()  # every digit is most often named right
