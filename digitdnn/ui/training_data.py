"""Training data (sidebar): MNIST alone or with real people's pen digits, and the class's drawings mixed in, as
digitdnn.training.finetune mixes them; and a retrain's data, finetune's own mix (`for_retrain`)."""
from __future__ import annotations

import logging

import numpy as np
import streamlit as st

from digitdnn.training.jobs import DataLoader
from digitdnn.ui import server_state
from digitdnn.ui.text import without_paths

CHOICE = "training_data"  # the "Training data" radio
MNIST_ONLY, WITH_PEN = "MNIST", "MNIST + pen digits"
INCLUDE = "with_class_drawings"  # the "Include the class drawings" checkbox
_LOG = logging.getLogger(__name__)


def show() -> None:
    """The sidebar's "Training data" radio and its "Include the class drawings" checkbox (for Train: a run from
    scratch)."""
    st.radio("Training data", (MNIST_ONLY, WITH_PEN), key=CHOICE, horizontal=True,
             help="MNIST: 60,000 careful digits scanned from forms. MNIST + pen digits: also digits that about "
                  "200 real people wrote with a pen, drawn as this canvas draws them, with other hands and styles "
                  "(slashed zeros, barred sevens, flagged ones). Train once with each and compare how they name "
                  "your own drawings: data changes more than the network's size. The first run with pen digits "
                  "draws them, which takes a minute or two.")
    st.checkbox("Include the class drawings", key=INCLUDE,
                help="Train on MNIST plus the drawings stored with the buttons under the prediction "
                     "(see the Class drawings tab).")


def chosen() -> tuple[DataLoader, str]:
    """What Train trains on, and the words its run's name gets for it: MNIST, or MNIST and pen digits, plus the
    class's drawings when the checkbox is on (ValueError if there are none)."""
    if st.session_state.get(CHOICE) == WITH_PEN:
        base, suffix = server_state.pen_digits_loader(), " (+ pen digits)"
    else:
        base, suffix = server_state.mnist_loader(), ""
    if not st.session_state.get(INCLUDE):
        return base, suffix
    x, y = class_drawings()
    return with_drawings(base, x, y), f"{suffix} (+{len(y)} class drawings)"


def class_drawings() -> tuple[np.ndarray, np.ndarray]:
    """All of the class's drawings (x, y); ValueError with a plain message when there are none or they cannot be
    read."""
    x, y, _ = class_drawings_with_tabs()
    return x, y


def class_drawings_with_tabs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All of the class's drawings (x, y) and the browser tab of each (DrawingStore.arrays_with_tabs); ValueError
    as class_drawings."""
    try:
        x, y, tabs = server_state.drawing_store().arrays_with_tabs()
    except server_state.class_store_errors() as exc:
        _LOG.warning("the class drawings cannot be read", exc_info=True)
        raise ValueError(f"the class drawings cannot be read: {without_paths(exc)}") from exc
    if not len(y):
        raise ValueError("the class has stored no drawings yet")
    return x, y, tabs


def with_drawings(mnist: DataLoader, x: np.ndarray, y: np.ndarray) -> DataLoader:
    """A loader of all of `mnist`'s training images (MNIST, or MNIST and pen digits) mixed with the drawings (for a
    run from scratch)."""
    from digitdnn.training.finetune import mixed_data

    def load(report):
        return mixed_data(x, y, mnist(report), mnist_sample=None)

    return load


def for_retrain(mnist: DataLoader, x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> DataLoader:
    """A loader of what a retrain trains on: finetune.fine_tune_data, the same mix as `digitdnn finetune` (a sample
    of MNIST and of the pen digits, drawn once and kept in the cache, with the drawings)."""
    from digitdnn.training.finetune import fine_tune_data

    def load(report):
        return fine_tune_data(x, y, mnist(report), seed=seed,
                              progress=lambda done: report(f"drawing the pen digits: {done:.0%}"))

    return load
