"""The sidebar's training data choice: MNIST alone, or MNIST and the pen digits (drawn once per server, then kept)."""
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from digitdnn.pendigits import load_pen_digits, split_by_writer
from test_app import APP, TEST_DATA_LIMIT, run_until


@pytest.fixture
def small_pen(tmp_path):
    """40 digits of training writers and 10 of held-out ones."""
    pen = load_pen_digits()
    train, held = split_by_writer(pen)
    path = tmp_path / "pen.npz"
    pen.subset(np.concatenate([train[:40], held[:10]])).save(path)
    return path


@pytest.fixture
def page(default_model, small_pen, tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("DIGITDNN_DEFAULT_MODEL", str(default_model))
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", TEST_DATA_LIMIT)
    monkeypatch.setenv("DIGITDNN_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("DIGITDNN_PEN_DIGITS", str(small_pen))
    monkeypatch.setenv("DIGITDNN_CACHE_DIR", str(tmp_path / "cache"))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def train_one_epoch(at: AppTest):
    at.selectbox(key="preset").set_value("Tiny").run()
    at.slider(key="epochs").set_value(1).run()
    at.button(key="train").click().run()
    run_until(at, lambda page: page.session_state["session"].job is None)
    return at.session_state["session"].models[-1]


def test_training_on_mnist_and_pen_digits_adds_the_training_writers_digits(page, tmp_path):
    assert page.radio(key="training_data").value == "MNIST"
    n_train = int(TEST_DATA_LIMIT.split(",")[0])
    plain = train_one_epoch(page)
    assert plain.metadata["train_images"] == n_train and "pen digits" not in plain.name
    page.radio(key="training_data").set_value("MNIST + pen digits").run()
    with_pen = train_one_epoch(page)
    assert with_pen.name.startswith("Run 2 (+ pen digits): ")
    # The 40 training writers' digits, drawn twice each; the 10 held-out writers' digits never.
    assert with_pen.metadata["train_images"] == n_train + 2 * 40
    assert list((tmp_path / "cache").glob("pen-drawings-*.npz"))  # kept for the next server
