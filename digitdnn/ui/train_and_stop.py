"""Train and Stop (the sidebar's buttons, keys "train" and "stop") and the run's live progress.

While a run trains, a fragment redraws its progress every POLL_SECONDS and reruns the whole page when an
epoch ends (at most every PAGE_RERUN_SECONDS), so that the chart grows and the drawing is re-scored with the
new weights, and once more when the run is over.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import streamlit as st

from digitdnn.training.jobs import JobProgress
from digitdnn.ui import runs, state, training_data
from digitdnn.ui.hyperparameters import config_from_state

if TYPE_CHECKING:
    from digitdnn.training.engine import TrainingRun

POLL_SECONDS = 0.5
PAGE_RERUN_SECONDS = 3.0  # while training, the whole page is redrawn for a new epoch at most this often


def show() -> None:
    """The Train and Stop buttons, and under them the progress of this session's run."""
    running = runs.is_training()
    left, right = st.columns(2)
    left.button("Train", key="train", type="primary", on_click=start_training, disabled=running,
                width="stretch")
    right.button("Stop", key="stop", on_click=stop_training, disabled=not running, width="stretch")
    st.fragment(_progress, run_every=POLL_SECONDS if runs.current_job() else None)()


def start_training() -> None:
    """Button callback: start a run with the sidebar's settings (ignored while one is running)."""
    if runs.is_training():
        return
    runs.collect_finished_job()  # a run that ended since the last redraw is kept before the next starts
    try:
        cfg = config_from_state(st.session_state)
        spec, data, suffix = training_data.chosen()
    except ValueError as exc:
        state.notify("training", "error", f"Cannot train: {exc}")
        return
    runs.launch(cfg, spec, data, suffix)


def stop_training() -> None:
    """Button callback: ask the running job to stop; it keeps the weights trained so far."""
    job = runs.current_job()
    if job is not None:
        job.stop()


def _progress() -> None:
    """The run's progress (or the last run's notice); reruns the whole page for a new epoch and at the end."""
    job = runs.current_job()
    if job is None:
        state.show_notice("training")
        return
    progress = job.progress()
    _show_progress(job, progress)
    now = time.monotonic()
    session = state.session()
    new_epoch = progress.epoch != session.seen_epoch
    # Short epochs would redraw the whole page several times a second: on a shared server that is most of its
    # CPU, so a new epoch waits until PAGE_RERUN_SECONDS have passed since the last redraw (the end never waits).
    if progress.done or (new_epoch and now - session.page_rerun_at >= PAGE_RERUN_SECONDS):
        session.seen_epoch = progress.epoch
        session.page_rerun_at = now
        st.rerun()  # the whole page: new chart point, drawing re-scored, or the finished run listed


def _show_progress(job: TrainingRun, progress: JobProgress) -> None:
    if progress.status in ("waiting", "loading data"):
        st.info(f"{job.name}: {progress.message or 'starting…'}", icon="⏳")
        if progress.place:
            st.caption("Other runs are training; yours starts when a place is free. Drawing works meanwhile.")
        return
    under_way = min(progress.epoch + 1, progress.epochs)
    left = "" if progress.seconds_left is None else f" · about {progress.seconds_left:.0f} s left"
    label = f"{job.name}: epoch {under_way} of {progress.epochs}{left}"
    if job.stop_requested:
        label += " · stopping…"
    st.progress(progress.fraction, text=label)
    if progress.reports:
        last = progress.reports[-1]
        st.caption(f"After epoch {last.epoch}: test accuracy {last.test_accuracy:.2%}, train {last.train_accuracy:.2%}")
