"""A session's training runs: start one with the server's training engine, and keep its model as a run of the session
when it ends.

The engine (server_state.training_engine) trains in this server (a thread per run, training in a child process, so
that the server's memory does not grow run after run) or, with $DIGITDNN_QUEUE_URL, on the training workers; either
way the run never calls Streamlit, and the page reads its progress (train_and_stop, learning_curves).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from digitdnn.storage.model_card import ModelCard
from digitdnn.training.engine import TrainingRefused
from digitdnn.training.holdout import unseen_of, why_held_back
from digitdnn.ui import server_state, state
from digitdnn.ui.hyperparameters import short_name

if TYPE_CHECKING:
    from digitdnn.config import TrainConfig
    from digitdnn.data.shared_dataset import DataLoader
    from digitdnn.model import Classifier
    from digitdnn.training.engine import TrainingRun
    from digitdnn.training.history import History
    from digitdnn.training.run_data import RunData


def current_job() -> TrainingRun | None:
    return state.session().job


def is_training() -> bool:
    job = current_job()
    return job is not None and not job.progress().done


def launch(cfg: TrainConfig, spec: RunData, data: DataLoader, suffix: str = "", initial: Classifier | None = None,
           slot: str = "training") -> TrainingRun | None:
    """Start this session's next run ("Run N" + suffix) of `cfg` on the data `spec` describes (`data` loads it here)
    with the server's training engine; the sidebar shows its progress and Stop, and collect_finished_job keeps its
    model. `initial`: a warm start from those weights. None when the engine refuses the run now (the queue is full,
    or cannot be reached) or the queue's setting is wrong: then the notice `slot` says why."""
    session = state.session()
    name = f"Run {session.run_count + 1}{suffix}"
    try:
        engine = server_state.training_engine()
    except ValueError as exc:  # $DIGITDNN_QUEUE_URL is not a Redis URL (the sentence never shows its password)
        state.notify(slot, "error", f"Cannot train: {exc}")
        return None
    try:
        job = engine.start(cfg, spec, data, name=name, session=session.drawer_id, initial=initial,
                           still_wanted=server_state.session_still_open(),
                           max_seconds=server_state.max_training_seconds())
    except TrainingRefused as exc:
        state.notify(slot, "error", str(exc))
        return None
    session.run_count += 1
    session.job = job
    state.watch_session(job)
    session.seen_epoch = 0
    state.clear_notice("training")
    return job


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
    retrain = state.session().retrain_pending
    fine_tuned = retrain.fine_tuned_record(progress.result.classifier) if retrain and retrain.job is job else None
    metadata = ModelCard.of_run(history, command="digitdnn page", data_fingerprint=progress.data_fingerprint,
                                train_images=progress.train_images, fine_tuned=fine_tuned,
                                temperature=progress.result.classifier.metadata.get("temperature")).to_json()
    diverged = history.status == "diverged"
    # a warm start (retrain) that named fewer of the drawings held back from it, or lost MNIST
    fell = why_held_back(unseen_of(fine_tuned), history.initial_test_accuracy, history.test_accuracy)
    state.add_model(state.SessionModel(0, f"{job.name}: {short_name(job.config)}", "trained",
                                     progress.result.classifier, metadata), activate=not diverged and fell is None)
    summary = (f"{job.name} {progress.message or history.status}: {accuracy_summary(history)}, "
               f"{history.total_seconds:.1f} s.")
    if diverged:
        state.notify("training", "error", f"{summary} It is listed under Runs and models but not made active.")
    elif fell:
        state.notify("training", "warning", f"{summary} {fell[:1].upper()}{fell[1:]}: it is listed under Runs and "
                     "models but not made active.")
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
