"""The class's drawings as training data: mixed into MNIST for a run from scratch (the sidebar's checkbox) or a
retrain, as digitdnn.training.finetune mixes them."""
from __future__ import annotations

import logging

import numpy as np
import streamlit as st

from digitdnn.training.jobs import DataLoader
from digitdnn.ui import pen_data, server_state

INCLUDE = "with_class_drawings"  # the sidebar checkbox
_LOG = logging.getLogger(__name__)


def include_checkbox() -> None:
    """The sidebar's "Include the class drawings" checkbox (for Train: a new run from scratch)."""
    st.checkbox("Include the class drawings", key=INCLUDE,
                help="Train on MNIST plus the drawings stored with the buttons under the prediction "
                     "(see the Class drawings tab).")


def class_drawings() -> tuple[np.ndarray, np.ndarray]:
    """All of the class's drawings (x, y); ValueError with a plain message when there are none or they cannot be
    read."""
    from digitdnn.storage.drawings import DrawingStoreError

    try:
        x, y = server_state.drawing_store().arrays()
    except DrawingStoreError as exc:
        _LOG.warning("the class drawings cannot be read", exc_info=True)
        raise ValueError(f"the class drawings cannot be read: {exc}") from exc
    if not len(y):
        raise ValueError("the class has stored no drawings yet")
    return x, y


def training_data() -> tuple[DataLoader, str]:
    """What Train trains on, and the words its run's name gets for it: the sidebar's data (MNIST, or MNIST and pen
    digits), plus the class's drawings when the checkbox is on (ValueError if there are none)."""
    base, suffix = pen_data.base_loader()
    if not st.session_state.get(INCLUDE):
        return base, suffix
    x, y = class_drawings()
    return with_drawings(base, x, y, mnist_sample=None), f"{suffix} (+{len(y)} class drawings)"


def with_drawings(mnist: DataLoader, x: np.ndarray, y: np.ndarray, *, mnist_sample: int | None,
                  seed: int = 0) -> DataLoader:
    """A loader of MNIST (all of its training images, or a sample of `mnist_sample`) mixed with the drawings."""
    from digitdnn.training.finetune import mixed_data

    def load(report):
        return mixed_data(x, y, mnist(report), seed=seed, mnist_sample=mnist_sample)

    return load
