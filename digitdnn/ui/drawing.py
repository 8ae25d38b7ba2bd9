"""The drawing area: a square canvas (white ink on black) that fits its box, Undo, Clear and the pen's width.

Every point of the canvas draws: the canvas component's own toolbar (undo, redo, reset), which lies
unseen over the canvas's top right until hovered and catches strokes and taps there, is hidden by
`style_canvas`, and Undo and Clear are page buttons instead. Both work from Python without
changing the canvas key (browser tests find the canvas by its CSS class st-key-canvas): the canvas
reloads whenever its `initial_drawing` changes, so Clear gives it a new, empty one and Undo one with
every stroke but the last (the strokes as the canvas last sent them).

The canvas keeps its size in pixels (the image it sends) but is shown no wider than its box: a presenter's
420 px canvas on a 390 px phone is shown 358 px wide. Fabric.js, which draws it, maps a finger or pointer
to canvas pixels through the shown size, so strokes land where they are drawn (tests/test_browser_devices.py).
"""
from __future__ import annotations

import json

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

CANVAS_SIZE = 280
BACKGROUND = (0, 0, 0)  # black paper, white ink, like MNIST

# Inside the component: no toolbar; the canvas, its background layer and Fabric's wrapper scale down together
# (their inline pixel sizes give way) to the box's width, staying square.
CANVAS_CSS = """
.dc-toolbar { display: none !important; }
.dc-root { width: 100%; }
.dc-container { max-width: 100%; height: auto !important; aspect-ratio: 1; }
.dc-container canvas, .dc-container .canvas-container { width: 100% !important; height: 100% !important; }
"""
# The canvas component renders inside a shadow root that page CSS cannot reach; this script (run in the page, as
# Streamlit's components v2 run theirs) adds CANVAS_CSS there, and again whenever a canvas is mounted anew.
_STYLE_CANVAS_JS = """
export default function () {
    const style = () => {
        for (const host of document.querySelectorAll(".st-key-canvas [data-testid=stBidiComponentIsolated]")) {
            const root = host.shadowRoot;
            if (root && !root.querySelector("style[data-digitdnn]")) {
                const sheet = document.createElement("style");
                sheet.dataset.digitdnn = "canvas";
                sheet.textContent = CANVAS_CSS;
                root.appendChild(sheet);
            }
        }
    };
    style();
    const observer = new MutationObserver(style);
    observer.observe(document.body, { childList: true, subtree: true });
    return () => observer.disconnect();
}
""".replace("CANVAS_CSS", json.dumps(CANVAS_CSS))
_canvas_styler = st.components.v2.component("digitdnn_canvas_style", js=_STYLE_CANVAS_JS)


def _reload(strokes: list) -> None:
    """Have the canvas reload with these strokes (fabric.js objects as the canvas sent them)."""
    st.session_state.canvas_reloads = st.session_state.get("canvas_reloads", 0) + 1
    st.session_state.canvas_reloaded_strokes = strokes


def _clear() -> None:
    _reload([])


def _undo() -> None:
    _reload((st.session_state.get("canvas_strokes") or [])[:-1])


def style_canvas() -> None:
    """Hide the canvas component's toolbar and fit the canvas to its box (see the module docstring); an element
    of no size."""
    _canvas_styler(key="canvas_style", width="content", height="content")


def drawing_area(size: int = CANVAS_SIZE) -> tuple[np.ndarray | None, int]:
    """Draw a size x size canvas (shown smaller if its box is narrower) and its controls; return the drawing
    (RGBA uint8 (H, W, 4), None before any) and its stroke count."""
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
    style_canvas()
    strokes = list((result.json_data or {}).get("objects") or [])
    st.session_state.canvas_strokes = strokes
    with st.container(horizontal=True, gap="small", key="canvas_buttons"):  # one row, so the prediction stays near
        st.button("Undo", key="undo", on_click=_undo, disabled=not strokes, width="stretch")
        st.button("Clear", key="clear", on_click=_clear, width="stretch")
        with st.popover("Pen", width="stretch", key="pen"):
            st.slider("Brush width", 6, 40, key="brush")
    st.caption("Draw one digit, 0 to 9. Undo takes back the last stroke.")
    return result.image_data, len(strokes)
