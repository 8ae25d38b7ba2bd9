"""Class drawings (tab): what the class has stored with the correction buttons, how the active model does on it,
a gallery by label, retraining on it, and the teacher's controls.

The database may hold 100,000 drawings: the counts come from the database, the active model is scored on the
newest SCORED_DRAWINGS of them, and the gallery shows one page of GALLERY_SIZE at a time; no view loads them all.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np
import pandas as pd
import streamlit as st

from digitdnn.evaluation import evaluate
from digitdnn.ui import retrain_on_class_drawings, server_state, state, teacher_controls, teacher_key
from digitdnn.ui.charts import confusion_heatmap
from digitdnn.ui.images import enlarge
from digitdnn.ui.text import without_paths

GALLERY_SIZE = 40
SCORED_DRAWINGS = 5_000    # the active model is scored on the newest this many (4 MB as stored, 0.15 s)
NOTICE_SECONDS = 600       # how long every session is told that a damaged database was set aside
THUMBNAIL = 84
ALL_LABELS = "all"
GALLERY_LABEL = "class_gallery_label"
GALLERY_PAGE = "class_gallery_page"
DAMAGED_SET_ASIDE = ("The class's drawings database was damaged and has been set aside (the teacher can find it); "
                     "a new, empty one was started.")
_LOG = logging.getLogger(__name__)


def show() -> None:
    """The "Class drawings" tab."""
    try:
        store = server_state.drawing_store()
        counts = store.counts()
        x, y = store.arrays(newest=SCORED_DRAWINGS, stored=True)
    except server_state.class_store_errors() as exc:
        _LOG.warning("the class's drawings cannot be read", exc_info=True)
        st.error(f"The class's drawings cannot be read: {without_paths(exc)}")
        return
    noticed_at = getattr(store, "noticed_at", None)  # when the local SQLite file set a damaged one aside
    if store.notice and noticed_at is not None and time.monotonic() - noticed_at < NOTICE_SECONDS:
        st.warning(DAMAGED_SET_ASIDE)
    st.caption("Drawings stored with the buttons under the prediction (“It was a …”): the 28 x 28 input, the "
               "canvas, the digit it really is, what the network said, which model, when, and an anonymous id "
               "of the browser tab. One database for the whole class.")
    total = int(counts.sum())
    _counts(counts)
    shown = []
    if not total:
        st.info("No drawings yet: draw a digit, then press the digit it is under the prediction.")
    else:
        _active_model_on(x, y, total)
        retrain_on_class_drawings.show(x, y)
        shown = _gallery(store, counts)
    st.divider()
    if teacher_key.show():
        if store.notice:
            st.warning(store.notice)   # the teacher's own view: with where the damaged file was kept
        teacher_controls.show(store, shown)


def _counts(counts) -> None:
    total = int(counts.sum())
    st.markdown(f"**{total} drawing{'' if total == 1 else 's'}** stored, per digit:")
    table = pd.DataFrame([counts], columns=[str(d) for d in range(10)], index=["drawings"])
    st.dataframe(table)


def _active_model_on(x, y, total: int) -> None:
    """The active model's accuracy and confusion matrix on the class's drawings (the newest SCORED_DRAWINGS)."""
    entry = state.active_model()
    if entry is None:
        st.info("No model yet: press Train in the sidebar, or open one under Runs and models.")
        return
    evaluation = evaluate(entry.classifier, x, y)
    matrix = evaluation.confusion_matrix()
    drawn, right = matrix.sum(axis=1), np.diag(matrix)
    st.markdown("**The active model on the class's drawings**")
    st.text(f"{entry.name}: {evaluation.accuracy:.1%} named right ({int(right.sum())} of {len(y)}).")
    if len(y) < total:
        st.caption(f"Scored on the newest {len(y):,} of the {total:,} drawings.")
    chart, table = st.columns([2, 3], gap="medium")
    chart.altair_chart(confusion_heatmap(matrix), width="content")
    chart.caption("Rows: the digit it really is; columns: what the model said.")
    per_digit = pd.DataFrame({"drawings": drawn, "named right": right,
                              "accuracy": np.where(drawn > 0, right / np.maximum(drawn, 1), np.nan)},
                             index=pd.Index(range(10), name="digit"))
    table.dataframe(per_digit,
                    column_config={"accuracy": st.column_config.NumberColumn(format="percent")})


def _gallery(store, counts) -> list[int]:
    """One page of the newest drawings of one digit (or of all), with what the model said when each was stored;
    their ids."""
    st.markdown("**Gallery**, newest first")
    choice = st.segmented_control("Digit", [ALL_LABELS, *range(10)], default=ALL_LABELS, key=GALLERY_LABEL)
    label = _label(choice)
    pages = max(1, math.ceil(int(counts.sum() if label is None else counts[label]) / GALLERY_SIZE))
    page = 1
    if pages > 1:
        page = _page(st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1,
                                     key=GALLERY_PAGE), pages)
    drawings = store.recent(label, limit=GALLERY_SIZE, offset=(page - 1) * GALLERY_SIZE)
    if not drawings:
        st.caption("No drawings of this digit yet.")
        return []
    st.image([enlarge(d.x, size=THUMBNAIL, grid=False) for d in drawings], width=THUMBNAIL,
             caption=[_caption(d) for d in drawings])
    return [d.id for d in drawings]


def _label(choice) -> int | None:
    """The digit chosen in the gallery (None: all); any value a client forges that is not a digit means all."""
    try:
        digit = int(choice)
    except (TypeError, ValueError):
        return None
    return digit if 0 <= digit <= 9 and str(digit) == str(choice) else None


def _page(value, pages: int) -> int:
    """The gallery page asked for, as a number from 1 to `pages` (a forged value is brought into range)."""
    try:
        page = int(value)
    except (TypeError, ValueError, OverflowError):
        return 1
    return min(max(page, 1), pages)


def _caption(drawing) -> str:
    said = "" if drawing.predicted is None else (
        " · said so" if drawing.predicted == drawing.label else f" · said {drawing.predicted}")
    return f"#{drawing.id} · {drawing.label}{said}"
