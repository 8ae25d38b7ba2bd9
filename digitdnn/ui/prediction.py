"""What the network makes of the drawing: the digit, the ten probabilities, the 28x28 input, the steps."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import streamlit as st

from digitdnn.calibration import UNSURE_BELOW
from digitdnn.preprocess import PreprocessSteps, drawing_problem, preprocess_steps
from digitdnn.ui.charts import probability_bars
from digitdnn.ui.images import enlarge, with_box
from digitdnn.ui.text import plain



@dataclass(frozen=True)
class Reading:
    """A canvas drawing made ready for the network."""

    steps: PreprocessSteps | None  # None when nothing (or no digit) is drawn
    strokes: int                   # strokes on the canvas
    seconds: float                 # time the preprocessing took
    problem: str | None = None     # why the ink cannot be a digit (a dot, the canvas filled), to say instead


def read_drawing(image: np.ndarray | None, strokes: int, background: tuple[int, int, int]) -> Reading:
    """Preprocess a canvas image (RGBA uint8, or None before the first stroke) on a canvas of this colour."""
    started = time.perf_counter()
    if image is None or strokes == 0:
        return Reading(None, strokes, time.perf_counter() - started)
    problem = drawing_problem(image, background=background)
    steps = None if problem else preprocess_steps(image)
    return Reading(steps, strokes, time.perf_counter() - started, problem)


def prediction_panel(reading: Reading, classifier, model_label: str) -> np.ndarray | None:
    """The prediction container (key "prediction"): the digit, large, its probability and the bars.

    Returns the ten probabilities shown, or None when no digit is named."""
    steps = reading.steps
    with st.container(key="prediction"):
        if reading.problem:
            st.title("Not a digit", anchor=False)
            st.caption(reading.problem)
            return None
        if steps is None:
            st.title("Draw a digit", anchor=False)
            st.caption("The network's guess appears here as soon as you lift the pen.")
            return None
        if classifier is None:
            st.title("No model yet", anchor=False)
            st.caption("Train one from the sidebar, or open or upload one below.")
            return None
        started = time.perf_counter()
        probabilities = classifier.predict_proba(steps.centred)[0]
        predict_seconds = time.perf_counter() - started
        runner_up, top = np.argsort(probabilities)[-2:]
        st.title(f"Prediction: {top}", anchor=False)
        if probabilities[top] < UNSURE_BELOW:
            st.warning(f"Not sure: {probabilities[top]:.0%} for {top}. "
                       f"Runner-up: {runner_up} ({probabilities[runner_up]:.0%}).")
        else:
            st.markdown(f"**{probabilities[top]:.1%}** sure")
        st.vega_lite_chart(probability_bars(probabilities))
        st.caption(f"Scored by {plain(model_label)} · {reading.strokes} stroke{'s' if reading.strokes != 1 else ''} · "
                   f"preprocessing {reading.seconds * 1000:.1f} ms, network {predict_seconds * 1000:.1f} ms")
    return probabilities


def network_input(steps: PreprocessSteps | None) -> None:
    """What the network sees: the 28x28 input, enlarged so that every pixel shows."""
    st.markdown("**What the network sees**")
    if steps is None:
        st.image(enlarge(np.zeros((28, 28), np.float32), size=224), caption="28 x 28 pixels")
        return
    st.image(enlarge(steps.centred, size=224), caption="28 x 28 pixels, as MNIST digits are made")


def preprocessing_steps(steps: PreprocessSteps | None) -> None:
    """An expander with the steps from the canvas to the 28x28 input (drawn only while it is open)."""
    with st.expander("How the drawing becomes 28 x 28", key="steps_open", on_change="rerun") as section:
        if not section.open:
            return
        if steps is None:
            st.caption("Draw something first.")
            return
        top, left, bottom, right = steps.box
        columns = st.columns(4)
        columns[0].image(with_box(steps.ink, steps.box), caption=f"1. Ink and its box ({right - left} x {bottom - top} px)")
        columns[1].image(enlarge(steps.cropped, size=200, grid=False), caption="2. Cropped to the box")
        h, w = steps.scaled.shape
        columns[2].image(enlarge(steps.scaled, size=200), caption=f"3. Pen width evened out, scaled to {w} x {h}")
        columns[3].image(enlarge(steps.centred, size=200), caption="4. Centred by mass in 28 x 28")
        st.caption(f"Measured pen width: {steps.stroke_width:.1f} canvas px. It is evened out before scaling so that "
                   "the pen ends up 2.5 to 3 px wide in 28 x 28, like MNIST's (median about 2.4 px).")
