"""Expected calibration error and temperature scaling."""
import numpy as np
import pytest

from digitdnn.training.calibration import expected_calibration_error, fit_temperature, with_temperature


def _overconfident(n=4000, seed=0):
    """Probabilities that say 99% but are right 70% of the time."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    predicted = np.where(rng.uniform(size=n) < 0.7, labels, (labels + 1) % 10)
    p = np.full((n, 10), 0.01 / 9)
    p[np.arange(n), predicted] = 0.99
    return p, labels


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    p, labels = _overconfident()
    assert expected_calibration_error(p, labels) == pytest.approx(0.29, abs=0.02)
    right = np.eye(10)[labels]
    assert expected_calibration_error(right, labels) == 0.0


def test_a_fitted_temperature_softens_overconfident_probabilities():
    p, labels = _overconfident()
    temperature = fit_temperature(p, labels)
    assert temperature > 1.5
    from digitdnn.training.calibration import _scaled

    scaled = _scaled(p, temperature)
    assert expected_calibration_error(scaled, labels) < 0.05
    assert np.array_equal(scaled.argmax(1), p.argmax(1))


def test_with_temperature_keeps_predictions_and_lowers_confidence(small_mnist):
    from digitdnn import TrainConfig, train

    clf, _ = train(TrainConfig(hidden_units=(32,), optimizer="adam", learning_rate=1e-3, epochs=1), small_mnist)
    x = small_mnist.x_test[:200] / np.float32(255)
    cooled = with_temperature(clf, 2.0)
    assert np.array_equal(cooled.predict(x), clf.predict(x))
    assert cooled.predict_proba(x).max(1).mean() < clf.predict_proba(x).max(1).mean()
    assert cooled.metadata["temperature"] == 2.0
    assert np.allclose(cooled.model(x).numpy(), cooled.predict_proba(x), atol=1e-5)  # the Keras model agrees
    with pytest.raises(ValueError):
        with_temperature(clf, 0.0)
