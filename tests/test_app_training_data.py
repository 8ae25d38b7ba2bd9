"""The sidebar's training data choice: MNIST alone, or MNIST and the pen digits (drawn once per server, then kept)."""
import pytest
from app_session import TEST_DATA_LIMIT, open_session, run_until
from pen_subset import save_small_pen
from streamlit.testing.v1 import AppTest


@pytest.fixture
def small_pen(tmp_path):
    """40 digits of training writers and 10 of held-out ones."""
    path = tmp_path / "pen.npz"
    save_small_pen(path, training=40, held_out=10, calibration=0)
    return path


@pytest.fixture
def page(page_env, small_pen, tmp_path, monkeypatch) -> AppTest:
    """The page with page_env's settings and the small pen-digits set."""
    monkeypatch.setenv("DIGITDNN_PEN_DIGITS", str(small_pen))
    monkeypatch.setenv("DIGITDNN_CACHE_DIR", str(tmp_path / "cache"))
    return open_session()


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
