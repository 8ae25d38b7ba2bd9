"""Learning curves (tab): accuracy and loss per epoch, of the run in progress (growing as its epochs end), else of
the active model."""
from __future__ import annotations

import streamlit as st

from digitdnn.ui import layout, runs, state
from digitdnn.ui.charts import learning_curve
from digitdnn.ui.text import plain


def show() -> None:
    """The two charts, titled by the run or model they show."""
    job = runs.current_job()
    if job is not None:
        progress = job.progress()
        title, epochs, planned = job.name, [r.to_dict() for r in progress.reports], progress.epochs
    else:
        entry = state.active_model()
        if entry is None:
            st.info("No model yet: press Train in the sidebar.")
            return
        title, epochs, planned = entry.name, entry.epochs, None
    if not epochs:
        st.caption(f"{plain(title)}: no finished epoch yet." if job else f"{plain(title)}: no learning curve recorded.")
        return
    last = epochs[-1]
    st.markdown(f"**{plain(title)}** · epoch {last['epoch']}: test accuracy {last['test_accuracy']:.2%}, "
                f"train {last['train_accuracy']:.2%}")
    accuracy, loss = layout.wrapping_row("curves", ["16rem", "16rem"])
    accuracy.altair_chart(learning_curve(epochs, "accuracy", planned))
    loss.altair_chart(learning_curve(epochs, "loss", planned))
