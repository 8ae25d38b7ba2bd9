"""Runs and models (tab): the list, curves overlaid, the active model, download, save, open and upload.

Uploaded and opened models are people's files: an upload's unpacked size and weights are capped per model
($DIGITDNN_MODEL_MAX_MB), and the weights of every session's uploaded and opened models together by the server's
budget ($DIGITDNN_UPLOADED_WEIGHTS_MB). Saved models are on the class store's shelf (server_state.class_store():
a folder of this server, or with $DIGITDNN_DATABASE_URL the database every page replica shares). Messages name
models, never the server's folders (those go to its log).
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from digitdnn.server import settings
from digitdnn.storage.class_store import SavedModel
from digitdnn.storage.models import (
    MAX_UPLOAD_BYTES,
    ModelLoadError,
    kept_test_accuracy,
    load_classifier,
    load_classifier_bytes,
    save_classifier,
)
from digitdnn.storage.weight_budget import WeightBudget
from digitdnn.ui import server_state, state
from digitdnn.ui.charts import METRICS, runs_overlay
from digitdnn.ui.hyperparameters import describe
from digitdnn.ui.text import plain, without_paths

# Widget keys read outside their widget
UPLOAD_KEY, SAVE_NAME_KEY, SAVED_MODEL_KEY, OVERLAY_KEY = "upload", "save_name", "saved_model", "overlay_runs"
NOT_LISTED = "Cannot open it: choose one of the saved models in the list."  # for every value not listed
_LOG = logging.getLogger(__name__)


def runs_frame(entries: list[state.SessionModel]) -> pd.DataFrame:
    """One row per model: name, where it came from, settings, epochs, test accuracy of its weights, time."""
    rows = []
    for entry in entries:
        cfg = entry.config
        seconds = entry.history.get("total_seconds")
        rows.append({
            "model": entry.name,
            "source": entry.source,
            "settings": describe(cfg) if cfg else "unknown",
            "epochs": len(entry.epochs) or None,
            "status": entry.history.get("status") or "",
            "test accuracy": entry.test_accuracy,
            "weights": "in memory" if entry.classifier is not None else "released (record only)",
            "seconds": round(float(seconds), 1) if isinstance(seconds, (int, float)) else None,
            "train images": entry.metadata.get("train_images"),
            "temperature": entry.metadata.get("temperature"),
        })
    return pd.DataFrame(rows)


def model_file_bytes(entry: state.SessionModel) -> bytes:
    """The entry's model as the bytes of a .keras file (written to a temporary folder and read back)."""
    if entry.classifier is None:
        raise ValueError(f"{entry.name}: its weights were released")
    with tempfile.TemporaryDirectory(prefix="digitdnn-download-") as folder:
        path = save_classifier(entry.classifier, Path(folder) / "model.keras", entry.metadata)
        server_state.keep_tensorflow_out_of_gc()  # saving imported it, outside any page run
        return path.read_bytes()


@st.cache_resource(show_spinner=False)
def _weight_budget(capacity: int) -> WeightBudget:
    return WeightBudget(capacity)


def weight_budget() -> WeightBudget:
    """The server's budget for the weights of all sessions' uploaded and opened models: $DIGITDNN_UPLOADED_WEIGHTS_MB
    (default 512), one per server process."""
    megabytes = settings.or_default(settings.uploaded_weights_mb, settings.DEFAULT_UPLOADED_WEIGHTS_MB)
    return _weight_budget(megabytes * 2**20)


def _on_upload() -> None:
    uploaded = st.session_state.get(UPLOAD_KEY)
    if uploaded is None:
        return
    _add_loaded_model(lambda: load_classifier_bytes(uploaded.getvalue(), uploaded.name,
                                                    limit=server_state.models_limits().model_bytes,
                                                    budget=weight_budget()),
                      f"Upload: {uploaded.name}", "uploaded", refused="Upload refused.",
                      done=f"{uploaded.name} loaded; it is now the active model.")


def saved_label(entry: SavedModel) -> str:
    """How a saved model is named in the picker: its name, its accuracy, or that its metadata is damaged."""
    if entry.damaged:
        return f"{entry.name} (damaged metadata)"
    accuracy = kept_test_accuracy(entry.metadata)
    return entry.name if accuracy is None else f"{entry.name} ({accuracy:.2%})"


def _add_loaded_model(load, name: str, source: state.Source, refused: str, done: str) -> None:
    """Load a model with `load()` and make it the active one, or say why it was refused."""
    try:
        classifier = load()
    except ModelLoadError as exc:
        _LOG.warning("%s refused: %s", name, exc, exc_info=True)
        state.notify("models", "error", f"{refused} {exc}")
        return
    state.add_model(state.SessionModel(0, name, source, classifier, dict(classifier.metadata)))
    state.notify("models", "success", done)


def _on_save() -> None:
    entry = state.active_model()
    if entry is None:
        return
    assert entry.classifier is not None  # the active model is never a record
    # The shelf is shared by every session of the class: a name is claimed in one step, never overwritten.
    try:
        store = server_state.class_store()
        name = store.models.save(entry.classifier, str(st.session_state.get(SAVE_NAME_KEY) or ""), entry.metadata,
                                 limits=server_state.models_limits())
    except (ValueError, FileExistsError) + server_state.class_store_errors() as exc:
        _LOG.warning("the model %r was not saved: %s", entry.name, exc,
                     exc_info=not isinstance(exc, (ValueError, FileExistsError)))
        state.notify("models", "error", f"Not saved. {without_paths(exc)}")
        return
    _LOG.info("the model %r was saved as %r in %s", entry.name, name, store.where)
    state.notify("models", "success", f"Saved “{entry.name}” as “{name}”.")


