"""Teacher key (in the "Class drawings" tab): deleting and exporting the class's drawings and choosing the server's
default model need it.

The key is $DIGITDNN_TEACHER_KEY, else `teacher_key` in .streamlit/secrets.toml; without one, those
controls are off. A typed key is compared in constant time (hmac.compare_digest). After a wrong key
the session must wait before its next try is even checked, twice as long after every further
wrong one (FIRST_WAIT_SECONDS, doubling up to MAX_WAIT_SECONDS), timed by `clock`. Students can only add drawings.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable

import streamlit as st

from digitdnn.server import settings
from digitdnn.server.settings import TEACHER_KEY_ENV
from digitdnn.ui import state

SECRET_NAME = "teacher_key"
FIRST_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 600.0
KEY_INPUT = "teacher_key_input"  # the password field
# What the waits after wrong keys are timed by (seconds, only differences count): time.monotonic, or in tests a
# fake clock that they move forward instead of sleeping.
clock: Callable[[], float] = time.monotonic


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


def wait_seconds(failures: int) -> float:
    """How long a session waits after `failures` wrong keys in a row before its next try is checked."""
    return 0.0 if failures < 1 else min(FIRST_WAIT_SECONDS * 2 ** (failures - 1), MAX_WAIT_SECONDS)


def show() -> bool:
    """The key field, or the sign that this session is the teacher's; True when the teacher's controls may show."""
    if configured_key() is None:
        st.info(f"Teacher controls (delete, export, the server's default model) are off: set {TEACHER_KEY_ENV} "
                f"before starting the server, or put {SECRET_NAME} = \"...\" in .streamlit/secrets.toml.")
        return False
    if is_teacher():
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.success("Teacher controls are on in this browser tab.")
        right.button("Lock", key="teacher_lock", on_click=_lock)
        return True
    with st.form("teacher_form", clear_on_submit=True, enter_to_submit=True):
        st.text_input("Teacher key", type="password", key=KEY_INPUT,
                      help="Deleting and exporting drawings and choosing the server's default model need it.")
        st.form_submit_button("Unlock", on_click=_check_key)
    state.show_notice("teacher")
    return False


def _check_key() -> None:
    """Form callback: unlock with the right key; refuse a wrong one and make the next try wait longer."""
    key, typed = configured_key(), str(st.session_state.get(KEY_INPUT) or "")
    session = state.session()
    failures, not_before = session.teacher_failures
    now = clock()
    if key is None:
        return
    if now < not_before:
        state.notify("teacher", "error", f"Too many wrong keys: try again in {math.ceil(not_before - now)} s.")
        return
    if hmac.compare_digest(typed.encode(), key.encode()):
        session.teacher_unlocked = _digest(key)
        session.teacher_failures = (0, 0.0)
        state.clear_notice("teacher")
        return
    failures += 1
    session.teacher_failures = (failures, now + wait_seconds(failures))
    state.notify("teacher", "error", f"Wrong key. The next try is checked after {wait_seconds(failures):g} s.")


def _lock() -> None:
    state.session().teacher_unlocked = ""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
