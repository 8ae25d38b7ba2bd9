"""The page's teaching views without a browser (AppTest): inside the network, try to fool it, the settings in the
address, presenter mode."""

import numpy as np
import pytest
from app_session import open_session
from PIL import Image
from streamlit.testing.v1 import AppTest

from digitdnn.presets import DEFAULT_PRESET, PAGE_DEFAULT, PRESETS
from digitdnn.ui.hyperparameters import config_from_state
from digitdnn.ui.try_to_fool_it import SLIDERS

ADVANCED_KEYS = ("layers", "units_1", "activation", "optimizer", "learning_rate", "batch_size", "dropout", "augment")


def open_page(**params: str) -> AppTest:
    """A new session of the page, opened at an address with these query parameters."""
    return open_session(params, PANELS_OPEN)


def sidebar_keys(at: AppTest) -> set[str]:
    return {w.key for kind in ("slider", "select_slider", "selectbox", "number_input", "checkbox")
            for w in getattr(at.sidebar, kind)}


def expander(at: AppTest, label: str):
    (found,) = [e for e in at.expander if e.label == label]
    return found


def test_the_page_has_the_inside_and_fool_it_panels(page_env):
    at = open_page()
    inside = expander(at, "Inside the network")
    assert at.radio(key="inside_digit").value == "predicted"
    assert len(inside.get("image")) == 1  # the first layer's weight tiles show before anything is drawn
    assert "largest weights" in " ".join(c.value for c in inside.caption)
    fool = expander(at, "Try to fool it")
    assert {s.key: s.value for s in fool.slider} == {key: spec[3] for key, spec in SLIDERS.items()}
    assert at.toggle(key="fool_naive").value is False
    assert "Draw a digit first" in " ".join(c.value for c in fool.caption)


def test_the_address_sets_the_sidebar_and_follows_its_changes(page_env):
    at = open_page(units="64,32,16", optimizer="adam", lr="0.001", epochs="3", augment="1")
    expected = PAGE_DEFAULT.replace(hidden_units=(64, 32, 16), optimizer="adam", learning_rate=0.001, epochs=3,
                                    augment=True)
    assert config_from_state(at.session_state) == expected
    assert at.slider(key="layers").value == 3 and at.number_input(key="units_3").value == 16
    assert at.selectbox(key="optimizer").value == "adam" and at.checkbox(key="augment").value is True
    assert not at.sidebar.warning
    assert at.query_params == {"units": "64,32,16", "optimizer": "adam", "lr": "0.001", "epochs": "3",
                               "augment": "1"}
    assert "?units=64,32,16&optimizer=adam&lr=0.001&epochs=3&augment=1" in at.sidebar.code[0].value

    at.slider(key="epochs").set_value(7).run()
    assert at.query_params["epochs"] == "7"
    at.selectbox(key="preset").set_value(DEFAULT_PRESET).run()  # the page's defaults: an empty address
    assert config_from_state(at.session_state) == PAGE_DEFAULT
    assert at.query_params == {}

    at.selectbox(key="preset").set_value("Tiny").run()
    student = open_page(**at.query_params)  # a student opens the teacher's link
    assert config_from_state(student.session_state) == PRESETS["Tiny"]
    assert student.query_params == at.query_params


def test_hostile_addresses_are_clamped_or_refused_with_a_message(page_env):
    at = open_page(units="-5,100,3,4,5", epochs=str(10**9), optimizer="turbo", lr="zero", seed="<b>x</b>")
    assert not at.exception
    assert config_from_state(at.session_state) == PAGE_DEFAULT.replace(hidden_units=(1, 100, 3, 4), epochs=50)
    (warning,) = at.sidebar.warning
    for name in ("units", "epochs", "optimizer", "lr", "seed"):
        assert f"Parameter “{name}”" in warning.value
    assert at.query_params == {"units": "1,100,3,4", "epochs": "50"}  # the address now says what is used
    at.slider(key="epochs").set_value(4).run()
    assert not at.sidebar.warning  # the settings changed: the message has done its job


PRESENTER_HEADING = "--digitdnn-heading: 3.6rem"  # presenter mode's larger prediction (digitdnn/ui/page_address.py)


