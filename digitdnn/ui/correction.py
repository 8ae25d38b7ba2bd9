"""Correction ("It was a …"): ten buttons under the prediction that store the drawing, with the digit it really is,
for the class.

A press stores the 28x28 input, the canvas as PNG, the label, what the model said (digit and ten
probabilities; nothing when its answer was not usable numbers), which model, the time and an anonymous id of
this browser session; nothing about the person. The database is opened on the first press (never at a stroke).
The message stays while the same drawing is on the canvas; the same drawing is stored once.
"""
from __future__ import annotations

import hashlib
import logging

import numpy as np
import streamlit as st

from digitdnn.imaging.canvas_png import stored_picture
from digitdnn.ui import server_state, state
from digitdnn.ui.images import png
from digitdnn.ui.reading import Reading
from digitdnn.ui.text import without_paths

_LOG = logging.getLogger(__name__)


def show(reading: Reading, canvas: np.ndarray | None, probabilities: np.ndarray | None, model_label: str,
         scored: bool) -> None:
    """The container (key "correction") with buttons "0" to "9", under the prediction.

    `scored`: a model scored this reading (the buttons are off without a drawing or a model). `probabilities` are
    its ten for this drawing, None when its answer was not usable numbers: a press then stores the drawing and its
    label without a model answer, as the label is the person's and the drawing sound."""
    predicted: int | None = None  # the model's digit, when it gave a usable answer
    drawing: str | None = None    # the drawing's key, when there is a drawing a model scored
    if reading.steps is not None and scored:
        drawing = _drawing_key(reading.steps.centred)
        predicted = None if probabilities is None else int(np.argmax(probabilities))
    ready = drawing is not None
    with st.container(key="correction"):
        st.markdown("**It was a …**")
        pressed = None
        with st.container(horizontal=True, gap="small"):
            for digit in range(10):
                if st.button(str(digit), key=f"correct_{digit}", disabled=not ready,
                             type="primary" if digit == predicted else "secondary"):
                    pressed = digit
        if pressed is not None and drawing is not None:
            assert reading.steps is not None  # as `drawing` is set
            _store(pressed, drawing, reading.steps.centred, canvas, probabilities, model_label)
        notice = state.session().correction_notice
        if notice and notice[0] == drawing:
            getattr(st, notice[1])(notice[2])
        elif ready:
            st.caption((f"Press the digit you drew: {predicted} confirms the guess, another corrects it. "
                        if predicted is not None else "Press the digit you drew. ")
                       + "The drawing is kept for the class to retrain the network (no name, nothing about you).")


def session_id() -> str:
    """This browser session's anonymous id (a random uuid4, kept for the session)."""
    return state.session().drawer_id


def png_bytes(canvas: np.ndarray | None) -> bytes | None:
    """The canvas (RGBA uint8; or a photo's ink, grey) as the store keeps it: a greyscale PNG composited on black, at
    most the page's canvas size (a few KB, whatever the client sent under transparent pixels); None without one."""
    return None if canvas is None else png(stored_picture(canvas))


def _drawing_key(centred: np.ndarray) -> str:
    """A short fingerprint of the 28x28 input: the same drawing gives the same key."""
    return hashlib.blake2b(np.ascontiguousarray(centred).tobytes(), digest_size=8).hexdigest()


def _store(label: int, drawing: str, centred: np.ndarray, canvas, probabilities, model_label: str) -> None:
    from digitdnn.storage.drawing_rows import MAX_TEXT_CHARS

    stored = state.session().correction_stored
    predicted = None if probabilities is None else int(np.argmax(probabilities))
    kind: state.NoticeKind
    if drawing in stored:
        kind, text = "info", f"This drawing is already stored, labelled {stored[drawing]}. Draw the next one."
    else:
        try:
            refused = server_state.drawing_refused(session_id(), server_state.client_address())
            if refused is None:
                server_state.drawing_store().add(centred, label, predicted=predicted,
                                                 probabilities=probabilities, model=model_label[:MAX_TEXT_CHARS],
                                                 session=session_id(), image_png=png_bytes(canvas),
                                                 default_predicted=_default_models_answer(centred))
        except server_state.class_store_errors() as exc:
            _LOG.warning("a drawing labelled %d was not stored", label, exc_info=True)
            reason = without_paths(exc)
            kind, text = "error", f"Your drawing was NOT stored: {reason[:1].lower()}{reason[1:]}"
        else:
            if refused is not None:
                kind, text = "warning", refused
            else:
                stored[drawing] = label
                said = ("the model gave no usable answer" if predicted is None
                        else "the network was right" if label == predicted else f"the network said {predicted}")
                kind = "success"
                text = f"Stored, labelled {label} ({said}). Thank you: the class's drawings teach the network."
    state.session().correction_notice = (drawing, kind, text)


def _default_models_answer(centred: np.ndarray) -> int | None:
    """The digit the server's default model names for this input (recorded beside the session's own model's
    answer, which a student's model could bend), None when it cannot be loaded or gives no usable answer."""
    from digitdnn.storage.models import ModelLoadError
    from digitdnn.ui import scoring

    model = server_state.default_model(server_state.default_model_path())
    if isinstance(model, ModelLoadError):
        return None
    answer = scoring.probabilities(model, centred)
    return None if answer is None else int(np.argmax(answer))
