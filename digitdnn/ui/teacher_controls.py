"""Teacher controls (after teacher_key.show): delete drawings (chosen ones, one browser tab's, or all), export them
all, and choose the model new sessions start with (saved on the class store's model shelf as "class-default-<time>"
and chosen there, so that every page replica starts new sessions with it; a retrain held back for its fall on MNIST
is not offered)."""
from __future__ import annotations

import datetime
import logging
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from digitdnn.ui import retrain_on_class_drawings, server_state, state, teacher_key
from digitdnn.ui.text import without_paths

DELETE_IDS = "teacher_delete_ids"
CONFIRM_ALL = "teacher_confirm_delete_all"
DEFAULT_PICK = "teacher_default_pick"
TAB_PICK = "teacher_tab"
TAB_ID_SHOWN = 8  # characters of a browser tab's anonymous id shown to tell tabs apart
NO_SUCH_TAB = "Nothing was deleted: no browser tab by that name has drawings stored."
EXPORT_NAME = "class-drawings.npz"
_LOG = logging.getLogger(__name__)


def show(store, shown_ids: list[int]) -> None:
    """Delete (the chosen drawings of the gallery, or all), export, and the server's default model."""
    state.show_notice("teacher_controls")
    st.markdown("**Delete drawings**")
    chosen = st.session_state.get(DELETE_IDS) or []
    st.session_state[DELETE_IDS] = [i for i in chosen if i in shown_ids]  # the gallery may show others now
    st.multiselect("Drawings to delete (their numbers in the gallery above)", shown_ids, key=DELETE_IDS,
                   format_func=lambda i: f"#{i}")
    left, right = st.columns(2)
    left.button("Delete the chosen drawings", key="teacher_delete", on_click=_delete_chosen, args=(store,),
                disabled=not st.session_state.get(DELETE_IDS))
    with right:
        st.checkbox("Yes, delete all of the class's drawings", key=CONFIRM_ALL)
        st.button("Delete all", key="teacher_delete_all", on_click=_delete_all, args=(store,),
                  disabled=not st.session_state.get(CONFIRM_ALL))
    _by_tab(store)

    st.markdown("**Export**")
    st.download_button("Download all drawings (.npz)", data=lambda: export_bytes(store), file_name=EXPORT_NAME,
                       mime="application/octet-stream", key="teacher_export", on_click="ignore")
    st.caption("x (28 x 28 inputs), y (labels), and per drawing what the model said, which model, when, the "
               "anonymous session id and the canvas PNG.")

    _default_model_controls()


def export_bytes(store) -> bytes:
    """Every drawing as the bytes of DrawingStore.export's .npz."""
    with tempfile.TemporaryDirectory(prefix="digitdnn-export-") as folder:
        path = Path(folder) / EXPORT_NAME
        store.export(path)
        return path.read_bytes()


def tab_label(session: str) -> str:
    """A browser tab's short anonymous name: the start of its id."""
    return session[:TAB_ID_SHOWN] or "no tab id"


def _by_tab(store) -> None:
    """How many drawings each browser tab stored and how many of their labels differ from the model's answer (most
    differing first), and deleting one tab's drawings."""
    st.markdown("**Drawings by browser tab**")
    try:
        tabs = store.tabs()
    except server_state.class_store_errors() as exc:
        _LOG.warning("the drawings by browser tab cannot be read", exc_info=True)
        st.error(f"The drawings by browser tab cannot be read: {exc}")
        return
    if not tabs:
        st.caption("No drawings yet.")
        return
    st.dataframe(pd.DataFrame({"tab": [tab_label(t.session) for t in tabs],
                               "drawings": [t.drawings for t in tabs],
                               "label differs from the model": [t.disagreeing for t in tabs],
                               "last stored (UTC)": [t.last[:16].replace("T", " ") for t in tabs]}),
                 hide_index=True)
    st.caption("The model: the server's default model when the drawing was stored (for older drawings, the tab's "
               "own). A tab whose labels often differ from it may be labelling wrongly, by mistake or on purpose.")
    st.selectbox("Browser tab", [t.session for t in tabs], key=TAB_PICK, format_func=tab_label)
    st.button("Delete this tab's drawings", key="teacher_delete_tab", on_click=_delete_tab, args=(store,))


