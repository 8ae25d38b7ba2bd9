"""Retrain on class drawings: the active model continued (a warm start) on the class's drawings mixed with MNIST and
pen digits, with digitdnn.training.finetune's recipe and mix (run_data.loader_for), as a run like any other
(the server's training engine, the sidebar's progress and Stop; the result becomes a run of the session),
then before and after: on the drawings of the browser tabs held back from it (training.holdout), on MNIST, and on
the drawings it trained on.

A retrain that names fewer of the held-back drawings than the model it started from, or whose MNIST test accuracy
fell by more than finetune.MAX_MNIST_FALL (mislabelled drawings), is kept as a run but not made active
(runs.collect_finished_job) nor offered as the server's default (teacher_controls), until the teacher presses
"Use it anyway"; the page says in one sentence which model is kept and why.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

from digitdnn.evaluation import evaluate
from digitdnn.server import settings
from digitdnn.training.finetune import USED_ANYWAY
from digitdnn.training.holdout import kept_sentence, split_by_tab, unseen_of, why_held_back
from digitdnn.training.run_data import DrawingsPick, RunData, loader_for
from digitdnn.ui import runs, server_state, state, teacher_key, training_data

MIN_DRAWINGS = 10      # fewer teach the network nothing worth a run
USE_ANYWAY = "retrain_use_anyway"  # the teacher's button that makes a held-back retrain active


def show(x: np.ndarray, y: np.ndarray) -> None:
    """The Retrain button, what it does, and the last retrain's before and after."""
    st.markdown("**Retrain on class drawings**")
    st.caption("Continues the active model (a warm start) on the class's drawings mixed with MNIST and other "
               "people's pen digits, so that it learns this room's handwriting and keeps what it knew. It waits "
               "for a training place like any run; its progress and Stop are in the sidebar, and the new model "
               "becomes a run in your list.")
    problem = _why_not(len(y))
    st.button("Retrain on class drawings", key="retrain", type="primary", on_click=start_retrain,
              disabled=problem is not None)
    if problem:
        st.caption(f"Off: {problem}.")
    else:
        preview = _held_back_now()
        if preview:
            st.caption(f"Retrain now: {preview}.")
    state.show_notice("retrain")
    _show_outcome()


def start_retrain() -> None:
    """Button callback: start the retrain run of the active model on the class's drawings, as they are now."""
    from digitdnn.training.finetune import fine_tune_config

    if runs.is_training():
        return
    runs.collect_finished_job()
    entry = state.active_model()
    try:
        up_to, x, y, tabs = training_data.class_drawings_with_tabs()
        problem = _why_not(len(y))
        if problem:
            raise ValueError(problem)
        # _why_not found an active model, and an active model keeps its weights
        assert entry is not None and entry.classifier is not None
        cfg = fine_tune_config(entry.classifier)
    except ValueError as exc:
        state.notify("retrain", "error", f"Cannot retrain: {exc}")
        return
    split = split_by_tab(tabs)
    x_trained, y_trained = x[~split.held], y[~split.held]  # one copy, for the run and for its figures
    pick = DrawingsPick("retrain", up_to, tuple(sorted(set(tabs[split.held]))))
    data = loader_for(server_state.mnist_loader(), pick, x_trained, y_trained, seed=cfg.seed)
    job = runs.launch(cfg, RunData("mnist", settings.data_limit(), pick), data,
                      suffix=f" (retrained on {len(y_trained)} class drawings)", initial=entry.classifier,
                      slot="retrain")
    if job is None:  # refused: the notice says why
        return
    session = state.session()
    session.retrain_pending = state.RetrainRun(job, entry.name, entry.classifier, x_trained, y_trained, split,
                                               x[split.held], y[split.held])
    session.retrain_outcome = None
    state.clear_notice("retrain")


def _held_back_now() -> str | None:
    """What a retrain started now would hold back (holdout.Split.describe), from the drawings per tab; None when the
    store cannot say."""
    try:
        tabs = server_state.drawing_store().tabs()
    except server_state.class_store_errors():
        return None  # the tab shows the store's error already
    each = np.repeat(np.array([tab.session for tab in tabs], dtype=object), [tab.drawings for tab in tabs])
    return split_by_tab(each).describe()


def _why_not(drawings: int) -> str | None:
    """Why Retrain is off now, or None."""
    if runs.is_training():
        return "a run of yours is training (wait for it, or press Stop in the sidebar)"
    if state.active_model() is None:
        return "there is no active model to continue (train or open one first)"
    if drawings < MIN_DRAWINGS:
        return f"it needs at least {MIN_DRAWINGS} class drawings, and there are {drawings}"
    return None


