"""Train and Stop: start a TrainingJob from a button, watch it from a polling fragment, keep its result.

The job runs in its own thread (training itself in a child process, so that the
server's memory does not grow run after run) and never calls Streamlit. While it runs, the
sidebar fragment redraws the progress every POLL_SECONDS and reruns the whole
page when an epoch ends (at most every PAGE_RERUN_SECONDS) (so the chart grows and the drawing is re-scored with
the new weights) and once more when the run is over.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import streamlit as st

from digitdnn.training.jobs import JobProgress, TrainingJob
from digitdnn.ui import class_data, layout, server_state, state
from digitdnn.ui.charts import learning_curve
from digitdnn.ui.sidebar import config_from_state, short_name
from digitdnn.ui.text import plain

if TYPE_CHECKING:
    from digitdnn.config import TrainConfig
    from digitdnn.model import Classifier
    from digitdnn.training.history import History
    from digitdnn.training.jobs import DataLoader

POLL_SECONDS = 0.5
PAGE_RERUN_SECONDS = 3.0  # while training, the whole page is redrawn for a new epoch at most this often


def current_job() -> TrainingJob | None:
    return state.session().job


def is_training() -> bool:
    job = current_job()
    return job is not None and not job.progress().done


def start_training() -> None:
    """Button callback: start a run with the sidebar's settings (ignored while one is running)."""
    if is_training():
        return
    collect_finished_job()  # a run that ended since the last redraw is kept before the next starts
    try:
        cfg = config_from_state(st.session_state)
        data, suffix = class_data.training_data()
    except ValueError as exc:
        state.notify("training", "error", f"Cannot train: {exc}")
        return
    launch(cfg, data, suffix)


def launch(cfg: TrainConfig, data: DataLoader, suffix: str = "", initial: Classifier | None = None) -> TrainingJob:
    """Start this session's next run ("Run N" + suffix) in the server's queue, in a child process; the sidebar shows
    its progress and Stop, and collect_finished_job keeps its model. `initial`: a warm start from those weights."""
    session = state.session()
    session.run_count += 1
    name = f"Run {session.run_count}{suffix}"
    session.job = TrainingJob(cfg, data, name=name, queue=server_state.training_queue(),
                                       still_wanted=server_state.session_still_open(),
                                       max_seconds=server_state.max_training_seconds(), separate_process=True,
                                       initial=initial).start()
    state.watch_session(session.job)
    session.seen_epoch = 0
    state.clear_notice("training")
    return session.job


def stop_training() -> None:
    """Button callback: ask the running job to stop; it keeps the weights trained so far."""
    job = current_job()
    if job is not None:
        job.stop()


def collect_finished_job() -> None:
    """If this session's job has ended, keep its model as a new run, make it active and say how it went."""
    job = current_job()
    if job is None:
        return
    progress = job.progress()
    if not progress.done:
        return
    state.session().job = None
    # Streamlit keeps a session's previous values until its next run, so a closed page can keep referring to this
    # job (and the weights it returned) for good: it stays watched, to be discarded with the session's models.
    state.watch_session(job)
    if progress.status == "failed":
        state.notify("training", "error", f"{job.name} failed: {progress.error}")
        return
    if progress.result is None:
        state.notify("training", "info", f"{job.name}: {progress.message}")
        return
    history = progress.result.history
    if history.test_accuracy is None:  # no epoch finished: its weights are (nearly) untrained, nothing to use
        kind: state.NoticeKind = "error" if history.status == "diverged" else "info"
        state.notify("training", kind, f"{job.name} {progress.message or history.status}: no epoch finished, so there "
                     "is no model to keep. The active model is unchanged.")
        return
    metadata = {
        "config": job.config.to_dict(),
        "history": history.to_dict(),
        "test_accuracy": history.test_accuracy,
        "data_fingerprint": progress.data_fingerprint,
        "train_images": progress.train_images,
        "command": "digitdnn page",
    }
    diverged = history.status == "diverged"
    state.add_model(state.SessionModel(0, f"{job.name}: {short_name(job.config)}", "trained",
                                     progress.result.classifier, metadata), activate=not diverged)
    summary = (f"{job.name} {progress.message or history.status}: {accuracy_summary(history)}, "
               f"{history.total_seconds:.1f} s.")
    if diverged:
        state.notify("training", "error", f"{summary} It is listed under Runs and models but not made active.")
    else:
        kind = "success" if history.status == "completed" else "info"
        state.notify("training", kind, f"{summary} It is now the active model.")


def accuracy_summary(history: History) -> str:
    """The test accuracy of the weights a run keeps (its last finished epoch), and its best epoch's if that was
    better."""
    accuracy = history.test_accuracy
    assert accuracy is not None  # collect_finished_job returns earlier when no epoch finished
    kept = f"test accuracy {accuracy:.2%}"
    best = max(history.epochs, key=lambda report: report.test_accuracy, default=None)
    if best is None or best.test_accuracy <= accuracy:
        return kept
    return (f"{kept} (the weights after epoch {history.epochs[-1].epoch}, which it keeps; epoch {best.epoch} "
            f"had {best.test_accuracy:.2%})")


def buttons() -> None:
    """The Train and Stop buttons (keys "train" and "stop")."""
    running = is_training()
    left, right = st.columns(2)
    left.button("Train", key="train", type="primary", on_click=start_training, disabled=running,
                width="stretch")
    right.button("Stop", key="stop", on_click=stop_training, disabled=not running, width="stretch")


def progress_panel() -> None:
    """The live progress, redrawn every POLL_SECONDS while this session trains."""
    st.fragment(_progress_body, run_every=POLL_SECONDS if current_job() else None)()


def _progress_body() -> None:
    job = current_job()
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


def _show_progress(job: TrainingJob, progress: JobProgress) -> None:
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


def scoring_model() -> tuple[Classifier | None, str]:
    """(classifier, label) that scores the drawing: the running job's latest epoch, else the active model."""
    job = current_job()
    if job is not None:
        progress = job.progress()
        if progress.classifier is not None and not progress.done:
            return progress.classifier, f"{job.name} after epoch {progress.epoch} of {progress.epochs} (training)"
    entry = state.active_model()
    if entry is None:
        return None, ""
    return entry.classifier, entry.name


def learning_curves() -> None:
    """Accuracy and loss per epoch: of the run in progress, else of the active model."""
    job = current_job()
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
