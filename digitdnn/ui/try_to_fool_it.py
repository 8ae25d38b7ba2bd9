"""Try to fool it (expander): sliders that shift, scale, rotate and thicken the drawing's 28x28 input, scored live, and
what whole-canvas resizing (as most drawing demos do) would have fed the network instead.

Drawn inside the drawing fragment, so moving a slider reruns only that fragment."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from digitdnn.imaging.distort import distort, resize_whole_canvas
from digitdnn.imaging.preprocess import PreprocessSteps
from digitdnn.ui import scoring
from digitdnn.ui.charts import probability_bars
from digitdnn.ui.images import enlarge

if TYPE_CHECKING:
    from digitdnn.model import Classifier

# key: (label, low, high, neutral, step); the keyword of digitdnn.imaging.distort.distort is the key without "fool_".
SLIDERS = {
    "fool_dx": ("Shift right (pixels)", -10.0, 10.0, 0.0, 0.5),
    "fool_dy": ("Shift down (pixels)", -10.0, 10.0, 0.0, 0.5),
    "fool_scale": ("Scale", 0.3, 1.6, 1.0, 0.05),
    "fool_degrees": ("Rotate (degrees, counterclockwise)", -180.0, 180.0, 0.0, 5.0),
    "fool_thicken": ("Thicken (+) or thin (-) the pen (pixels a side)", -1.0, 2.0, 0.0, 0.25),
}


def _reset() -> None:
    for key, (_, _, _, neutral, _) in SLIDERS.items():
        st.session_state[key] = neutral


def show(steps: PreprocessSteps | None, classifier: Classifier | None) -> None:
    """The "Try to fool it" expander: sliders, the distorted input and its probabilities, the naive input
    (computed only while it is open)."""
    with st.expander("Try to fool it", key="fool_open", on_change="rerun") as section:
        if not section.open:
            return
        controls, picture, result = st.columns([4, 3, 4], gap="medium")
        with controls:
            for key, (label, low, high, neutral, step) in SLIDERS.items():
                st.session_state.setdefault(key, neutral)
                st.slider(label, low, high, step=step, key=key)
            st.button("Undo the distortion", key="fool_reset", on_click=_reset)
        naive = st.toggle("Show what whole-canvas resizing would have fed the network", key="fool_naive",
                          help="Most drawing demos shrink the whole 280 x 280 canvas to 28 x 28: no crop, no "
                               "centring, no pen correction.")
        if steps is None or classifier is None:
            result.caption("Draw a digit first." if classifier is not None else "No model yet.")
            return
        settings = {key.removeprefix("fool_"): float(st.session_state[key]) for key in SLIDERS}
        distorted = distort(steps.centred, **settings)
        original = scoring.probabilities(classifier, steps.centred)
        if original is None:
            result.warning(scoring.NO_USABLE_ANSWER)
            return
        picture.image(enlarge(distorted, size=224), caption="The distorted 28 x 28 input")
        with result:
            _scored(classifier, distorted, original, "undistorted", "fool_result")
        if naive:
            whole = resize_whole_canvas(steps.ink)
            left, right = st.columns([3, 4], gap="medium")
            left.image(enlarge(whole, size=224), caption="The whole canvas resized to 28 x 28")
            with right:
                _scored(classifier, whole, original, "with this page's preprocessing", "fool_naive_result")


def _scored(classifier, image: np.ndarray, original: np.ndarray, reference: str, key: str) -> None:
    """The network's verdict on `image` next to its verdict on the drawing as the page feeds it (`original`,
    described by `reference`), in a container with `key`."""
    probabilities = scoring.probabilities(classifier, image)
    with st.container(key=key):
        if probabilities is None:
            st.warning(scoring.NO_USABLE_ANSWER)
            return
        top, was = int(probabilities.argmax()), int(original.argmax())
        verdict = "a different digit!" if top != was else "the same digit"
        st.markdown(f"**Network: {top}** ({probabilities[top]:.1%}) · {reference}: {was} "
                    f"({original[was]:.1%}) · {verdict}")
        unsure = scoring.not_sure(probabilities)
        if unsure:
            st.warning(unsure)
        st.vega_lite_chart(probability_bars(probabilities))
        st.caption(" · ".join(f"{d}: {p:.1%}" for d, p in enumerate(probabilities)))