def _delete_tab(store) -> None:
    """Delete the drawings of the chosen tab, if the store lists it (the value comes from the browser)."""
    if not teacher_key.is_teacher():
        return
    chosen = st.session_state.get(TAB_PICK)
    _deleted(lambda: store.delete_tab(chosen) if any(t.session == chosen for t in store.tabs()) else None)


def _delete_chosen(store) -> None:
    if not teacher_key.is_teacher():
        return
    ids = list(st.session_state.get(DELETE_IDS) or [])
    _deleted(lambda: store.delete(ids))
    st.session_state[DELETE_IDS] = []


def _delete_all(store) -> None:
    if not teacher_key.is_teacher():
        return
    _deleted(store.delete_all)
    st.session_state[CONFIRM_ALL] = False


def _deleted(delete) -> None:
    try:
        gone = delete()
    except server_state.class_store_errors() as exc:
        _LOG.warning("deleting drawings failed", exc_info=True)
        state.notify("teacher_controls", "error", f"Nothing was deleted: {exc}")
        return
    if gone is None:
        state.notify("teacher_controls", "error", NO_SUCH_TAB)
        return
    state.notify("teacher_controls", "success", f"Deleted {gone} drawing{'' if gone == 1 else 's'}.")


def _default_model_controls() -> None:
    st.markdown("**The model new sessions start with**")
    try:
        chosen = server_state.class_store().models.chosen_default_name()
    except server_state.class_store_errors() as exc:
        _LOG.warning("the teacher's default model cannot be read", exc_info=True)
        st.error(f"The model new sessions start with cannot be read just now: {without_paths(exc)}")
        return
    st.text(f"Now: {chosen} (chosen by a teacher)" if chosen else "Now: the shipped default model.")
    candidates = _candidates()
    for entry in state.models():
        why = retrain_on_class_drawings.held_back(entry) if entry.classifier is not None else None
        if why:
            st.caption(f"Not offered: {entry.name} ({why}; “Use it anyway” under Retrain on class drawings makes it "
                       "a candidate).")
    if not candidates:
        st.caption("Train or retrain a model in this tab's session first; it can then be made the default.")
    else:
        st.selectbox("Model of this session", [m.id for m in candidates], key=DEFAULT_PICK,
                     format_func=lambda i: next(m.name for m in candidates if m.id == i))
        st.button("Make it the default for new sessions", key="teacher_make_default", on_click=_make_default)
    if chosen:
        st.button("Back to the shipped default", key="teacher_forget_default", on_click=_forget_default)
    st.caption("Sessions already open keep their models; a page opened from now on starts with this one.")


def _make_default() -> None:
    if not teacher_key.is_teacher():
        return
    entry = next((m for m in _candidates() if m.id == st.session_state.get(DEFAULT_PICK)), None)
    if entry is None or entry.classifier is None:  # gone, its weights released since drawn, or never offered
        return
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S-%f")
    try:
        shelf = server_state.class_store().models
        name = shelf.save(entry.classifier, f"class-default-{stamp}", entry.metadata)
        shelf.choose_default(name)
    except (FileExistsError, ValueError) + server_state.class_store_errors() as exc:  # SaveError included
        _LOG.warning("making %r the class's default failed", entry.name, exc_info=True)
        state.notify("teacher_controls", "error", f"Not made the default: {without_paths(exc)}")
        return
    state.notify("teacher_controls", "success", f"New sessions now start with the chosen model (saved as {name}).")


def _candidates() -> list[state.SessionModel]:
    """The models of this session that may become the server's default: trained, uploaded or opened ones that
    still hold their weights, save a retrain held back for its fall on MNIST."""
    return [m for m in state.models() if m.source != "default" and m.classifier is not None
            and retrain_on_class_drawings.held_back(m) is None]


def _forget_default() -> None:
    if not teacher_key.is_teacher():
        return
    try:
        server_state.class_store().models.forget_default()
    except server_state.class_store_errors() as exc:
        _LOG.warning("going back to the shipped default failed", exc_info=True)
        state.notify("teacher_controls", "error", f"Could not go back to the shipped default: {without_paths(exc)}")
        return
    state.notify("teacher_controls", "success", "New sessions start with the shipped default model again.")
