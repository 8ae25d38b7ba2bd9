"""The drawing area: a 280x280 canvas (white ink on black), brush width, Undo and Clear.

Every point of the canvas draws: the canvas component's own toolbar (undo, redo, reset), which lies
unseen over the canvas's top right until hovered and catches strokes and taps there, is hidden by
`hide_canvas_toolbar`, and Undo and Clear are page buttons instead. Both work from Python without
changing the canvas key (browser tests find the canvas by its CSS class st-key-canvas): the canvas
reloads whenever its `initial_drawing` changes, so Clear gives it a new, empty one and Undo one with
every stroke but the last (the strokes as the canvas last sent them).
"""
from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

CANVAS_SIZE = 280
BACKGROUND = (0, 0, 0)  # black paper, white ink, like MNIST

# The canvas component renders inside a shadow root that page CSS cannot reach; this script (run in the page, as
# Streamlit's components v2 run theirs) adds the rule there, and again whenever a canvas is mounted anew.
_HIDE_TOOLBAR_JS = """
export default function () {
    const hide = () => {
        for (const host of document.querySelectorAll(".st-key-canvas [data-testid=stBidiComponentIsolated]")) {
            const root = host.shadowRoot;
            if (root && !root.querySelector("style[data-digitdnn]")) {
                const style = document.createElement("style");
                style.dataset.digitdnn = "no-toolbar";
                style.textContent = ".dc-toolbar { display: none !important; }";
                root.appendChild(style);
            }
        }
    };
    hide();
    const observer = new MutationObserver(hide);
    observer.observe(document.body, { childList: true, subtree: true });
    return () => observer.disconnect();
}
"""
_toolbar_hider = st.components.v2.component("digitdnn_canvas_toolbar_hider", js=_HIDE_TOOLBAR_JS)


def _reload(strokes: list) -> None:
    """Have the canvas reload with these strokes (fabric.js objects as the canvas sent them)."""
    st.session_state.canvas_reloads = st.session_state.get("canvas_reloads", 0) + 1
    st.session_state.canvas_reloaded_strokes = strokes


def _clear() -> None:
    _reload([])


def _undo() -> None:
    _reload((st.session_state.get("canvas_strokes") or [])[:-1])


def hide_canvas_toolbar() -> None:
    """Hide the canvas component's toolbar (see the module docstring); an element of no size."""
    _toolbar_hider(key="canvas_toolbar_hider", width="content", height="content")


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
        initial_drawing={"objects": st.session_state.get("canvas_reloaded_strokes", []),
                         "reloads": st.session_state.get("canvas_reloads", 0)},
        return_image_data=True,
        key="canvas",
    )
    hide_canvas_toolbar()
    strokes = list((result.json_data or {}).get("objects") or [])
    st.session_state.canvas_strokes = strokes
    undo, clear = st.columns(2)
    undo.button("Undo", key="undo", on_click=_undo, disabled=not strokes, width="stretch")
    clear.button("Clear", key="clear", on_click=_clear, width="stretch")
    st.slider("Brush width", 6, 40, key="brush")
    st.caption("Draw one digit, 0 to 9. Undo takes back the last stroke; Clear starts again.")
    return result.image_data, len(strokes)
