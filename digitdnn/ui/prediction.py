"""What the network makes of the drawing (or photo): the digit, the ten probabilities, the 28x28 input, the steps."""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from digitdnn.imaging.photo import PhotoSteps, photo_steps, read_photo
from digitdnn.imaging.preprocess import PreprocessSteps, drawing_problem, preprocess_steps
from digitdnn.training.calibration import UNSURE_BELOW
from digitdnn.ui.charts import probability_bars
from digitdnn.ui.images import enlarge, png, to_grey, with_box
from digitdnn.ui.text import plain

if TYPE_CHECKING:
    from digitdnn.model import Classifier


@dataclass(frozen=True)
class Reading:
    """A canvas drawing, or a photo of a digit on paper, made ready for the network."""

    steps: PreprocessSteps | None  # None when nothing (or no digit) is drawn
    strokes: int                   # strokes on the canvas (0 for a photo)
    seconds: float                 # time the preprocessing took
    problem: str | None = None     # why the ink cannot be a digit (a dot, the canvas filled), to say instead
    source: str = "drawing"        # "drawing", or "photo" (the photo tab is open)
    photo: PhotoSteps | None = None  # how the photo's ink was found, when there is a photo
    photo_name: str = ""           # its file name, as sent (show it with plain())

    def picture(self) -> np.ndarray | None:
        """What to keep beside the 28x28 input of a photo: the ink found (never the photo itself); None for a
        drawing, whose canvas the caller has."""
        return None if self.photo is None else self.photo.ink


def read_drawing(image: np.ndarray | None, strokes: int, background: tuple[int, int, int]) -> Reading:
    """Preprocess a canvas image (RGBA uint8, or None before the first stroke) on a canvas of this colour."""
    started = time.perf_counter()
    if image is None or strokes == 0:
        return Reading(None, strokes, time.perf_counter() - started)
    problem = drawing_problem(image, background=background)
    steps = None if problem else preprocess_steps(image)
    return Reading(steps, strokes, time.perf_counter() - started, problem)


def read_photo_file(data: bytes | None, name: str) -> Reading:
    """Find the digit in a photo file (PNG or JPEG bytes; None before one is given); PhotoError if unreadable."""
    started = time.perf_counter()
    if data is None:
        return Reading(None, 0, 0.0, source="photo")
    photo = photo_steps(read_photo(data))
    return Reading(photo.drawing, 0, time.perf_counter() - started, photo.problem, "photo", photo, name)


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


def prediction_panel(reading: Reading, classifier: Classifier | None, model_label: str) -> np.ndarray | None:
    """The prediction container (key "prediction"): the digit, large, its probability and the bars.

    Returns the ten probabilities shown, or None when no digit is named."""
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
        st.caption(f"Scored by {plain(model_label)} · {_origin(reading)} · "
                   f"preprocessing {reading.seconds * 1000:.1f} ms, network {predict_seconds * 1000:.1f} ms")
    return probabilities


def network_input(steps: PreprocessSteps | None) -> None:
    """What the network sees: the 28x28 input, enlarged so that every pixel shows."""
    st.markdown("**What the network sees**")
    # PNG bytes with output_format="PNG" are sent as they are; Streamlit's "auto" would re-encode them as JPEG.
    if steps is None:
        st.image(_blank_input(), caption="28 x 28 pixels", output_format="PNG")
        return
    st.image(png(enlarge(steps.centred, size=224)), caption="28 x 28 pixels, as MNIST digits are made",
             output_format="PNG")


@functools.cache
def _blank_input() -> bytes:
    """The empty 28x28 input, enlarged, as PNG: the same picture after every Clear, encoded once per server."""
    return png(enlarge(np.zeros((28, 28), np.float32), size=224))


def preprocessing_steps(reading: Reading) -> None:
    """An expander with the steps from the canvas (or photo) to the 28x28 input (drawn only while it is open)."""
    with st.expander("How the drawing becomes 28 x 28", key="steps_open", on_change="rerun") as section:
        if not section.open:
            return
        if reading.photo is not None:
            _photo_steps(reading.photo)
        steps = reading.steps
        if steps is None:
            st.caption("Take or upload a photo first." if reading.source == "photo" else "Draw something first.")
            return
        top, left, bottom, right = steps.box
        columns = st.columns(4)
        columns[0].image(with_box(steps.ink, steps.box),
                         caption=f"1. Ink and its box ({right - left} x {bottom - top} px)")
        columns[1].image(enlarge(steps.cropped, size=200, grid=False), caption="2. Cropped to the box")
        h, w = steps.scaled.shape
        columns[2].image(enlarge(steps.scaled, size=200), caption=f"3. Pen width evened out, scaled to {w} x {h}")
        columns[3].image(enlarge(steps.centred, size=200), caption="4. Centred by mass in 28 x 28")
        where = "photo" if reading.photo is not None else "canvas"
        st.caption(f"Measured pen width: {steps.stroke_width:.1f} {where} px. It is evened out before scaling so that "
                   "the pen ends up 2.5 to 3 px wide in 28 x 28, like MNIST's (median about 2.4 px).")


def _photo_steps(photo: PhotoSteps) -> None:
    """How the ink was found in the photo: the lighting estimated and divided out, then the ink by contrast."""
    columns = st.columns(4)
    columns[0].image(to_grey(photo.grey), caption="a. The photo in grey")
    columns[1].image(to_grey(photo.paper), caption="b. The paper's light, estimated (the writing filled in)")
    columns[2].image(to_grey(photo.flattened), caption="c. The photo divided by b: the paper evenly white")
    columns[3].image(photo.ink, caption=f"d. Ink: at least {photo.threshold:.0%} darker than the paper, "
                                        "marks at the edge and specks dropped")
