"""Shared fixtures: the MNIST dataset (fetched once per test session), small slices of it, and the page's default model."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest


@pytest.fixture(scope="session")
def mnist():
    """The full, fingerprint-checked MNIST dataset."""
    from digitdnn.data import load_mnist

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
    from digitdnn.store import default_model_path, save_classifier
    from digitdnn.training import train

    real = default_model_path()
    if real.is_file():
        return real
    path = tmp_path_factory.mktemp("default-model") / "page-default.keras"
    cfg = PRESETS["Fast: Adam"].replace(epochs=3)
    result = train(cfg, mnist.head(20000, 2000))
    save_classifier(result.classifier, path, {"config": cfg.to_dict(), "history": result.history.to_dict(),
                                              "test_accuracy": result.history.test_accuracy})
    return path