def _on_open() -> None:
    name = st.session_state.get(SAVED_MODEL_KEY)
    if not name:
        return
    # The value comes from the browser, which can send any string: only a listed model's name is looked up.
    try:
        path = server_state.class_store().models.open(name)
    except server_state.class_store_errors() as exc:
        _LOG.warning("the saved model %.100r cannot be opened", name, exc_info=True)
        state.notify("models", "error", f"Cannot open it: {without_paths(exc)}")
        return
    if path is None:
        _LOG.warning("a request to open %.100r, which is not a saved model's name, was refused", name)
        state.notify("models", "error", NOT_LISTED)
        return
    _add_loaded_model(lambda: load_classifier(path, name=f"{name}.keras", budget=weight_budget()), f"Saved: {name}",
                      "opened", refused="Cannot open it.", done=f"Opened “{name}”; it is now the active model.")


def show() -> None:
    """The "Runs and models" tab."""
    entries = state.models()
    state.show_notice("models")
    if not entries:
        st.info("No model yet: train one from the sidebar, or open or upload one below.")
    else:
        st.caption(f"These runs live in this browser tab only: reloading or closing the page loses them. "
                   f"Save a model below to keep it. Only the {state.KEPT_WEIGHTS} newest models and the active one "
                   "keep their weights; older ones stay listed as records.")
        st.dataframe(runs_frame(entries), hide_index=True,
                     column_config={"test accuracy": st.column_config.NumberColumn(
                         format="percent", help="Of the weights this model keeps: a run's last finished epoch"),
                         "temperature": st.column_config.NumberColumn(
                             format="%.2f", help="Fitted on the calibration writers' pen digits, so that '90% sure' "
                             "means about that; empty: not calibrated")})
        names = {m.id: m.name for m in entries if m.classifier is not None}
        st.radio("Active model (scores the drawing)", list(names), format_func=lambda i: plain(names[i]),
                 key=state.ACTIVE_MODEL_KEY)
        _overlay(entries)
        _download(state.active_model())
    _save_and_open()


def _overlay(entries: list[state.SessionModel]) -> None:
    with_curves = {m.name: m.epochs for m in entries if m.epochs}
    if not with_curves:
        return
    known = state.session().overlay_known
    if OVERLAY_KEY in st.session_state:  # new runs join the overlay as they arrive
        kept = [name for name in st.session_state[OVERLAY_KEY] if name in with_curves]
        st.session_state[OVERLAY_KEY] = kept + [name for name in with_curves if name not in known]
    else:
        st.session_state[OVERLAY_KEY] = list(with_curves)[-3:]
    known.update(with_curves)
    chosen = st.multiselect("Overlay the curves of", list(with_curves), key=OVERLAY_KEY)
    metric = st.segmented_control("Show", list(METRICS), format_func=METRICS.__getitem__, default="accuracy",
                                  key="overlay_metric") or "accuracy"
    if chosen:
        st.altair_chart(runs_overlay({name: with_curves[name] for name in chosen}, metric))


def _download(entry: state.SessionModel | None) -> None:
    if entry is None:
        return
    # Streamlit keeps this callable until the session is gone: it must not hold the weights itself.
    models, wanted = state.models(), entry.id
    st.download_button(f"Download “{plain(entry.name)}” (.keras)",
                       data=lambda: model_file_bytes(next(m for m in models if m.id == wanted)),
                       file_name=f"digitdnn-{entry.source}-{entry.id}.keras", mime="application/octet-stream",
                       on_click="ignore", key="download")


def _save_and_open() -> None:
    save, reopen, upload = st.columns(3)
    with save:
        st.text_input("Save the active model as", placeholder="my-model", key=SAVE_NAME_KEY)
        st.button("Save", key="save", on_click=_on_save, disabled=state.active_model() is None)
        st.caption("Saved on this server, where everyone using it can open them.")
    with reopen:
        listed = {m.name: m for m in _saved_models()}
        st.selectbox("Open a saved model", list(listed), format_func=lambda name: saved_label(listed[name]),
                     index=None, placeholder="no saved models" if not listed else "choose…", key=SAVED_MODEL_KEY)
        chosen = listed.get(st.session_state.get(SAVED_MODEL_KEY) or "")
        if chosen is not None and chosen.damaged:
            st.warning(f"Its metadata is damaged: {plain(chosen.damaged)} The model itself may still open.")
        st.button("Open", key="open", on_click=_on_open, disabled=not listed)
    with upload:
        st.file_uploader("Upload a .keras model", type=["keras"], key=UPLOAD_KEY, on_change=_on_upload,
                         max_upload_size=MAX_UPLOAD_BYTES // 2**20)


def _saved_models() -> list[SavedModel]:
    """The class's saved models; none (and a warning saying why) when they cannot be listed just now."""
    try:
        return server_state.class_store().models.list()
    except server_state.class_store_errors() as exc:
        _LOG.warning("the saved models cannot be listed", exc_info=True)
        st.warning(f"Saved models cannot be listed just now: {without_paths(exc)}")
        return []
