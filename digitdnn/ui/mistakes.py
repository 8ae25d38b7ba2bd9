"""Mistakes (tab): the active model's confusion matrix on the MNIST test set, the images behind a cell,
and its most confident mistakes.

The test set is scored once per model (Classifier.predict_proba in batches) after the first request
in a session and kept in its Session.evaluations, keyed by the model's id and the test-set size (dropped with
the model's weights, see state.KEPT_WEIGHTS).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from digitdnn.evaluation import Evaluation, evaluate
from digitdnn.ui import scoring, state
from digitdnn.ui.charts import confusion_heatmap
from digitdnn.ui.mnist_data import THUMBNAIL, mnist_or_error, thumbnails
from digitdnn.ui.text import plain

GALLERY_SIZE = 24
CHART_KEY = "confusion_chart"
TRUE_KEY, PREDICTED_KEY = "mistakes_true", "mistakes_predicted"
SELECTION = "cell"


def evaluation_of(entry: state.SessionModel, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """The entry's evaluation on the test set, computed on first use and kept in the session."""
    evaluations = state.session().evaluations
    key = (entry.id, len(labels))
    if key not in evaluations:
        with st.spinner(f"Scoring {len(labels):,} test images with {plain(entry.name)}…"):
            evaluations[key] = evaluate(entry.classifier, images, labels)
    return evaluations[key]


def _on_cell_click() -> None:
    """Chart callback: a clicked cell sets the two selectboxes, which choose the gallery."""
    event = st.session_state.get(CHART_KEY) or {}
    points = (event.get("selection") or {}).get(SELECTION) or []
    if points:
        st.session_state[TRUE_KEY] = int(points[0]["true"])
        st.session_state[PREDICTED_KEY] = int(points[0]["predicted"])


def most_common_confusion(matrix: np.ndarray) -> tuple[int, int]:
    """(true, predicted) of the largest off-diagonal cell."""
    off_diagonal = np.asarray(matrix) * (1 - np.eye(10, dtype=np.int64))
    true, predicted = np.unravel_index(int(off_diagonal.argmax()), off_diagonal.shape)
    return int(true), int(predicted)


def show() -> None:
    """The "Mistakes" tab."""
    entry = state.active_model()
    if entry is None:
        st.info("No model yet: press Train in the sidebar, or open one under Runs and models.")
        return
    data = mnist_or_error()
    if data is None:
        return
    evaluation = evaluation_of(entry, data.x_test, data.y_test)
    matrix = evaluation.confusion_matrix()
    wrong = int(len(evaluation.labels) - np.trace(matrix))
    st.markdown(f"**{plain(entry.name)}** on {len(evaluation.labels):,} MNIST test images: accuracy "
                f"**{evaluation.accuracy:.2%}**, {wrong} mistakes (scored in {evaluation.seconds:.2f} s).")
    if TRUE_KEY not in st.session_state:
        st.session_state[TRUE_KEY], st.session_state[PREDICTED_KEY] = most_common_confusion(matrix)

    chosen = st.session_state[TRUE_KEY], st.session_state[PREDICTED_KEY]
    chart_column, cell_column = st.columns([2, 3], gap="medium")
    with chart_column:
        st.altair_chart(confusion_heatmap(matrix, chosen, SELECTION), key=CHART_KEY, on_select=_on_cell_click,
                        selection_mode=SELECTION, width="content")
        st.caption("Rows: the true digit; columns: what the model said. The diagonal holds the right answers. "
                   "Tap or click a cell (or choose the two digits) to see its images.")
        with st.expander("The matrix as a table"):
            st.dataframe(pd.DataFrame(matrix, index=pd.Index(range(10), name="true"),
                                      columns=[str(d) for d in range(10)]))
    with cell_column, st.container(key="mistakes_cell"):
        true_column, predicted_column = st.columns(2)
        true = true_column.selectbox("True digit", range(10), key=TRUE_KEY)
        predicted = predicted_column.selectbox("Predicted digit", range(10), key=PREDICTED_KEY)
        found = evaluation.cell_indices(true, predicted)
        kind = "named correctly" if true == predicted else f"taken for {predicted}"
        st.markdown(f"**{len(found)} test image{'' if len(found) == 1 else 's'} of {true} {kind}**"
                    + (f", the {GALLERY_SIZE} most confident:" if len(found) > GALLERY_SIZE else ":"))
        gallery(data.x_test, found[:GALLERY_SIZE], evaluation)

    with st.container(key="mistakes_confident"):
        st.markdown("**The most confident mistakes**: test images the model got wrong while being most sure.")
        gallery(data.x_test, evaluation.confident_mistakes(GALLERY_SIZE), evaluation)


def gallery(images: np.ndarray, indices: np.ndarray, evaluation: Evaluation) -> None:
    """Test images with what the model said: its digit and probability, and the probability of the true digit."""
    if not len(indices):
        st.caption("No images here.")
        return
    captions = []
    for i in indices:
        p, label = evaluation.probabilities[i], int(evaluation.labels[i])
        said, unsure = int(p.argmax()), scoring.not_sure(p, short=True)
        captions.append(f"said {said} {p[said]:.0%}" + (f" · {unsure}" if unsure else "")
                        + ("" if said == label else f" · is {label} {p[label]:.0%}"))
    st.image(thumbnails(images[indices]), caption=captions, width=THUMBNAIL)
    with st.expander("All ten probabilities of these images"):
        table = pd.DataFrame(evaluation.probabilities[indices], columns=[str(d) for d in range(10)])
        table.insert(0, "true", evaluation.labels[indices])
        table.insert(0, "test image", indices)
        st.dataframe(table, hide_index=True,
                     column_config={str(d): st.column_config.NumberColumn(format="percent") for d in range(10)})
