"""The sidebar's choice of training data: MNIST alone, or MNIST and real people's pen digits."""
from __future__ import annotations

import streamlit as st

from digitdnn.training.jobs import DataLoader
from digitdnn.ui import server_state

CHOICE = "training_data"  # the sidebar radio's key
MNIST_ONLY, WITH_PEN = "MNIST", "MNIST + pen digits"


def data_choice() -> None:
    """The sidebar's "Training data" radio."""
    st.radio("Training data", (MNIST_ONLY, WITH_PEN), key=CHOICE, horizontal=True,
             help="MNIST: 60,000 careful digits scanned from forms. MNIST + pen digits: also digits that about "
                  "200 real people wrote with a pen, drawn as this canvas draws them, with other hands and styles "
                  "(slashed zeros, barred sevens, flagged ones). Train once with each and compare how they name "
                  "your own drawings: data changes more than the network's size. The first run with pen digits "
                  "draws them, which takes a minute or two.")


def base_loader() -> tuple[DataLoader, str]:
    """The chosen data's loader, and the words a run's name gets for it."""
    if st.session_state.get(CHOICE) == WITH_PEN:
        return server_state.pen_digits_loader(), " (+ pen digits)"
    return server_state.mnist_loader(), ""
