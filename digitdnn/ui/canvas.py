"""The drawable canvas (the streamlit-drawable-canvas component), its picture checked before it is decoded.

The package's own `st_canvas` decodes whatever picture a client sends; this one calls the component the package
declares and reads the picture with `imaging.canvas_png.read_canvas_png`, which refuses a picture that is not the
canvas the page asked for before decoding it. The component's value is `{"drawing": {"raw": <fabric.js JSON>,
"data": "data:image/png;base64,..."}}`; anything else a client sends counts as an empty canvas.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from streamlit_drawable_canvas import out as canvas_component  # the component the package declares

from digitdnn.imaging.canvas_png import CanvasImageError, read_canvas_png

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanvasValue:
    """What the canvas sent: its fabric.js drawing and its picture."""

    json_data: dict               # the drawing, {"objects": [strokes], ...}; {"objects": []} when none came
    image_data: np.ndarray | None  # RGBA uint8 (size, size, 4); None without strokes, or when the picture is refused


def st_canvas(*, size: int, stroke_width: int, stroke_color: str, background_color: str, initial_drawing: dict,
              key: str) -> CanvasValue:
    """A size x size freehand canvas (a client reloads it when `initial_drawing` changes); what it last sent, its
    picture decoded only when there are strokes and it is the size asked for (refused: logged, image_data None)."""
    drawing = {**initial_drawing, "background": background_color}
    value = canvas_component(
        data={"canvasWidth": size, "canvasHeight": size, "drawingMode": "freedraw", "strokeWidth": stroke_width,
              "strokeColor": stroke_color, "fillColor": "#eee", "backgroundColor": background_color,
              "backgroundImageURL": None, "backgroundImageFit": "stretch", "initialDrawing": drawing,
              "returnImageData": True, "realtimeUpdateStreamlit": True, "disabled": False, "displayRadius": 3,
              "maxDisplayHeight": None, "fontSize": 20, "label": ""},
        key=key, default={"drawing": {"raw": drawing, "data": None}}, on_drawing_change=lambda: None,
        width="content", height="content")
    sent = value.get("drawing")
    raw = sent.get("raw") if isinstance(sent, dict) else None
    objects = raw.get("objects") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not isinstance(objects, list) or not objects:
        return CanvasValue({"objects": []}, None)
    try:
        image = read_canvas_png(sent.get("data"), size)
    except CanvasImageError as refused:
        _LOG.warning("a canvas picture was refused: %s", refused)
        image = None
    return CanvasValue(raw, image)
