"""Training data (sidebar): MNIST alone or with real people's pen digits, and the class's drawings mixed in, as
digitdnn.training.finetune mixes them (training/run_data.py, which a training worker uses too)."""
from __future__ import annotations

import dataclasses
import logging

import numpy as np
import streamlit as st

from digitdnn.data.shared_dataset import DataLoader
from digitdnn.server import settings
from digitdnn.training.run_data import DrawingsPick, RunData, loader_for
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


def chosen() -> tuple[RunData, DataLoader, str]:
    """What Train trains on: the run's data spec (what a training worker rebuilds), its loader here, and the words
    its run's name gets for it: MNIST, or MNIST and pen digits, plus the class's drawings when the checkbox is on
    (ValueError if there are none)."""
    limit = settings.data_limit()
    if st.session_state.get(CHOICE) == WITH_PEN:
        spec, loader, suffix = RunData("pen", limit), server_state.pen_digits_loader(), " (+ pen digits)"
    else:
        spec, loader, suffix = RunData("mnist", limit), server_state.mnist_loader(), ""
    if not st.session_state.get(INCLUDE):
        return spec, loader, suffix
    up_to, x, y, _ = class_drawings_with_tabs()
    pick = DrawingsPick("scratch", up_to)
    return (dataclasses.replace(spec, drawings=pick), loader_for(loader, pick, x, y, seed=0),
            f"{suffix} (+{len(y)} class drawings)")


def class_drawings_with_tabs() -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The id of the class's newest drawing, and all of its drawings up to it (x, y) with the browser tab of each
    (Drawings.arrays_with_tabs): a run's DrawingsPick names that id, so that a training worker reads the same
    drawings. ValueError with a plain message when there are none or they cannot be read."""
    try:
        store = server_state.drawing_store()
        newest = store.recent(limit=1)
        if not newest:
            raise ValueError("the class has stored no drawings yet")
        x, y, tabs = store.arrays_with_tabs(up_to=newest[0].id)
    except server_state.class_store_errors() as exc:
        _LOG.warning("the class drawings cannot be read", exc_info=True)
        raise ValueError(f"the class drawings cannot be read: {without_paths(exc)}") from exc
    if not len(y):
        raise ValueError("the class has stored no drawings yet")
    return newest[0].id, x, y, tabs
