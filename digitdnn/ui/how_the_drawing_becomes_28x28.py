"""How the drawing becomes 28 x 28 (expander): the steps from the canvas (or photo) to the network's input, as
MNIST's digits were made."""
from __future__ import annotations

import streamlit as st

from digitdnn.imaging.photo import PhotoSteps
from digitdnn.ui.images import enlarge, to_grey, with_box
from digitdnn.ui.reading import Reading


def show(reading: Reading) -> None:
    """The expander with the steps, drawn only while it is open."""
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
