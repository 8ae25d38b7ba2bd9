"""Draw (tab): a 280x280 canvas (white ink on black), the brush width, Undo and Clear.

Every point of the canvas draws: the canvas component's own toolbar is hidden and the page's Undo and Clear act on
the canvas in its place; the canvas is shown no wider than its box, so it fits a phone.
Design notes: docs/design-notes.md.
"""
from __future__ import annotations

import json

import numpy as np
import streamlit as st

from digitdnn.imaging.canvas_png import CANVAS_SIZE, UNREADABLE
from digitdnn.ui import state
from digitdnn.ui.canvas import st_canvas

BRUSH_KEY = "brush"  # the brush width slider
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
# Streamlit's components v2 run theirs) adds CANVAS_CSS there, and again whenever a canvas is mounted anew. It also
# turns a click on the page's Undo or Clear into a press of the toolbar's Undo or Reset (see the design notes);
# `data.reset_clears` says whether Reset empties the canvas (its first drawing had no strokes).
_CANVAS_HELPER_JS = """
export default function (component) {
    window.digitdnnCanvas = component.data || {};
    const canvasRoots = () => [...document.querySelectorAll(".st-key-canvas [data-testid=stBidiComponentIsolated]")]
        .map((host) => host.shadowRoot).filter((root) => root);
    const style = () => {
        for (const root of canvasRoots()) {
            if (!root.querySelector("style[data-digitdnn]")) {
                const sheet = document.createElement("style");
                sheet.dataset.digitdnn = "canvas";
                sheet.textContent = CANVAS_CSS;
                root.appendChild(sheet);
            }
        }
    };
    if (!window.digitdnnCanvasButtons) {
        window.digitdnnCanvasButtons = true;
        window.addEventListener("click", (event) => {
            const button = event.target instanceof Element
                && event.target.closest(".st-key-undo button, .st-key-clear button");
            if (!button || button.disabled) return;
            const clear = button.closest(".st-key-clear") !== null;
            if (clear && !window.digitdnnCanvas.reset_clears) return;
            const label = clear ? "Reset canvas & history" : "Undo";
            const roots = canvasRoots();
            const tool = roots.length === 1
                ? roots[0].querySelector(`.dc-toolbar button[aria-label="${label}"]`) : null;
            if (!tool || tool.disabled) return;
            event.stopPropagation();
            event.preventDefault();
            tool.click();
        }, true);
    }
    style();
    const observer = new MutationObserver(style);
    observer.observe(document.body, { childList: true, subtree: true });
    return () => observer.disconnect();
}
""".replace("CANVAS_CSS", json.dumps(CANVAS_CSS))
_canvas_helper = st.components.v2.component("digitdnn_canvas_helper", js=_CANVAS_HELPER_JS)


RESIZED = "The canvas changed size (presenter mode): draw your digit again."


def _reload(strokes: list) -> None:
    """Have the canvas reload with these strokes (fabric.js objects as the canvas sent them)."""
    session = state.session()
    session.canvas_reloads += 1
    session.canvas_reloaded_strokes = strokes


def _clear() -> None:
    _reload([])


def _undo() -> None:
    _reload(state.session().canvas_strokes[:-1])


def canvas_helper() -> None:
    """Hide the canvas component's toolbar, fit the canvas to its box and route Undo and Clear to the canvas (see
    the design notes); an element of no size."""
    reset_clears = not state.session().canvas_reloaded_strokes
    _canvas_helper(key="canvas_helper", data={"reset_clears": reset_clears}, width="content", height="content")


def show(size: int = CANVAS_SIZE) -> tuple[np.ndarray | None, int]:
    """Draw a size x size canvas (shown smaller if its box is narrower) and its controls; return the drawing
    (RGBA uint8 (size, size, 4); None while the canvas has no stroke, its PNG then not decoded, or when its
    picture is refused, which the page then says) and its stroke count."""
    st.session_state.setdefault(BRUSH_KEY, 20)
    session = state.session()
    resized = session.canvas_size not in (None, size)  # strokes drawn at the other size cannot be read at this one
    session.canvas_size = size
    if resized:
        _reload([])
    result = st_canvas(
        size=size,
        stroke_width=st.session_state[BRUSH_KEY],
        stroke_color="#FFFFFF",
        background_color="#{:02x}{:02x}{:02x}".format(*BACKGROUND),
        initial_drawing={"objects": session.canvas_reloaded_strokes, "reloads": session.canvas_reloads},
        key="canvas",
    )
    canvas_helper()
    strokes = [] if resized else list((result.json_data or {}).get("objects") or [])
    session.canvas_strokes = strokes
    image = result.image_data if strokes else None
    if resized:
        st.info(RESIZED)
    elif strokes and image is None:
        st.warning(UNREADABLE)
    with st.container(horizontal=True, gap="small", key="canvas_buttons"):  # one row, so the prediction stays near
        st.button("Undo", key="undo", on_click=_undo, disabled=not strokes, width="stretch")
        st.button("Clear", key="clear", on_click=_clear, width="stretch")
        with st.popover("Pen", width="stretch", key="pen"):
            st.slider("Brush width", 6, 40, key=BRUSH_KEY)
    st.caption("Draw one digit, 0 to 9. Undo takes back the last stroke.")
    return image, len(strokes)
