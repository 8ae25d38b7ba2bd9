"""Class drawings (tab): what the class has stored with the correction buttons, how the active model does on it,
a gallery by label, retraining on it, and the teacher's controls."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import streamlit as st

from digitdnn.evaluation import evaluate
from digitdnn.ui import retrain_on_class_drawings, server_state, state, teacher_controls, teacher_key
from digitdnn.ui.charts import confusion_heatmap
from digitdnn.ui.images import enlarge

GALLERY_SIZE = 40
THUMBNAIL = 84
ALL_LABELS = "all"
GALLERY_LABEL = "class_gallery_label"
_LOG = logging.getLogger(__name__)


def show() -> None:
    """The "Class drawings" tab."""
    from digitdnn.storage.drawings import DrawingStoreError

    try:
        store = server_state.drawing_store()
        counts = store.counts()
        x, y = store.arrays()
    except DrawingStoreError as exc:
        _LOG.warning("the class's drawings cannot be read", exc_info=True)
        st.error(f"The class's drawings cannot be read: {exc}")
        return
    if store.notice:
        st.warning(store.notice)
    st.caption("Drawings stored with the buttons under the prediction (“It was a …”): the 28 x 28 input, the "
               "canvas, the digit it really is, what the network said, which model, when, and an anonymous id "
               "of the browser tab. One database for everyone on this server.")
    _counts(counts)
    shown = []
    if not len(y):
        st.info("No drawings yet: draw a digit, then press the digit it is under the prediction.")
    else:
        _active_model_on(x, y)
        retrain_on_class_drawings.show(x, y)
        shown = _gallery(store)
    st.divider()
    if teacher_key.show():
        teacher_controls.show(store, shown)


def _counts(counts) -> None:
    st.markdown(f"**{int(counts.sum())} drawings** stored, per digit:")
    table = pd.DataFrame([counts], columns=[str(d) for d in range(10)], index=["drawings"])
    st.dataframe(table)


def _active_model_on(x, y) -> None:
    """The active model's accuracy and confusion matrix on the class's drawings."""
    entry = state.active_model()
    if entry is None:
        st.info("No model yet: press Train in the sidebar, or open one under Runs and models.")
        return
    evaluation = evaluate(entry.classifier, x, y)
    matrix = evaluation.confusion_matrix()
    drawn, right = matrix.sum(axis=1), np.diag(matrix)
    st.markdown("**The active model on the class's drawings**")
    st.text(f"{entry.name}: {evaluation.accuracy:.1%} named right ({int(right.sum())} of {len(y)}).")
    chart, table = st.columns([2, 3], gap="medium")
    chart.altair_chart(confusion_heatmap(matrix), width="content")
    chart.caption("Rows: the digit it really is; columns: what the model said.")
    per_digit = pd.DataFrame({"drawings": drawn, "named right": right,
                              "accuracy": np.where(drawn > 0, right / np.maximum(drawn, 1), np.nan)},
                             index=pd.Index(range(10), name="digit"))
    table.dataframe(per_digit,
                    column_config={"accuracy": st.column_config.NumberColumn(format="percent")})


def _gallery(store) -> list[int]:
    """The newest drawings of one digit (or of all), with what the model said when each was stored; their ids."""
    st.markdown("**Gallery**, newest first")
    choice = st.segmented_control("Digit", [ALL_LABELS, *range(10)], default=ALL_LABELS, key=GALLERY_LABEL)
    label = None if choice in (None, ALL_LABELS) else int(choice)
    drawings = store.recent(label, limit=GALLERY_SIZE)
    if not drawings:
        st.caption("No drawings of this digit yet.")
        return []
    st.image([enlarge(d.x, size=THUMBNAIL, grid=False) for d in drawings], width=THUMBNAIL,
             caption=[_caption(d) for d in drawings])
    return [d.id for d in drawings]


def _caption(drawing) -> str:
    said = "" if drawing.predicted is None else (
        " · said so" if drawing.predicted == drawing.label else f" · said {drawing.predicted}")
    return f"#{drawing.id} · {drawing.label}{said}"
