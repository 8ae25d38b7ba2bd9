"""Shared fixtures: the MNIST dataset (fetched once per test session), small slices of it, the pen digits, an
untrained network and a saved copy of it, the page's default model, the page's settings and a session of it
(AppTest), and the page served to headless Chromium."""
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
def pen():
    """The bundled pen digits (trajectories by real writers)."""
    from digitdnn.data.pendigits import load_pen_digits

    return load_pen_digits()


@pytest.fixture(scope="module")
def clf():
    """The tutorial's 784-300-100-10 network, untrained."""
    from digitdnn.config import TrainConfig
    from digitdnn.model import Classifier, build_model

    return Classifier(build_model(TrainConfig(seed=3)))


@pytest.fixture
def saved(clf, tmp_path):
    """`clf` saved by save_classifier as tmp_path/models/good.keras, with a sidecar saying test_accuracy 0.5."""
    from digitdnn.storage.models import save_classifier

    return save_classifier(clf, tmp_path / "models" / "good.keras", {"test_accuracy": 0.5})


@pytest.fixture(scope="session")
def default_model(mnist, tmp_path_factory):
    """The model the page opens with in tests: the real default (digitdnn/assets/default.keras or
    $DIGITDNN_DEFAULT_MODEL) when it exists, else a small stand-in trained once for the session."""
    from digitdnn.presets import PRESETS
    from digitdnn.storage.model_card import ModelCard
    from digitdnn.storage.models import default_model_path, save_classifier
    from digitdnn.training.loop import train

    real = default_model_path()
    if real.is_file():
        return real
    path = tmp_path_factory.mktemp("default-model") / "page-default.keras"
    cfg = PRESETS["Fast: Adam"].replace(epochs=3)
    result = train(cfg, mnist.head(20000, 2000))
    card = ModelCard.of_run(result.history, command="pytest: the default_model fixture")
    save_classifier(result.classifier, path, card)
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


@pytest.fixture(scope="session")
def page_servers(default_model, tmp_path_factory):
    """The session's page servers (`streamlit run app.py` with the test default model), one per set of settings."""
    from testkit.server import ServerPool

    with ServerPool(tmp_path_factory.mktemp("servers"), DIGITDNN_DEFAULT_MODEL=str(default_model)) as pool:
        yield pool


@pytest.fixture(scope="module")
def server(page_servers, server_env) -> str:
    """The URL of a page server with the module's settings (server_env), shared by the modules with the same."""
    return page_servers.url(**server_env)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the test module (not longer: a sync Playwright running keeps asyncio.run from
    starting, and test_browser_class.py and test_load.py drive pages with the async API)."""
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


# ---- PostgreSQL (the class store's second backend; helpers in postgres.py) ----------------------------------------

@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the whole test session, stopped at its end."""
    import shutil

    from postgres import start_postgres

    server = start_postgres()
    yield server
    server.stop("immediate")
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """The URL of a new, empty database for this test alone."""
    import hashlib

    name = "t_" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    postgres_server.psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return postgres_server.create_database(name)


# ---- Redis (the training workers' queue; helpers in queue_server.py) ----------------------------------------------

@pytest.fixture(scope="session")
def redis_server():
    """One throwaway Redis server for the whole test session, stopped at its end."""
    import shutil

    from queue_server import start_redis

    server = start_redis()
    yield server
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server) -> str:
    """The URL of the test Redis, running and emptied for this test."""
    from redis import Redis

    if not redis_server.running():
        redis_server.start()
    with Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url
