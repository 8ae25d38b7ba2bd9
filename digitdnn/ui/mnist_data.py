"""MNIST data (tab): browse MNIST by digit, and see one image as its 784 numbers and the numbers as an image again."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from digitdnn.ui import scoring, server_state, state
from digitdnn.ui.charts import probability_bars
from digitdnn.ui.images import enlarge
from digitdnn.ui.text import plain, without_paths

if TYPE_CHECKING:
    from digitdnn.data.mnist import MnistData

SAMPLES = 40          # images in the grid of one digit
THUMBNAIL = 84        # px per image in the grids
SPLITS = {"train": "training set", "test": "test set"}
PICK_KEY = "data_pick"  # the sample number input
_LOG = logging.getLogger(__name__)


def mnist_or_error() -> MnistData | None:
    """The page's MNIST (honours DIGITDNN_DATA_LIMIT), loaded on first use, each step shown as it happens; None after
    an error shown on the page."""
    loader = server_state.mnist_loader()
    try:
        if loader.loaded:
            return loader()
        with st.status("Loading MNIST (the first time it is fetched: about 20 MB)…", expanded=True) as status:
            data = loader(status.write)
            status.update(label=f"MNIST loaded: {len(data.x_train):,} training and {len(data.x_test):,} test images",
                          state="complete", expanded=False)
        return data
    except Exception as exc:  # any failure to load is told in plain words, the rest of the page keeps working
        _LOG.exception("MNIST could not be loaded")
        st.error(f"MNIST could not be loaded: {without_paths(exc)}")
        return None


def thumbnails(images: np.ndarray) -> list:
    """uint8 28x28 images as small enlarged pictures for a grid."""
    return [enlarge(image / 255.0, size=THUMBNAIL, grid=False) for image in images]


def pixels_as_text(image: np.ndarray) -> str:
    """A uint8 28x28 image as 28 lines of 28 numbers (0 = black, 255 = white ink)."""
    return "\n".join(" ".join(f"{v:3d}" for v in row) for row in np.asarray(image, dtype=int))


def pixels_from_text(text: str) -> np.ndarray:
    """784 whole numbers 0-255 (separated by spaces, commas or line breaks) as a uint8 28x28 image.

    Raises ValueError with a plain message when the text is not exactly that."""
    parts = text.replace(",", " ").split()
    try:
        values = np.array([int(p) for p in parts])
    except ValueError:
        raise ValueError("Only whole numbers 0 to 255, separated by spaces, commas or line breaks.") from None
    if values.size != 784:
        raise ValueError(f"An MNIST image is 784 numbers (28 x 28); this is {values.size}.")
    if values.min() < 0 or values.max() > 255:
        raise ValueError("Every number must be between 0 (black) and 255 (white).")
    return values.astype(np.uint8).reshape(28, 28)


def _greyscale_cells(value: int) -> str:
    ink = "#000000" if value > 128 else "#bbbbbb"
    return f"background-color: rgb({value}, {value}, {value}); color: {ink}"


def show() -> None:
    """The "MNIST data" tab: a grid of one digit's samples, and one of them as numbers and back."""
    st.caption("MNIST: 70,000 handwritten digits, 28 x 28 grey pixels each, 60,000 to train on and 10,000 to test. "
               "Each image is 784 numbers from 0 (black) to 255 (white ink); the network gets them divided by 255.")
    data = mnist_or_error()
    if data is None:
        return
    left, right = st.columns(2)
    split = left.segmented_control("Set", list(SPLITS), format_func=SPLITS.__getitem__, default="train",
                                   key="data_split") or "train"
    digit = right.segmented_control("Digit", list(range(10)), default=0, key="data_digit")
    digit = 0 if digit is None else digit
    images, labels = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    of_digit = np.flatnonzero(labels == digit)
    st.markdown(f"**{len(of_digit):,} images of {digit}** in the {SPLITS[split]}"
                f"{' (the page uses a slice of MNIST)' if len(labels) < (60000 if split == 'train' else 10000) else ''}"
                f"; the first {min(SAMPLES, len(of_digit))}:")
    shown = of_digit[:SAMPLES]
    if not len(shown):
        return
    with st.container(key="data_grid"):
        st.image(thumbnails(images[shown]), caption=[f"#{i} · {labels[i]}" for i in shown], width=THUMBNAIL)
    if st.session_state.get(PICK_KEY, 1) > len(shown):  # fewer samples of this digit than the last one's
        st.session_state[PICK_KEY] = 1
    pick = st.number_input("Look at sample number", 1, len(shown), 1, key=PICK_KEY,
                           help="Its place in the grid above, counting from 1.")
    index = int(shown[pick - 1])
    numbers(images[index], f"{SPLITS[split]} image #{index}, labelled {labels[index]}", f"{split}_{index}")


def numbers(image: np.ndarray, title: str, key: str) -> None:
    """One image as 28 x 28 numbers beside the picture, then from (edited) numbers back to a picture."""
    st.markdown(f"**{title}: 784 numbers**")
    picture, table = st.columns([1, 3])
    picture.image(enlarge(image / 255.0, size=196), caption="The image")
    table.dataframe(pd.DataFrame(image).style.map(_greyscale_cells), height=300,
                    column_config={str(c): st.column_config.NumberColumn(width=20) for c in range(28)})
    st.markdown("**Back from the numbers to the image.** Change some numbers (0 to 255) and the picture and the "
                "active model's guess follow.")
    text_column, back_column, guess_column = st.columns([3, 1, 1])
    text = text_column.text_area("The 784 numbers, row by row", pixels_as_text(image), height=300,
                                 key=f"data_text_{key}")
    try:
        rebuilt = pixels_from_text(text)
    except ValueError as exc:
        back_column.error(str(exc))
        return
    changed = int((rebuilt != image).sum())
    back_column.image(enlarge(rebuilt / 255.0, size=196),
                      caption="From the numbers: " + (f"{changed} changed" if changed else "the same image"))
    entry = state.active_model()
    if entry is not None:
        assert entry.classifier is not None  # the active model is never a record
        probabilities = scoring.probabilities(entry.classifier, rebuilt.astype(np.float32) / 255)
        with guess_column:
            if probabilities is None:
                st.warning(scoring.NO_USABLE_ANSWER)
                return
            st.markdown(f"**{plain(entry.name)}** says **{int(probabilities.argmax())}** ({probabilities.max():.0%})")
            unsure = scoring.not_sure(probabilities)
            if unsure:
                st.warning(unsure)
            st.vega_lite_chart(probability_bars(probabilities, height=120))
