"""Inside the network (expander): first-layer weights as 28x28 tiles, each hidden layer's activations, and the units
that push the drawing towards a chosen digit. Drawn from the classifier it is given, so during training
it shows each epoch's weights."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from digitdnn.imaging.preprocess import PreprocessSteps
from digitdnn.insight import UnitPush, mosaic, strongest_pushes, units_by_importance, weight_tiles
from digitdnn.ui import scoring
from digitdnn.ui.images import GRID_COLOUR, activation_grid, enlarge

if TYPE_CHECKING:
    from digitdnn.model import Classifier

TILES_SHOWN = 40          # first-layer tiles in the mosaic
TILES_PER_ROW = 10
TILE_ZOOM = 3             # screen pixels per weight in the mosaic
PUSHES_SHOWN = 6          # units listed for and against the digit
POSITIVE = np.array([255, 150, 40], np.float32)   # orange: ink here raises the unit's output
NEGATIVE = np.array([60, 150, 255], np.float32)   # blue: ink here lowers it
PREDICTED = "predicted"


def signed_picture(values: np.ndarray, zoom: int = TILE_ZOOM) -> Image.Image:
    """Signed values as colours on black (orange > 0, blue < 0), scaled by the largest |value|;
    NaN (the gaps of a mosaic) in the grid colour. Enlarged `zoom` times, nearest neighbour."""
    values = np.asarray(values, np.float32)
    gap = np.isnan(values)
    filled = np.where(gap, 0.0, values)
    scale = float(np.abs(filled).max()) or 1.0
    strength = (filled / scale)[..., None]
    rgb = np.where(strength > 0, strength * POSITIVE, -strength * NEGATIVE)
    rgb[gap] = GRID_COLOUR
    picture = Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), mode="RGB")
    return picture.resize((picture.width * zoom, picture.height * zoom), Image.Resampling.NEAREST)


def _tiles_scaled_each(tiles: np.ndarray) -> np.ndarray:
    """Each tile divided by its own largest |weight|, so that every unit's pattern shows."""
    peak = np.abs(tiles).max(axis=(1, 2), keepdims=True)
    return tiles / np.where(peak > 0, peak, 1.0)


def show(steps: PreprocessSteps | None, classifier: Classifier | None) -> None:
    """The "Inside the network" expander (its content is computed only while it is open)."""
    with st.expander("Inside the network", key="inside_open", on_change="rerun") as section:
        if not section.open:
            return
        if classifier is None:
            st.caption("No model yet: train one or open one.")
            return
        image = None if steps is None else steps.centred
        scores = None if image is None else scoring.probabilities(classifier, image)
        choice = st.radio("Which digit to explain", [PREDICTED, *range(10)], horizontal=True, key="inside_digit",
                          format_func=str)
        if image is not None and scores is None:  # the model overflows on this ink: only its weights can be shown
            st.warning(scoring.NO_USABLE_ANSWER)
            _weight_tiles(classifier, None, None)
            return
        predicted = None if scores is None else int(scores.argmax())
        digit = predicted if choice == PREDICTED else int(choice)
        _weight_tiles(classifier, image, digit)
        if image is None:
            st.caption("Draw a digit to see its activations and which units push it towards a digit.")
            return
        assert digit is not None  # with a drawing there is a predicted digit
        _activations(classifier, image)
        _pushes(classifier, image, digit)


def _weight_tiles(classifier, image: np.ndarray | None, digit: int | None) -> None:
    tiles = weight_tiles(classifier)
    order = units_by_importance(classifier, image, digit)[:TILES_SHOWN]
    st.markdown(f"**Hidden layer 1: what each unit looks for** ({len(order)} of its {len(tiles)} units)")
    st.image(signed_picture(mosaic(_tiles_scaled_each(tiles[order]), TILES_PER_ROW)))
    ranking = ("the units that matter most for this drawing and digit " + str(digit) if image is not None
               else "the units with the largest weights")
    st.caption(f"Each tile is one unit's 784 incoming weights laid out as the image: orange where ink raises its "
               f"output, blue where ink lowers it. First {ranking}: units {', '.join(map(str, order[:12]))}…")


def _activations(classifier, image: np.ndarray) -> None:
    st.markdown("**Hidden activations for this drawing, layer by layer**")
    layers = [values[0] for values in classifier.hidden_activations(image)]
    columns = st.columns(max(len(layers), 3))[:len(layers)]  # at least 3 columns, so one layer is not too wide
    for column, (i, values) in zip(columns, enumerate(layers, start=1), strict=True):
        active = int((values > 0).sum())
        column.image(enlarge(activation_grid(values), size=200),
                     caption=f"Layer {i}: {active} of {values.size} units above zero")
    st.caption("Each square is one unit, row by row; brighter means a stronger output for this drawing.")


def _pushes(classifier, image: np.ndarray, digit: int) -> None:
    towards, against = strongest_pushes(classifier, image, digit, PUSHES_SHOWN)
    st.markdown(f"**Which units push the drawing towards {digit}**")
    tiles = weight_tiles(classifier)
    titles = (f"Towards {digit}", f"Against {digit}")
    for column, title, units in zip(st.columns(2), titles, (towards, against), strict=True):
        with column:
            st.markdown(title)
            if not units:
                st.caption("No unit.")
                continue
            st.dataframe(_push_table(units), hide_index=True)
            first = [u for u in units if u.layer == 1]
            if first:
                st.image([signed_picture(tiles[u.unit]) for u in first], width=84,
                         caption=[f"unit {u.unit}: {u.push:+.2f}" for u in first])
    st.caption(f"Push = activation x effective weight: how much the unit raises {digit}'s logit over the mean of "
               "the ten logits (gradient x input). Tiles: the first-layer units among them.")


def _push_table(units: list[UnitPush]) -> pd.DataFrame:
    return pd.DataFrame({"layer": [u.layer for u in units], "unit": [u.unit for u in units],
                         "activation": [round(u.activation, 3) for u in units],
                         "weight": [round(u.weight, 3) for u in units],
                         "push": [round(u.push, 3) for u in units]})
