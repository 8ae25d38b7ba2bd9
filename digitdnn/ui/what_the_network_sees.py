"""What the network sees: the 28x28 input, enlarged so that every pixel shows, beside the prediction."""
from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from digitdnn.imaging.preprocess import PreprocessSteps
from digitdnn.ui.images import enlarge, png
from digitdnn.ui.layout import NETWORK_INPUT_WIDTH


def show(steps: PreprocessSteps | None) -> None:
    """The heading and the enlarged input (an empty one while nothing is drawn)."""
    st.markdown("**What the network sees**")
    # PNG bytes with output_format="PNG" are sent as they are; Streamlit's "auto" would re-encode them as JPEG.
    if steps is None:
        st.image(_blank_input(), caption="28 x 28 pixels", output_format="PNG")
        return
    st.image(png(enlarge(steps.centred, size=NETWORK_INPUT_WIDTH)), caption="28 x 28 pixels, as MNIST digits are made",
             output_format="PNG")


@functools.cache
def _blank_input() -> bytes:
    """The empty 28x28 input, enlarged, as PNG: the same picture after every Clear, encoded once per server."""
    return png(enlarge(np.zeros((28, 28), np.float32), size=NETWORK_INPUT_WIDTH))
