"""Teacher key (in the "Class drawings" tab): deleting and exporting the class's drawings and choosing the server's
default model need it.

The key is $DIGITDNN_TEACHER_KEY, else `teacher_key` in .streamlit/secrets.toml; without one, those
controls are off. A typed key is compared in constant time (hmac.compare_digest). Wrong keys make the next
tries wait, from every session of the class and longer from the same client address (digitdnn/server/key_guard.py;
the class store's KeyBackoff, `key_guard`: one per server, or with $DIGITDNN_DATABASE_URL one for every page
replica). Once unlocked, the tab says how many wrong keys were tried since the previous unlock. Students can only
add drawings.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import math
from typing import TYPE_CHECKING

import streamlit as st

from digitdnn.server import settings
from digitdnn.server.key_guard import Outcome
from digitdnn.server.settings import TEACHER_KEY_ENV
from digitdnn.ui import server_state, state
from digitdnn.ui.text import without_paths

if TYPE_CHECKING:
    from digitdnn.storage.class_store import KeyBackoff

SECRET_NAME = "teacher_key"
KEY_INPUT = "teacher_key_input"  # the password field
UNLOCK_BUTTON = "teacher_unlock"  # the form's submit button
UNLOCKED_NOTICE = "teacher_unlocked"  # the notice slot of the line shown while unlocked
_LOG = logging.getLogger(__name__)


def key_guard() -> KeyBackoff:
    """The class store's key back-off: the wrong keys of every session count together."""
    return server_state.class_store().keys


def configured_key() -> str | None:
    """The server's teacher key ($DIGITDNN_TEACHER_KEY, else teacher_key in the secrets file), or None."""
    key = settings.teacher_key()
    if not key:
        try:
            key = st.secrets[SECRET_NAME]
        except (KeyError, FileNotFoundError):  # no secrets file (StreamlitSecretNotFoundError), or no such entry
            return None
    key = str(key)
    return key if key.strip() else None


def is_teacher() -> bool:
    """True in a session unlocked with the key that is configured now."""
    key = configured_key()
    return key is not None and hmac.compare_digest(state.session().teacher_unlocked, _digest(key))


def show() -> bool:
    """The key field, or the sign that this session is the teacher's; True when the teacher's controls may show."""
    if configured_key() is None:
        st.info(f"Teacher controls (delete, export, the server's default model) are off: set {TEACHER_KEY_ENV} "
                f"before starting the server, or put {SECRET_NAME} = \"...\" in .streamlit/secrets.toml.")
        return False
    if is_teacher():
        left, right = st.columns([4, 1], vertical_alignment="center")
        with left:
            state.show_notice(UNLOCKED_NOTICE)
        right.button("Lock", key="teacher_lock", on_click=_lock)
        return True
    with st.form("teacher_form", clear_on_submit=True, enter_to_submit=True):
        st.text_input("Teacher key", type="password", key=KEY_INPUT,
                      help="Deleting and exporting drawings and choosing the server's default model need it.")
        st.form_submit_button("Unlock", key=UNLOCK_BUTTON, on_click=_check_key)
    state.show_notice("teacher")
    return False


def _check_key() -> None:
    """Form callback: unlock with the right key; refuse a wrong one, or any during a wait (see key_guard.py)."""
    key, typed = configured_key(), str(st.session_state.get(KEY_INPUT) or "")
    if key is None:
        return
    try:
        check = key_guard().check(hmac.compare_digest(typed.encode(), key.encode()), server_state.client_address())
    except server_state.class_store_errors() as exc:
        _LOG.warning("a teacher key could not be checked", exc_info=True)
        state.notify("teacher", "error", f"The key cannot be checked: {without_paths(exc)}")
        return
    if check.outcome is Outcome.REFUSED:
        state.notify("teacher", "error", f"Too many wrong keys: try again in {math.ceil(check.seconds)} s.")
    elif check.outcome is Outcome.WRONG:
        state.notify("teacher", "error", f"Wrong key. The next try is checked after {check.seconds:g} s.")
    else:
        state.session().teacher_unlocked = _digest(key)
        state.clear_notice("teacher")
        state.notify(UNLOCKED_NOTICE, "success", unlocked_line(check.wrong_keys))


def unlocked_line(wrong_keys: int) -> str:
    """The line the teacher sees once unlocked, with the wrong keys tried on the server since the previous unlock."""
    if wrong_keys == 0:
        return "Teacher controls are on in this browser tab."
    tried = "1 wrong key was" if wrong_keys == 1 else f"{wrong_keys} wrong keys were"
    return f"Teacher controls are on in this browser tab; {tried} tried since you last unlocked."


def _lock() -> None:
    state.session().teacher_unlocked = ""
    state.clear_notice(UNLOCKED_NOTICE)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
