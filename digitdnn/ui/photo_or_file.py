"""Photo or file (tab): a photo of a digit written on paper, uploaded as a file or taken with the camera.

The camera starts only when asked for (a toggle): a browser asks for camera permission as soon as one is shown.
"""
from __future__ import annotations

import streamlit as st

from digitdnn.imaging.photo import MAX_PHOTO_BYTES, PhotoError
from digitdnn.ui.reading import Reading, read_photo_file
from digitdnn.ui.text import plain

PHOTO_TYPES = ["png", "jpg", "jpeg"]


def show() -> Reading:
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
