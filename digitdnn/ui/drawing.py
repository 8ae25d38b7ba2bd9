"""The drawing area: a 280x280 canvas (white ink on black), brush width, and Clear.

Clear works from Python without changing the canvas key (browser tests find the
canvas by its CSS class st-key-canvas): the canvas reloads whenever its
`initial_drawing` changes, so Clear gives it a new, empty one.
"""
from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

CANVAS_SIZE = 280
BACKGROUND = (0, 0, 0)  # black paper, white ink, like MNIST


def _clear() -> None:
    st.session_state.canvas_clears = st.session_state.get("canvas_clears", 0) + 1


def drawing_area(size: int = CANVAS_SIZE) -> tuple[np.ndarray | None, int]:
    """Draw a size x size canvas and its controls; return the drawing (RGBA uint8 (H, W, 4), None before any)
    and its stroke count."""
    st.session_state.setdefault("brush", 20)
    result = st_canvas(
        stroke_width=st.session_state.brush,
        stroke_color="#FFFFFF",
        background_color="#{:02x}{:02x}{:02x}".format(*BACKGROUND),
        width=size,
        height=size,
        drawing_mode="freedraw",
        initial_drawing={"objects": [], "clears": st.session_state.get("canvas_clears", 0)},
        return_image_data=True,
        key="canvas",
    )
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.slider("Brush width", 6, 40, key="brush")
    right.button("Clear", key="clear", on_click=_clear)
    st.caption("Draw one digit, 0 to 9. Undo and redo are in the canvas's toolbar (hover over it).")
    strokes = len((result.json_data or {}).get("objects") or [])
    return result.image_data, strokes
