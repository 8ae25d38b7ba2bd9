"""Shared fixtures: the MNIST dataset (fetched once per test session), small slices of it, the page's default model,
the page's settings and a session of it (AppTest), and the page served to headless Chromium."""
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest


@pytest.fixture(scope="session")
def mnist():
    """The full, fingerprint-checked MNIST dataset."""
    from digitdnn.data.mnist import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """3,000 training and 1,000 test images: enough to beat chance in one epoch."""
    return mnist.head(3000, 1000)


@pytest.fixture(scope="session")
def default_model(mnist, tmp_path_factory):
    """The model the page opens with in tests: the real default (digitdnn/assets/default.keras or
    $DIGITDNN_DEFAULT_MODEL) when it exists, else a small stand-in trained once for the session."""
    from digitdnn.presets import PRESETS
    from digitdnn.storage.models import default_model_path, save_classifier
    from digitdnn.training.loop import train

    real = default_model_path()
    if real.is_file():
        return real
    path = tmp_path_factory.mktemp("default-model") / "page-default.keras"
    cfg = PRESETS["Fast: Adam"].replace(epochs=3)
    result = train(cfg, mnist.head(20000, 2000))
    save_classifier(result.classifier, path, {"config": cfg.to_dict(), "history": result.history.to_dict(),
                                              "test_accuracy": result.history.test_accuracy})
    return path


# ---- the page without a browser (AppTest; helpers in app_session.py) ----------------------------------------------

@pytest.fixture
def page_env(default_model, tmp_path, monkeypatch) -> Path:
    """The page's settings for one test: the test default model, a small data slice and a private models folder
    (returned)."""
    from app_session import TEST_DATA_LIMIT

    monkeypatch.setenv("DIGITDNN_DEFAULT_MODEL", str(default_model))
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", TEST_DATA_LIMIT)
    monkeypatch.setenv("DIGITDNN_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


@pytest.fixture
def page(page_env):
    """The page (AppTest), rendered once, with page_env's settings."""
    from app_session import open_session

    return open_session()


# ---- the page in a real browser (testkit.server, testkit.browser) ---------------------------------------------------

@pytest.fixture(scope="module")
def server_env(request) -> dict[str, str]:
    """Environment variables the module's page server gets besides the default model: the test module's SERVER_ENV
    if it has one (a module whose settings need another fixture overrides this fixture instead)."""
    return getattr(request.module, "SERVER_ENV", {})


@pytest.fixture(scope="module")
def server(default_model, server_env, tmp_path_factory):
    """`streamlit run app.py` on a free port for the test module, with the test default model; yields its URL."""
    from testkit.server import served

    with served(tmp_path_factory.mktemp("server"), DIGITDNN_DEFAULT_MODEL=str(default_model), **server_env) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the test module."""
    from testkit.browser import launched_chromium

    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def browser_page(browser, server):
    """A new tab (its own session) on the module's server, closed after the test."""
    from testkit.browser import open_page

    page = open_page(browser, server)
    yield page
    page.close()
