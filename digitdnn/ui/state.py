"""Per-session state: one typed `Session` per browser session, with the models it can use and the records of what
its sections show (a watched drawing, a retrain), so that one person's runs never touch another's.

The session lives in st.session_state under SESSION_KEY (its widgets' values beside it under their own keys; the
active model's id is the value of the "Runs and models" picker, ACTIVE_MODEL_KEY). What it holds is bounded:
besides the shared default model and the active one, only the KEPT_WEIGHTS newest models keep their weights
(older ones stay listed as records), and all are released once its page has been closed a few seconds.
"""
from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Literal

import numpy as np
import streamlit as st

from digitdnn.config import TrainConfig
from digitdnn.storage.models import ModelLoadError, kept_test_accuracy
from digitdnn.ui import server_state
from digitdnn.ui.text import plain, without_paths

_LOG = logging.getLogger(__name__)

if TYPE_CHECKING:
    from digitdnn.classroom.lesson_file import StepSetup
    from digitdnn.evaluation import Evaluation
    from digitdnn.model import Classifier
    from digitdnn.training.engine import TrainingRun
    from digitdnn.training.holdout import Measured, Split

KEPT_WEIGHTS = 3  # models besides the default and the active one whose weights a session keeps in memory
SESSION_KEY = "session"            # st.session_state: this session's Session
ACTIVE_MODEL_KEY = "active_model"  # st.session_state: the active model's id (the value of the model picker)
Source = Literal["default", "trained", "uploaded", "opened"]
NoticeKind = Literal["success", "info", "warning", "error"]


@dataclass
class SessionModel:
    """A model this session can make active: the default, a run, an upload or a saved file.

    `metadata` has the fields of a saved model's sidecar (config, history, test_accuracy, ...),
    so an entry is saved as it is and a saved model opens as the same entry.
    """

    id: int
    name: str
    source: Source
    classifier: Classifier | None  # None: a record, its weights released to bound the session's memory
    metadata: dict = field(default_factory=dict)

    @property
    def config(self) -> TrainConfig | None:
        try:
            return TrainConfig.from_dict(self.metadata["config"])
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def history(self) -> dict:
        history = self.metadata.get("history")
        return history if isinstance(history, dict) else {}

    @property
    def epochs(self) -> list[dict]:
        """Per-epoch reports as dicts (epoch, train/test accuracy and loss, seconds)."""
        return [e for e in self.history.get("epochs") or [] if isinstance(e, dict) and "test_accuracy" in e]

    @property
    def test_accuracy(self) -> float | None:
        """Test accuracy of this entry's weights (a run's last finished epoch, not its best one)."""
        return kept_test_accuracy(self.metadata)


@dataclass(frozen=True)
class WatchRecord:
    """The drawing a run watches ("Watch it learn"): its probabilities by epoch come from the run itself while it
    trains (so the last epoch is there even when the run ended between two redraws), and are kept alone once it
    has ended (`ended`)."""

    job: TrainingRun | None     # None once the run has ended
    drawing: np.ndarray | None  # the 28x28 input followed
    run: str = ""
    watched: tuple = ()         # (epoch, ten probabilities) of an ended run

    @property
    def probabilities(self) -> dict[int, np.ndarray]:
        return dict(self.job.progress().watched if self.job is not None else self.watched)

    def ended(self) -> WatchRecord:
        """The record without its job, once the run is over (the job holds the run's weights)."""
        assert self.job is not None  # called only on a record whose job is still attached
        return WatchRecord(None, self.drawing, self.run, tuple(self.job.progress().watched))


