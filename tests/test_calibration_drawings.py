"""The calibration writers' drawings, drawn once and kept; a temperature fitted on them; page runs end calibrated."""
import logging
from concurrent.futures import Future

import numpy as np
import pytest

import digitdnn.data.calibration_drawings as calibration_drawings
from digitdnn.config import TrainConfig
from digitdnn.data.calibration_drawings import CALIBRATION_SEED
from digitdnn.data.pen_training import DRAWING_VERSION
from digitdnn.data.pendigits import calibration_indices
from digitdnn.training.calibration import with_temperature
from digitdnn.training.history import History, TrainResult
from digitdnn.training.process import _calibrated

TINY = TrainConfig(hidden_units=(16,), optimizer="adam", learning_rate=0.005, batch_size=100, epochs=1)
FEW = 60  # calibration digits drawn in these tests (all 1,300 take seconds)


@pytest.fixture
def drawn(monkeypatch) -> list:
    """The indices every call of draw_pen_digits was asked for; only their first FEW are drawn."""
    seen = []
    real = calibration_drawings.draw_pen_digits

    def counted(pen, indices, **options):
        seen.append((np.asarray(indices), options))
        return real(pen, indices[:FEW], **options)

    monkeypatch.setattr(calibration_drawings, "draw_pen_digits", counted)
    return seen


@pytest.fixture(scope="module")
def trained(small_mnist):
    from digitdnn.training.loop import train

    return train(TINY, small_mnist.head(1000, 200))


def test_the_drawings_are_drawn_once_and_kept(pen, drawn, tmp_path):
    x, y = calibration_drawings.calibration_drawings(pen, cache_dir=tmp_path)
    (indices, options), = drawn
    assert np.array_equal(indices, calibration_indices(pen)) and options == {"seed": CALIBRATION_SEED}
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and len(x) == len(y) > FEW - 5
    (kept,) = tmp_path.glob("calibration-drawings-*.npz")
    assert f"-s{CALIBRATION_SEED}-" in kept.name and kept.name.endswith(f"-v{DRAWING_VERSION}.npz")
    again_x, again_y = calibration_drawings.calibration_drawings(pen, cache_dir=tmp_path)
    assert len(drawn) == 1  # read back, not drawn again
    assert np.array_equal(again_x, x) and np.array_equal(again_y, y)
    calibration_drawings.calibration_drawings(pen.subset(np.arange(3000)), cache_dir=tmp_path)
    assert len(drawn) == 2 and len(list(tmp_path.glob("calibration-drawings-*.npz"))) == 2  # another set: its own


def test_an_unreadable_or_unwritable_cache_is_only_logged(pen, drawn, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    x, _ = calibration_drawings.calibration_drawings(pen, cache_dir=tmp_path)
    (kept,) = tmp_path.glob("calibration-drawings-*.npz")
    kept.write_bytes(b"not an npz file")
    again, _ = calibration_drawings.calibration_drawings(pen, cache_dir=tmp_path)
    assert len(drawn) == 2 and np.array_equal(again, x) and "are unreadable; drawing them again" in caplog.text
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    unkept, _ = calibration_drawings.calibration_drawings(pen, cache_dir=blocked)
    assert np.array_equal(unkept, x) and "could not keep the pen-digit drawings" in caplog.text


def test_calibrate_folds_a_temperature_in_and_keeps_the_predictions(pen, drawn, tmp_path, trained, small_mnist):
    calibrated, temperature = calibration_drawings.calibrate(trained.classifier, pen, cache_dir=tmp_path)
    assert 0.5 <= temperature <= 5.0 and temperature != 1.0
    assert calibrated.metadata["temperature"] == temperature
    assert calibrated.metadata["config"] == trained.classifier.metadata["config"]
    x = small_mnist.x_test[:200] / np.float32(255)
    np.testing.assert_array_equal(calibrated.predict(x), trained.classifier.predict(x))
    assert not np.allclose(calibrated.predict_proba(x), trained.classifier.predict_proba(x), atol=1e-3)


def test_a_network_with_no_finite_answer_is_not_calibrated(trained):
    *hidden, (w, b, activation) = trained.classifier.layers
    broken = type(trained.classifier).from_layers([*hidden, (w, np.full_like(b, np.nan), activation)])
    drawings = (np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3], np.uint8))
    with pytest.raises(ValueError, match="not finite"):
        calibration_drawings.calibrate(broken, drawings=drawings)


def done(value=None, error: Exception | None = None) -> Future:
    future: Future = Future()
    future.set_exception(error) if error else future.set_result(value)
    return future


def test_a_finished_page_run_is_calibrated_unless_it_diverged_or_calibration_fails(trained, pen, drawn, tmp_path,
                                                                                   caplog):
    drawings = done(calibration_drawings.calibration_drawings(pen, cache_dir=tmp_path))
    history = trained.history
    stopped = TrainResult(trained.classifier, History(history.config, history.epochs, "stopped", "stopped"))
    calibrated = _calibrated(stopped, drawings)
    assert calibrated.classifier.metadata["temperature"] > 0 and calibrated.history is stopped.history

    diverged = TrainResult(trained.classifier, History(history.config, history.epochs, "diverged", "loss is NaN"))
    assert _calibrated(diverged, drawings) is diverged
    no_epoch = TrainResult(trained.classifier, History(history.config, [], "stopped", "stopped"))
    assert _calibrated(no_epoch, drawings) is no_epoch

    caplog.set_level(logging.WARNING)
    from digitdnn.data.pendigits import PenDigitsError

    unreadable = done(error=PenDigitsError("cannot read pen digits"))
    assert _calibrated(stopped, unreadable) is stopped
    assert "kept uncalibrated" in caplog.text and "cannot read pen digits" in caplog.text


def test_a_run_trained_in_a_child_process_ends_calibrated(small_mnist, pen, tmp_path, monkeypatch):
    """A page-style run (a TrainingJob in a child process) with a small pen set and its own cache folder."""
    from digitdnn.training.jobs import TrainingJob
    from digitdnn.training.loop import train

    small_pen = tmp_path / "pen.npz"
    pen.subset(calibration_indices(pen)[:FEW]).save(small_pen)
    monkeypatch.setenv("DIGITDNN_PEN_DIGITS", str(small_pen))
    monkeypatch.setenv("DIGITDNN_CACHE_DIR", str(tmp_path / "cache"))
    data = small_mnist.head(1000, 200)
    job = TrainingJob(TINY, data, separate_process=True).start()
    assert job.join(120)
    progress = job.progress()
    assert progress.status == "completed", progress.error
    classifier = progress.result.classifier
    assert progress.classifier is classifier
    temperature = classifier.metadata["temperature"]
    assert 0.5 <= temperature <= 5.0
    assert len(list((tmp_path / "cache").glob("calibration-drawings-*.npz"))) == 1
    uncalibrated = train(TINY, data).classifier  # the same config and seed: the same weights, uncalibrated
    x = data.x_test / np.float32(255)
    np.testing.assert_array_equal(classifier.predict(x), uncalibrated.predict(x))
    np.testing.assert_allclose(classifier.predict_proba(x),
                               with_temperature(uncalibrated, temperature).predict_proba(x), atol=1e-4)
