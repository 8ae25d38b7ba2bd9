"""Two ways to give the network a digit: draw it on the canvas, or a photo of it written on paper.

Tabs "Draw" (first, open when the page opens) and "Photo or file"; the open tab's digit is named. Both
tabs' content stays on the page, so a drawing and an uploaded photo survive a switch between them. The
camera starts only when asked for (a toggle): a browser asks for camera permission as soon as one is shown.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from digitdnn.imaging.photo import MAX_PHOTO_BYTES, PhotoError
from digitdnn.ui import drawing
from digitdnn.ui.prediction import Reading, read_drawing, read_photo_file
from digitdnn.ui.text import plain

PHOTO_TYPES = ["png", "jpg", "jpeg"]


def input_area(canvas_size: int) -> tuple[Reading, np.ndarray | None]:
    """The two tabs; returns the open tab's reading and the picture to keep with a correction (the canvas, or the
    ink found in the photo)."""
    draw_tab, photo_tab = st.tabs(["Draw", "Photo or file"], key="input_tab", on_change="rerun")
    with draw_tab:
        canvas, strokes = drawing.drawing_area(size=canvas_size)
    with photo_tab:
        photo = photo_area()
    if photo_tab.open:
        return photo, photo.picture()
    return read_drawing(canvas, strokes, drawing.BACKGROUND), canvas


def photo_area() -> Reading:
    """A file (PNG or JPEG, up to MAX_PHOTO_BYTES) or, when switched on, the camera; the photo's reading (the
    camera's picture when there is one). A file that cannot be used is refused with a plain message."""
    st.caption("Write one digit with a dark pen on light paper and photograph it with paper all around it "
               "(uneven light and shadows are fine).")
    uploaded = st.file_uploader("Photo or picture of the digit (PNG or JPEG)", type=PHOTO_TYPES, key="photo_file",
                                max_upload_size=MAX_PHOTO_BYTES // 2**20)
    shot = None
    if st.toggle("Use the camera", key="photo_camera", help="Your browser asks once whether the page may use it."):
        shot = st.camera_input("Photo of the digit", key="photo_shot")
    chosen = shot or uploaded
    if chosen is None:
        return read_photo_file(None, "")
    try:
        return read_photo_file(chosen.getvalue(), chosen.name)
    except PhotoError as error:
        st.error(plain(f"{chosen.name}: {error}"))
        return read_photo_file(None, "")