def test_presenter_mode_hides_the_advanced_controls_and_keeps_their_values(page_env):
    at = open_page(presenter="1", optimizer="adam")
    assert at.toggle(key="presenter").value is True
    keys = sidebar_keys(at)
    assert {"preset", "epochs"} <= keys and not keys & set(ADVANCED_KEYS)
    assert at.query_params == {"optimizer": "adam", "presenter": "1"}
    assert any(PRESENTER_HEADING in str(h.proto.body) for h in at.get("html"))
    at.slider(key="epochs").set_value(2).run()
    at.run()
    assert config_from_state(at.session_state) == PAGE_DEFAULT.replace(optimizer="adam", epochs=2)

    at.toggle(key="presenter").set_value(False).run()
    assert set(ADVANCED_KEYS) <= sidebar_keys(at)
    assert at.selectbox(key="optimizer").value == "adam"
    assert at.query_params == {"optimizer": "adam", "epochs": "2"}
    assert not any(PRESENTER_HEADING in str(h.proto.body) for h in at.get("html"))


PANELS_OPEN = {"inside_open": True, "fool_open": True}  # the expanders' state keys: their content is made when open


def test_the_panels_are_made_only_when_opened(page_env):
    at = open_session()
    assert not expander(at, "Inside the network").get("image") and not expander(at, "Try to fool it").slider


def panels(model_path: str, canvas) -> None:
    """The two panels for one drawing, as the drawing fragment shows them."""
    from digitdnn.imaging.preprocess import preprocess_steps
    from digitdnn.ui import inside_the_network, server_state, try_to_fool_it

    classifier = server_state.default_classifier(model_path)
    steps = preprocess_steps(canvas)
    inside_the_network.show(steps, classifier)
    try_to_fool_it.show(steps, classifier)


@pytest.fixture
def drawn(default_model, small_mnist) -> AppTest:
    """The panels for an MNIST 7 enlarged onto a 280 x 280 canvas."""
    seven = Image.fromarray(small_mnist.x_test[0]).resize((280, 280), Image.Resampling.BILINEAR)
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., :3] = np.asarray(seven)[..., None]
    canvas[..., 3] = 255
    at = AppTest.from_function(panels, args=(str(default_model), canvas), default_timeout=60)
    for key, value in PANELS_OPEN.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_inside_shows_tiles_activations_and_the_units_for_and_against_a_digit(drawn):
    inside = expander(drawn, "Inside the network")
    text = " ".join(m.value for m in inside.markdown)
    assert "towards 7" in text and "layer by layer" in text
    assert "this drawing and digit 7" in " ".join(c.value for c in inside.caption)
    towards, against = inside.dataframe
    assert (towards.value["push"] > 0).all() and (against.value["push"] < 0).all()
    assert list(towards.value.columns) == ["layer", "unit", "activation", "weight", "push"]
    # weight tiles, one activation grid per hidden layer (at least one), first-layer pushers' tiles
    assert len(inside.get("image")) >= 3

    drawn.radio(key="inside_digit").set_value(1).run()
    inside = expander(drawn, "Inside the network")
    assert "towards 1" in " ".join(m.value for m in inside.markdown)
    assert "digit 1" in " ".join(c.value for c in inside.caption)


def test_fool_it_sliders_change_the_probabilities_and_naive_resizing_shows(drawn):
    def verdict():
        """The distorted drawing's verdict and its ten probabilities, as the panel writes them."""
        fool = expander(drawn, "Try to fool it")
        return fool.markdown[0].value, next(c.value for c in fool.caption if c.value.startswith("0: "))

    text, numbers = verdict()
    assert "Network: 7" in text and "the same digit" in text
    drawn.slider(key="fool_degrees").set_value(180).run()
    assert verdict()[1] != numbers
    drawn.button(key="fool_reset").click().run()
    assert drawn.slider(key="fool_degrees").value == 0
    assert verdict()[1] == numbers

    drawn.toggle(key="fool_naive").set_value(True).run()
    fool = expander(drawn, "Try to fool it")
    assert "The whole canvas resized to 28 x 28" in [c for i in fool.get("image") for c in i.captions]
    assert "with this page's preprocessing: 7" in " ".join(m.value for m in fool.markdown)
