"""Rows of boxes that fit every screen from a phone (390 px wide) to a projector: each box has a fixed width or
grows from a smallest useful width, and a box that does not fit beside the others goes under them.
Design notes: docs/design-notes.md.
"""
from __future__ import annotations

from typing import Literal

import streamlit as st

NETWORK_INPUT_WIDTH = 224       # "What the network sees": the 28x28 input enlarged 8 times
PREDICTION_MIN_WIDTH = "15rem"  # narrower than this, the prediction goes under the canvas
# The gaps st.container accepts between its boxes.
Gap = Literal["xxsmall", "xsmall", "small", "medium", "large", "xlarge", "xxlarge"]

# The prediction's headings ("Prediction: 7", "Draw a digit") stay on one line: their size follows the width of
# the prediction box (container query units, cqi) between a floor and the heading's size (presenter mode: larger).
PREDICTION_STYLE = """<style>
.st-key-prediction { container-type: inline-size; }
.st-key-prediction h1 { white-space: nowrap; font-size: clamp(1.5rem, 12.5cqi, var(--digitdnn-heading, 2.75rem)); }
</style>"""


def wrapping_row(key: str, widths: list[int | str], gap: Gap = "medium", style: bool = True) -> list:
    """Boxes side by side that wrap onto new rows when the width runs short; returns their containers.

    Args:
        key: names the row; box i is the container with key f"{key}_{i}".
        widths: per box, an int for a fixed width in pixels (never wider than the row), or a CSS length
            (e.g. "15rem") for a box that starts at that width and grows into the room left over.
        style: False when `row_style(key, widths)` is already on the page (see drawing_styles).
    """
    if style and row_style(key, widths):
        st.html(row_style(key, widths))
    with st.container(horizontal=True, gap=gap, key=key):
        return [st.container(width=width if isinstance(width, int) else "stretch", key=f"{key}_{i}")
                for i, width in enumerate(widths)]


def row_style(key: str, widths: list[int | str]) -> str:
    """The CSS that lets a wrapping row's growing boxes grow ("" when none does)."""
    growing = "".join(f"[data-testid=stLayoutWrapper]:has(> .st-key-{key}_{i}) {{ flex: 1 1 {width}; }}\n"
                      for i, width in enumerate(widths) if isinstance(width, str))
    return f"<style>\n{growing}</style>" if growing else ""


def drawing_styles(canvas_size: int) -> None:
    """The drawing row's CSS, drawn once per page run outside the drawing fragment: a stroke's rerun need not
    send it again (it stays on the page)."""
    st.html(PREDICTION_STYLE + row_style("drawing_row", _drawing_widths(canvas_size)))


def drawing_columns(canvas_size: int) -> list:
    """The canvas's box (as wide as the canvas), the prediction's (the rest, at least PREDICTION_MIN_WIDTH, else
    under the canvas) and the network input's; returns the three containers (their CSS: drawing_styles)."""
    return wrapping_row("drawing_row", _drawing_widths(canvas_size), style=False)


def _drawing_widths(canvas_size: int) -> list[int | str]:
    return [canvas_size, PREDICTION_MIN_WIDTH, NETWORK_INPUT_WIDTH]
