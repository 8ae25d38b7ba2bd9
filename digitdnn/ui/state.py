"""Per-session state: the models this session can use, which one is active, the training job.

Everything lives in st.session_state, so one person's runs never touch another's.
Keys: "models" (list of ModelEntry), "active_model" (its id; also the key of the
picker widget), "job" (TrainingJob or None), "evaluations" (the Mistakes tab's, per model),
"notice_<slot>" ((kind, text) or None).

What a session holds is bounded: besides the shared default model and the active one, only the
KEPT_WEIGHTS newest models keep their weights; older ones stay listed as records (settings,
curves, accuracy). When the session's page has been closed for a few seconds (see
digitdnn.sessions), all its weights are released and its run stopped.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import streamlit as st

from digitdnn.config import TrainConfig
from digitdnn.store import kept_test_accuracy
from digitdnn.ui import resources
from digitdnn.ui.text import plain

_LOG = logging.getLogger(__name__)

if TYPE_CHECKING:
    from digitdnn.jobs import TrainingJob
    from digitdnn.model import Classifier

KEPT_WEIGHTS = 3  # models besides the default and the active one whose weights a session keeps in memory


@dataclass
class ModelEntry:
    """A model this session can make active: the default, a run, an upload or a saved file.

    `metadata` has the fields of a saved model's sidecar (config, history, test_accuracy, ...),
    so an entry is saved as it is and a saved model opens as the same entry.
    """

    id: int
    name: str
    source: str                 # "default", "trained", "uploaded" or "opened"
    classifier: "Classifier | None"  # None: a record, its weights released to bound the session's memory
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


def init_session() -> None:
    """Create this session's state on its first run, with the default model active when there is one (called at
    every full run)."""
    resources.keep_tensorflow_out_of_gc()
    state = st.session_state
    state.setdefault("models", [])
    state.setdefault("job", None)
    state.setdefault("run_count", 0)
    state.setdefault("evaluations", {})
    if not any(m.source == "default" for m in state.models):
        _add_default_model()
    if active_model() is None and any(m.source == "default" for m in state.models):  # it was released
        state.active_model = next(m.id for m in state.models if m.source == "default")
    if not resources.session_sweeper().watching(resources.session_id()):
        watch_session(None)


def watch_session(job: "TrainingJob | None") -> None:
    """Have this session's models (and `job`, its current run) released once its page has been closed a while."""
    state = st.session_state
    release = partial(release_session, state.models, state.evaluations, job)
    resources.session_sweeper().watch(resources.session_id(), resources.session_still_open(), release)


def release_session(models: list[ModelEntry], evaluations: dict, job: "TrainingJob | None") -> None:
    """A closed session: stop its run and drop every model's weights (the shared default model stays)."""
    if job is not None:
        job.discard()
    _release(models, evaluations, keep=lambda entry: entry.source == "default")


def _release(models: list[ModelEntry], evaluations: dict, keep) -> None:
    """Turn, in place, every entry with weights for which keep(entry) is False into a record."""
    for index, entry in enumerate(models):
        if entry.classifier is not None and not keep(entry):
            models[index] = dataclasses.replace(entry, classifier=None)
            for key in [key for key in evaluations if key[0] == entry.id]:
                del evaluations[key]


def _add_default_model() -> None:
    from digitdnn.store import ModelLoadError

    path = resources.default_model_path()
    try:
        classifier = resources.default_classifier(str(path))
    except ModelLoadError as exc:
        _LOG.exception("the default model %s could not be loaded", path)
        st.session_state.default_model_error = f"No default model ({path}): {exc}"
        return
    st.session_state.pop("default_model_error", None)
    add_model(ModelEntry(0, "Default model", "default", classifier, dict(classifier.metadata)), activate=False)
    if st.session_state.get("active_model") is None:
        st.session_state.active_model = st.session_state.models[-1].id


def models() -> list[ModelEntry]:
    return st.session_state.models


def active_model() -> ModelEntry | None:
    """The entry that scores the drawing (never a record)."""
    wanted = st.session_state.get("active_model")
    return next((m for m in st.session_state.models if m.id == wanted and m.classifier is not None), None)


def add_model(entry: ModelEntry, activate: bool = True) -> ModelEntry:
    """Add `entry` under a fresh id and a name no other entry has, and optionally make it active."""
    next_id = max((m.id for m in st.session_state.models), default=0) + 1
    taken = {m.name for m in st.session_state.models}
    name = entry.name if entry.name not in taken else f"{entry.name} (#{next_id})"
    entry = dataclasses.replace(entry, id=next_id, name=name)
    st.session_state.models.append(entry)
    if activate:
        st.session_state.active_model = entry.id
    _bound_weights()
    return entry


def _bound_weights() -> None:
    """Keep the weights of the default model, the active one and the KEPT_WEIGHTS newest others; release the rest."""
    state = st.session_state
    holding = [m.id for m in state.models if m.classifier is not None and m.source != "default"]
    kept = set(holding[-KEPT_WEIGHTS:]) | {state.get("active_model")}
    _release(state.models, state.evaluations, keep=lambda entry: entry.source == "default" or entry.id in kept)


def notify(slot: str, kind: str, text: str) -> None:
    """Leave a message ("success", "info", "warning" or "error") for `show_notice(slot)` to show."""
    st.session_state[f"notice_{slot}"] = (kind, text)


def show_notice(slot: str) -> None:
    """Show the message left for `slot`, if any (it stays until replaced), as plain text: messages carry names
    and values people chose."""
    notice = st.session_state.get(f"notice_{slot}")
    if notice:
        kind, text = notice
        getattr(st, kind)(plain(text))