@dataclass(frozen=True)
class RetrainRun:
    """A retrain on the class's drawings under way: its job, the model it started from, the drawings it trains on,
    and those of the tabs held back to measure it (training.holdout)."""

    job: TrainingRun
    start_name: str
    start: Classifier
    x: np.ndarray           # the drawings it trains on
    y: np.ndarray
    split: Split            # of all the class's drawings: which are held back
    unseen_x: np.ndarray    # the held-back drawings (none when nothing is held back)
    unseen_y: np.ndarray

    def fine_tuned_record(self, tuned: Classifier) -> dict:
        """The model card's `fine_tuned` of the model it made: the drawings trained on and, by
        holdout.fine_tuned_record, both models on the held-back ones."""
        from digitdnn.training.holdout import fine_tuned_record, measure

        unseen = None if self.split.nothing_held_back else measure(self.start, tuned, self.unseen_x, self.unseen_y,
                                                                    self.split.held_tabs)
        return fine_tuned_record(len(self.y), self.split, unseen)


@dataclass(frozen=True)
class RetrainOutcome:
    """Before and after of a finished retrain (figures only: no weights are kept here)."""

    name: str
    start_name: str
    status: str
    message: str
    drawings: int                  # trained on
    drawings_before: float | None
    drawings_after: float | None
    mnist_images: int
    mnist_before: float | None
    mnist_after: float | None
    model_id: int | None = None    # the retrained model's entry in the session's models (None: no model kept)
    held_back: str | None = None   # why it was not made active (holdout.why_held_back), until a teacher uses it anyway
    unseen: Measured | None = None         # both models on the held-back drawings (None: nothing held back)
    nothing_held_back: str | None = None   # why nothing was held back
    kept: str | None = None                # which model is kept and why, one sentence (holdout.kept_sentence)


@dataclass
class Session:
    """Everything one browser session keeps between its page runs, besides its widgets' values."""

    # Models and runs
    models: list[SessionModel] = field(default_factory=list)
    job: TrainingRun | None = None           # the run under way, or ended and not yet collected
    run_count: int = 0                       # runs started, for their names ("Run 3")
    seen_epoch: int | None = None            # the run's epoch the whole page was last redrawn for
    page_rerun_at: float = 0.0               # time.monotonic() of that redraw
    default_model_error: str | None = None   # why there is no default model, shown above the drawing
    notices: dict[str, tuple[NoticeKind, str]] = field(default_factory=dict)  # by slot, see notify
    evaluations: dict[tuple[int, int], Evaluation] = field(default_factory=dict)  # (model id, test images)
    watched: WatchRecord | None = None       # the drawing the run in progress (or the last one) follows
    overlay_known: set[str] = field(default_factory=set)  # runs the curves overlay has offered already
    retrain_pending: RetrainRun | None = None      # the Retrain run under way
    retrain_outcome: RetrainOutcome | None = None  # the last finished one's figures
    # The page address
    address_read: bool = False
    address_messages: list[str] = field(default_factory=list)  # values the address had that could not be used
    address_config: TrainConfig | None = None                   # the settings the address gave
    # The canvas
    canvas_reloads: int = 0                  # times the canvas was told to reload (Undo, Clear)
    canvas_reloaded_strokes: list = field(default_factory=list)  # the strokes it reloaded with
    canvas_strokes: list = field(default_factory=list)           # the strokes it sent last
    canvas_size: int | None = None           # the canvas's side when it was last drawn (presenter mode enlarges it)
    # The class's drawings
    drawer_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # anonymous, stored with its drawings
    correction_notice: tuple[str, NoticeKind, str] | None = None  # (drawing key, kind, text) of the last press
    correction_stored: dict[str, int] = field(default_factory=dict)  # drawing key -> label, of those it stored
    teacher_unlocked: str = ""               # a digest of the key this session was unlocked with
    # The teacher's lesson and the class challenge (lesson_bar.py, challenge_board.py)
    lesson_version: int = 0                  # the lesson's version this page last saw (0: none yet)
    lesson_pending: StepSetup | None = None  # a step's setup, put into the widgets at the top of the next full run
    challenge_seen: tuple[int, bool] | None = None  # (id, open) of the class challenge the page last drew


def session() -> Session:
    """This browser session's Session (made on first use)."""
    found = st.session_state.get(SESSION_KEY)
    if found is None:
        found = st.session_state[SESSION_KEY] = Session()
    return found


