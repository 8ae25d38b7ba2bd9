"""A model that loads (finite weights, sane outputs on random pixels) but overflows on real ink, uploaded to the
page (AppTest): every view that scores the drawing says plainly that it gives no usable answer, never "nan%", a
chart of NaN or an exception; a correction still stores the drawing, without a model answer."""
import re
import sqlite3

import numpy as np
import pytest
from app_session import drawn_canvas, open_session, open_tab, texts
from streamlit.testing.v1 import AppTest

from digitdnn.imaging.preprocess import to_mnist
from digitdnn.model import IMAGE_SHAPE, N_CLASSES, N_PIXELS, Classifier
from digitdnn.storage.models import load_classifier_bytes, save_classifier

NO_USABLE_ANSWER = "This model gives no usable answer for this drawing"
NAN = re.compile(r"(?i)\bnan\b")
HUGE = np.float32(1e30)  # finite; a digit's ink times it, times the output weights, overflows float32


def overflowing_on_ink(tmp_path) -> bytes:
    """A .keras file whose one hidden unit is pushed up by ink in the middle of the image and down, harder, by
    pixels away from it: random pixels everywhere leave it at zero (finite outputs), a centred digit drives it to
    about 1e32 and the output layer to infinity."""
    middle = np.zeros(IMAGE_SHAPE, bool)
    middle[7:21, 7:21] = True
    w1 = np.where(middle, HUGE, -HUGE).reshape(N_PIXELS, 1).astype(np.float32)
    w2 = np.array([[1e10, -1e10] + [0.0] * (N_CLASSES - 2)], np.float32)
    layers = [(w1, np.zeros(1, np.float32), "relu"), (w2, np.zeros(N_CLASSES, np.float32), "softmax")]
    path = save_classifier(Classifier.from_layers(layers), tmp_path / "overflows.keras")
    return path.read_bytes()


def test_the_model_passes_the_load_checks_and_overflows_on_ink(tmp_path):
    classifier = load_classifier_bytes(overflowing_on_ink(tmp_path), "overflows.keras")  # no ModelLoadError
    with np.errstate(all="ignore"):
        assert not np.isfinite(classifier.predict_proba(to_mnist(drawn_canvas(3).image_data))).all()


def fake_canvas(**kwargs):
    """The canvas component, returning the drawing of the digit in session_state["test_digit"] (none before)."""
    import streamlit as st

    digit = st.session_state.get("test_digit")
    if digit is None:
        return type("Blank", (), {"image_data": None, "json_data": {"objects": []}})()
    return drawn_canvas(digit)


def probability_charts(at: AppTest) -> list:
    """The bar charts of ten probabilities on the page (charts.probability_bars)."""
    return [chart for chart in at.get("vega_lite_chart") if "probability for each digit" in chart.proto.spec]


@pytest.fixture
def db(tmp_path):
    return tmp_path / "class" / "drawings.sqlite"


@pytest.fixture
def page(page_env, db, tmp_path, monkeypatch) -> AppTest:
    """The page with a 3 drawn on its canvas, then the overflowing model uploaded (the active model)."""
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(db))
    at = open_session()
    monkeypatch.setattr("digitdnn.ui.draw.st_canvas", fake_canvas)
    at.session_state["test_digit"] = 3
    at.run()
    assert "Prediction: 3" in texts(at) and probability_charts(at)  # the default model names it, with its bars
    at.file_uploader(key="upload").set_value(("overflows.keras", overflowing_on_ink(tmp_path),
                                              "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    assert "overflows.keras loaded" in texts(at)
    return at


def test_the_prediction_says_the_model_gives_no_usable_answer(page):
    shown = texts(page)
    assert NO_USABLE_ANSWER in shown
    assert "Prediction:" not in shown and not NAN.search(shown) and "% sure" not in shown
    assert not probability_charts(page)  # no chart of NaN


def test_a_correction_stores_the_drawing_without_a_model_answer(page, db):
    assert not page.button(key="correct_3").disabled
    page.button(key="correct_3").click().run()
    assert not page.exception, page.exception
    assert "Stored, labelled 3 (the model gave no usable answer)" in texts(page)
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT label, predicted, probabilities FROM drawings").fetchall()
    assert rows == [(3, None, None)]


def test_inside_and_fool_it_say_so_too(page):
    for key in ("inside_open", "fool_open"):
        page.session_state[key] = True
    page.run()
    assert not page.exception, page.exception
    shown = texts(page)
    assert shown.count(NO_USABLE_ANSWER) >= 3 and not NAN.search(shown)
    assert not probability_charts(page)


def test_the_mnist_tab_says_so_for_an_image_it_overflows_on(page):
    page.session_state["data_digit"] = 1  # a 1 is ink down the middle: this model overflows on it
    open_tab(page, "MNIST data")
    assert not page.exception, page.exception
    assert texts(page).count(NO_USABLE_ANSWER) == 2 and not probability_charts(page)  # the drawing and the image


def test_watch_it_learn_leaves_out_the_epochs_with_no_usable_answer(page_env):
    from digitdnn.ui.state import Session, WatchRecord

    sure_of_3 = np.eye(N_CLASSES, dtype=np.float32)[3]
    overflowed = np.full(N_CLASSES, np.nan, np.float32)
    record = WatchRecord(None, to_mnist(drawn_canvas(3).image_data), "Run 1", ((2, overflowed), (1, sure_of_3)))
    at = open_session(state={"session": Session(watched=record)})
    shown = texts(at)
    assert NO_USABLE_ANSWER in shown and "Run 1 after epoch 1: **3** (100%)" in shown and not NAN.search(shown)