def held_back(entry: state.SessionModel) -> str | None:
    """Why this model must not replace the one it continued (holdout.why_held_back on its own model card: fewer
    held-back drawings named, or MNIST fell), unless the teacher used it anyway (or saved it with `digitdnn finetune
    --force`); None for any other model."""
    if entry.metadata.get(USED_ANYWAY):
        return None
    before = entry.history.get("initial_test_accuracy")
    if not isinstance(before, (int, float)) or isinstance(before, bool):
        before = None
    return why_held_back(unseen_of(entry.metadata.get("fine_tuned")), before, entry.test_accuracy)


def use_anyway() -> None:
    """Teacher's button callback: make the held-back retrained model active, and a candidate for the default."""
    session = state.session()
    outcome = session.retrain_outcome
    if not teacher_key.is_teacher() or outcome is None or outcome.held_back is None:
        return
    entry = next((m for m in state.models() if m.id == outcome.model_id and m.classifier is not None), None)
    if entry is None:
        state.notify("retrain", "error", "The retrained model is no longer kept in memory: retrain again.")
        return
    entry.metadata[USED_ANYWAY] = outcome.held_back
    st.session_state[state.ACTIVE_MODEL_KEY] = entry.id
    session.retrain_outcome = dataclasses.replace(outcome, held_back=None, kept=None)
    state.notify("retrain", "warning", f"The retrained model is now the active model, used anyway "
                 f"({outcome.held_back}).")


def _show_outcome() -> None:
    session = state.session()
    pending = session.retrain_pending
    if pending is not None:
        progress = pending.job.progress()
        if not progress.done or session.job is pending.job:  # running, or its model not yet kept as a run
            st.info(f"{pending.job.name}: {progress.message or progress.status}; {pending.split.describe()}. "
                    "See the sidebar for its progress and Stop.")
            return
        session.retrain_outcome = outcome_of(pending)
        session.retrain_pending = None
    outcome = session.retrain_outcome
    if outcome is None:
        return
    st.text(f"{outcome.name} {outcome.message or outcome.status}. Started from: {outcome.start_name}.")
    if outcome.kept:
        (st.warning if outcome.held_back or outcome.status == "diverged" else st.success)(outcome.kept)
    if outcome.drawings_after is None:
        return
    unseen = outcome.unseen
    rows: dict[str, tuple[float | None, float | None]] = {
        f"{unseen.source} (not trained on)": (unseen.before, unseen.after)} if unseen else {}
    rows[f"MNIST test ({outcome.mnist_images} images)"] = (outcome.mnist_before, outcome.mnist_after)
    rows[f"{outcome.drawings} drawings (trained on)"] = (outcome.drawings_before, outcome.drawings_after)
    table = pd.DataFrame(list(rows.values()), index=list(rows), columns=["before", "after"])
    st.dataframe(table,
                 column_config={c: st.column_config.NumberColumn(format="percent") for c in ("before", "after")})
    held = ("The drawings of the tabs held back show whether it reads this room's handwriting better." if unseen
            else f"Nothing was held back to measure it ({outcome.nothing_held_back}).")
    st.caption(f"{held} MNIST test accuracy shows whether it still reads digits; the drawings it trained on are "
               "learned, wrong labels too.")
    if outcome.held_back:
        st.caption("The retrained model was not made active. Check the class's drawings for wrong labels (the "
                   "teacher's \"Drawings by browser tab\" lists whose labels most often differ from the model); "
                   "right labels from a few hands can do this too: more tabs teach it more handwriting.")
        if teacher_key.is_teacher():
            st.button("Use it anyway", key=USE_ANYWAY, on_click=use_anyway,
                      help="Makes it the active model of this tab, and lets you make it the default for new sessions.")


def outcome_of(run: state.RetrainRun) -> state.RetrainOutcome:
    """The figures of a finished retrain (both models on the held-back drawings, on the MNIST test set and on the
    drawings it trained on), the run that keeps its model, which model is kept and why."""
    progress = run.job.progress()
    result = progress.result
    if result is None:
        return state.RetrainOutcome(run.job.name, run.start_name, progress.status, progress.error or progress.message,
                                    len(run.y), None, None, 0, None, None)
    history = result.history
    entry = next((m for m in state.models() if m.classifier is result.classifier), None)  # the run that keeps it
    unseen = unseen_of(entry.metadata.get("fine_tuned")) if entry else None
    before, after = history.initial_test_accuracy, history.test_accuracy
    if entry is None:
        sentence = None
    elif history.status == "diverged":
        sentence = "Kept the model you started from: the retrain diverged (its loss blew up)."
    else:
        sentence = kept_sentence(unseen, run.split.nothing_held_back, before, after)
    return state.RetrainOutcome(
        run.job.name, run.start_name, history.status, progress.message, len(run.y),
        evaluate(run.start, run.x, run.y).accuracy, evaluate(result.classifier, run.x, run.y).accuracy,
        len(server_state.mnist_loader()().y_test), before, after,
        model_id=None if entry is None else entry.id, held_back=None if entry is None else held_back(entry),
        unseen=unseen, nothing_held_back=run.split.nothing_held_back, kept=sentence)
