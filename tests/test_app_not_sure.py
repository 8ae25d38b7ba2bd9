"""A model that is never sure, uploaded to the page (AppTest): every view that names one digit says "not sure" and
names the runner-up with its probability, in the same words (scoring.not_sure)."""
import numpy as np
import pytest
from app_session import drawn_canvas, open_session, open_tab, texts
from test_app_teaching import galleries

from digitdnn.imaging.preprocess import to_mnist
from digitdnn.model import N_CLASSES, N_PIXELS, Classifier
from digitdnn.storage.models import save_classifier
from digitdnn.training.calibration import UNSURE_BELOW
from digitdnn.ui.scoring import not_sure

UNSURE = np.full(N_CLASSES, 0.02, np.float32)
UNSURE[4], UNSURE[9] = 0.5, 0.34  # whatever it is shown, it says 4 (50%), runner-up 9 (34%)
SENTENCE = "Not sure: 50% for 4. Runner-up: 9 (34%)."


def never_sure(tmp_path) -> bytes:
    """A .keras file whose answer is UNSURE for every input: no weights, only the output layer's biases."""
    layers = [(np.zeros((N_PIXELS, 1), np.float32), np.zeros(1, np.float32), "relu"),
              (np.zeros((1, N_CLASSES), np.float32), np.log(UNSURE), "softmax")]
    return save_classifier(Classifier.from_layers(layers), tmp_path / "unsure.keras").read_bytes()


def test_not_sure_names_the_runner_up_below_the_threshold_only():
    assert not_sure(UNSURE) == SENTENCE
    assert not_sure(UNSURE, short=True) == "not sure, runner-up 9 (34%)"
    sure = np.full(N_CLASSES, (1 - UNSURE_BELOW) / 9, np.float32)
    sure[2] = UNSURE_BELOW
    assert not_sure(sure) is None
    tie = np.zeros(N_CLASSES, np.float32)
    tie[[3, 5]] = 0.5
    assert not_sure(tie) == "Not sure: 50% for 3. Runner-up: 5 (50%)."  # the digit argmax names, then the other


@pytest.fixture
def page(page_env, tmp_path, monkeypatch):
    """The page with a 3 drawn on its canvas and the never-sure model uploaded (the active model)."""
    at = open_session()
    monkeypatch.setattr("digitdnn.ui.draw.st_canvas", lambda **kwargs: drawn_canvas(3))
    at.file_uploader(key="upload").set_value(("unsure.keras", never_sure(tmp_path), "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    assert "unsure.keras loaded" in texts(at)
    return at


def sentences(at) -> list[str]:
    return [w.value for w in at.warning if w.value == SENTENCE]


def test_every_view_that_names_a_digit_says_not_sure_with_the_runner_up(page):
    from digitdnn.ui.state import WatchRecord

    assert "Prediction: 4" in texts(page) and len(sentences(page)) == 1  # the drawing's prediction

    page.session_state["fool_open"] = True  # try to fool it: the distorted input's answer
    page.run()
    assert not page.exception, page.exception
    assert len(sentences(page)) == 2 and "**Network: 4** (50.0%)" in texts(page)
    page.session_state["fool_open"] = False

    open_tab(page, "MNIST data")  # the active model's answer on an MNIST image
    assert not page.exception, page.exception
    assert len(sentences(page)) == 2 and "says **4** (50%)" in texts(page)

    open_tab(page, "Mistakes")  # every test image's caption
    assert not page.exception, page.exception
    captions = [caption for gallery in galleries(page) for caption in gallery.captions]
    assert captions and all(c.startswith("said 4 50% · not sure, runner-up 9 (34%)") for c in captions)

    drawing = to_mnist(drawn_canvas(3).image_data)  # watch it learn: the drawing after the run's last epoch
    page.session_state["session"].watched = WatchRecord(None, drawing, "Run 1", ((1, UNSURE),))
    open_tab(page, "Learning curves")
    assert not page.exception, page.exception
    assert f"Run 1 after epoch 1: **4** (50%). {SENTENCE} Each line" in texts(page)
