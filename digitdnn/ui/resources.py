"""Read-only things loaded once per server process and shared by every session."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import streamlit as st

from digitdnn.jobs import DATA_LIMIT_ENV, SharedDataset, parse_data_limit

MODELS_DIR_ENV = "DIGITDNN_MODELS_DIR"
TRAINING_SLOTS_ENV = "DIGITDNN_TRAINING_SLOTS"


@st.cache_resource(show_spinner="Loading the default model…")
def default_classifier(path: str):
    """The default model at `path` (also the first import of TensorFlow). Never mutated: shared by all."""
    from digitdnn.store import load_classifier

    return load_classifier(path)


def default_model_path() -> Path:
    from digitdnn.store import default_model_path as path

    return path()


@st.cache_resource(show_spinner=False)
def _shared_dataset(limit: tuple[int, int | None] | None) -> SharedDataset:
    return SharedDataset(limit)


def mnist_loader() -> SharedDataset:
    """The process-wide MNIST loader (capped by DIGITDNN_DATA_LIMIT for tests); loads on first use."""
    return _shared_dataset(parse_data_limit(os.environ.get(DATA_LIMIT_ENV)))


@st.cache_resource(show_spinner=False)
def training_slots() -> threading.Semaphore:
    """How many sessions may train at once ($DIGITDNN_TRAINING_SLOTS, else one per two cores); others queue."""
    count = int(os.environ.get(TRAINING_SLOTS_ENV) or max(1, (os.cpu_count() or 2) // 2))
    return threading.BoundedSemaphore(count)


def models_dir() -> Path:
    """Where models saved from the page go: $DIGITDNN_MODELS_DIR, else ./models."""
    return Path(os.environ.get(MODELS_DIR_ENV) or "models")
