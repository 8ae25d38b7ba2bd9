"""Shared fixtures: the MNIST dataset (fetched once per test session) and small slices of it."""
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