def init_session() -> None:
    """Create this session's state on its first run, with the default model active when there is one (called at
    every full run)."""
    server_state.keep_tensorflow_out_of_gc()
    models = session().models
    if not any(m.source == "default" for m in models):
        _add_default_model()
    if active_model() is None and any(m.source == "default" for m in models):  # it was released
        st.session_state[ACTIVE_MODEL_KEY] = next(m.id for m in models if m.source == "default")
    if not server_state.session_sweeper().watching(server_state.session_id()):
        watch_session(None)


def watch_session(job: TrainingRun | None) -> None:
    """Have this session's models (and `job`, its current run) released once its page has been closed a while."""
    release = partial(release_session, session().models, session().evaluations, job)
    server_state.session_sweeper().watch(server_state.session_id(), server_state.session_still_open(), release)


def release_session(models: list[SessionModel], evaluations: dict, job: TrainingRun | None) -> None:
    """A closed session: stop its run and drop every model's weights (the shared default model stays)."""
    if job is not None:
        job.discard()
    _release(models, evaluations, keep=lambda entry: entry.source == "default")


def _release(models: list[SessionModel], evaluations: dict, keep: Callable[[SessionModel], bool]) -> None:
    """Turn, in place, every entry with weights for which keep(entry) is False into a record."""
    for index, entry in enumerate(models):
        if entry.classifier is not None and not keep(entry):
            models[index] = dataclasses.replace(entry, classifier=None)
            for key in [key for key in evaluations if key[0] == entry.id]:
                del evaluations[key]


def _add_default_model() -> None:
    path = server_state.default_model_path()
    loaded = server_state.default_model(path)
    if isinstance(loaded, ModelLoadError):
        if session().default_model_error is None:  # logged once per session (the server loads it once per file)
            _LOG.error("the default model %s could not be loaded", path, exc_info=loaded)
        session().default_model_error = without_paths(f"No default model ({path}): {loaded}")
        return
    session().default_model_error = None
    add_model(SessionModel(0, "Default model", "default", loaded, dict(loaded.metadata)), activate=False)
    if st.session_state.get(ACTIVE_MODEL_KEY) is None:
        st.session_state[ACTIVE_MODEL_KEY] = session().models[-1].id


def models() -> list[SessionModel]:
    return session().models


def active_model() -> SessionModel | None:
    """The entry that scores the drawing (never a record)."""
    wanted = st.session_state.get(ACTIVE_MODEL_KEY)
    return next((m for m in session().models if m.id == wanted and m.classifier is not None), None)


def add_model(entry: SessionModel, activate: bool = True) -> SessionModel:
    """Add `entry` under a fresh id and a name no other entry has, and optionally make it active."""
    models = session().models
    next_id = max((m.id for m in models), default=0) + 1
    taken = {m.name for m in models}
    name = entry.name if entry.name not in taken else f"{entry.name} (#{next_id})"
    entry = dataclasses.replace(entry, id=next_id, name=name)
    models.append(entry)
    if activate:
        st.session_state[ACTIVE_MODEL_KEY] = entry.id
    _bound_weights()
    return entry


def _bound_weights() -> None:
    """Keep the weights of the default model, the active one and the KEPT_WEIGHTS newest others; release the rest
    (with their evaluations, so that the Mistakes tab's cache is bounded too)."""
    models = session().models
    holding = [m.id for m in models if m.classifier is not None and m.source != "default"]
    kept = set(holding[-KEPT_WEIGHTS:]) | {st.session_state.get(ACTIVE_MODEL_KEY)}
    _release(models, session().evaluations, keep=lambda entry: entry.source == "default" or entry.id in kept)


def notify(slot: str, kind: NoticeKind, text: str) -> None:
    """Leave a message for `show_notice(slot)` to show."""
    session().notices[slot] = (kind, text)


def clear_notice(slot: str) -> None:
    session().notices.pop(slot, None)


def show_notice(slot: str) -> None:
    """Show the message left for `slot`, if any (it stays until replaced), as plain text: messages carry names
    and values people chose."""
    notice = session().notices.get(slot)
    if notice:
        kind, text = notice
        getattr(st, kind)(plain(text))
