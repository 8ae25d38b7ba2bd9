"""Retrain on class drawings: the active model continued (a warm start) on the class's drawings mixed with MNIST,
with digitdnn.training.finetune's recipe, as a run like any other (the server's queue, a child process, the sidebar's
progress and Stop; the result becomes a run of the session), then before and after, on the drawings and on MNIST.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from digitdnn.evaluation import evaluate
from digitdnn.ui import runs, server_state, state, training_data

MIN_DRAWINGS = 10      # fewer teach the network nothing worth a run


def show(x: np.ndarray, y: np.ndarray) -> None:
    """The Retrain button, what it does, and the last retrain's before and after."""
    st.markdown("**Retrain on class drawings**")
    st.caption("Continues the active model (a warm start) on the class's drawings mixed with MNIST, so that it "
               "learns this room's handwriting and keeps MNIST. It waits for a training place like any run; its "
               "progress and Stop are in the sidebar, and the new model becomes a run in your list.")
    problem = _why_not(len(y))
    st.button("Retrain on class drawings", key="retrain", type="primary", on_click=start_retrain,
              disabled=problem is not None)
    if problem:
        st.caption(f"Off: {problem}.")
    state.show_notice("retrain")
    _show_outcome()


def start_retrain() -> None:
    """Button callback: start the retrain run of the active model on the class's drawings, as they are now."""
    from digitdnn.training.finetune import MNIST_SAMPLE, fine_tune_config

    if runs.is_training():
        return
    runs.collect_finished_job()
    entry = state.active_model()
    try:
        x, y = training_data.class_drawings()
        problem = _why_not(len(y))
        if problem:
            raise ValueError(problem)
        # _why_not found an active model, and an active model keeps its weights
        assert entry is not None and entry.classifier is not None
        cfg = fine_tune_config(entry.classifier)
    except ValueError as exc:
        state.notify("retrain", "error", f"Cannot retrain: {exc}")
        return
    data = training_data.with_drawings(server_state.mnist_loader(), x, y, mnist_sample=MNIST_SAMPLE, seed=cfg.seed)
    job = runs.launch(cfg, data, suffix=f" (retrained on {len(y)} class drawings)", initial=entry.classifier)
    session = state.session()
    session.retrain_pending = state.RetrainRun(job, entry.name, entry.classifier, x, y)
    session.retrain_outcome = None
    state.clear_notice("retrain")


def _why_not(drawings: int) -> str | None:
    """Why Retrain is off now, or None."""
    if runs.is_training():
        return "a run of yours is training (wait for it, or press Stop in the sidebar)"
    if state.active_model() is None:
        return "there is no active model to continue (train or open one first)"
    if drawings < MIN_DRAWINGS:
        return f"it needs at least {MIN_DRAWINGS} class drawings, and there are {drawings}"
    return None


def _show_outcome() -> None:
    session = state.session()
    pending = session.retrain_pending
    if pending is not None:
        progress = pending.job.progress()
        if not progress.done:
            st.info(f"{pending.job.name}: {progress.message or progress.status}. "
                    "See the sidebar for its progress and Stop.")
            return
        session.retrain_outcome = outcome_of(pending)
        session.retrain_pending = None
    outcome = session.retrain_outcome
    if outcome is None:
        return
    st.text(f"{outcome.name} {outcome.message or outcome.status}. Started from: {outcome.start_name}.")
    if outcome.drawings_after is None:
        return
    table = pd.DataFrame(
        {"before": [outcome.drawings_before, outcome.mnist_before],
         "after": [outcome.drawings_after, outcome.mnist_after]},
        index=[f"the class's {outcome.drawings} drawings (trained on)", f"MNIST test ({outcome.mnist_images} images)"])
    st.dataframe(table,
                 column_config={c: st.column_config.NumberColumn(format="percent") for c in ("before", "after")})


def outcome_of(run: state.RetrainRun) -> state.RetrainOutcome:
    """The figures of a finished retrain: accuracy on its drawings and on the MNIST test set, before and after."""
    progress = run.job.progress()
    result = progress.result
    if result is None:
        return state.RetrainOutcome(run.job.name, run.start_name, progress.status, progress.error or progress.message,
                              len(run.y), None, None, 0, None, None)
    history = result.history
    return state.RetrainOutcome(
        run.job.name, run.start_name, history.status, progress.message, len(run.y),
        evaluate(run.start, run.x, run.y).accuracy, evaluate(result.classifier, run.x, run.y).accuracy,
        len(server_state.mnist_loader()().y_test), history.initial_test_accuracy, history.test_accuracy)
