"""Prediction: the digit the network names in the drawing (or photo), large, how sure it is, and the ten
probabilities."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from digitdnn.ui import scoring
from digitdnn.ui.charts import probability_bars
from digitdnn.ui.reading import Reading
from digitdnn.ui.text import plain

if TYPE_CHECKING:
    from digitdnn.model import Classifier


def _waiting(reading: Reading) -> tuple[str, str]:
    """The heading and caption while there is nothing to name."""
    if reading.source == "photo":
        return "No photo yet", "Take or upload a photo of one digit written dark on light paper."
    return "Draw a digit", "The network's guess appears here as soon as you finish a stroke."


def _origin(reading: Reading) -> str:
    """Where the named digit came from, for the caption: "3 strokes" or "photo <its name>"."""
    if reading.source == "photo":
        return f"photo {plain(reading.photo_name)}"
    return f"{reading.strokes} stroke{'s' if reading.strokes != 1 else ''}"


def show(reading: Reading, classifier: Classifier | None, model_label: str) -> np.ndarray | None:
    """The prediction container (key "prediction"): the digit, large, its probability and the bars.

    Returns the ten probabilities shown, or None when no digit is named (nothing to name, no model, or a model
    whose answer is not usable numbers)."""
    steps = reading.steps
    with st.container(key="prediction"):
        if reading.problem:
            st.title("Not a digit", anchor=False)
            st.caption(reading.problem)
            return None
        if steps is None:
            heading, caption = _waiting(reading)
            st.title(heading, anchor=False)
            st.caption(caption)
            return None
        if classifier is None:
            st.title("No model yet", anchor=False)
            st.caption("Train one from the sidebar, or open or upload one below.")
            return None
        started = time.perf_counter()
        probabilities = scoring.probabilities(classifier, steps.centred)
        predict_seconds = time.perf_counter() - started
        if probabilities is None:
            st.title("No answer", anchor=False)
            st.warning(scoring.NO_USABLE_ANSWER)
            st.caption(f"Scored by {plain(model_label)} · {_origin(reading)}")
            return None
        top = int(probabilities.argmax())
        st.title(f"Prediction: {top}", anchor=False)
        unsure = scoring.not_sure(probabilities)
        if unsure:
            st.warning(unsure)
        else:
            st.markdown(f"**{probabilities[top]:.1%}** sure")
        st.vega_lite_chart(probability_bars(probabilities))
        st.caption(f"Scored by {plain(model_label)} · {_origin(reading)} · "
                   f"preprocessing {reading.seconds * 1000:.1f} ms, network {predict_seconds * 1000:.1f} ms")
    return probabilities
