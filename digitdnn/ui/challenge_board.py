"""The class challenge (under the lesson bar): the live leaderboard, "Enter this run" for students, and for the
teacher the limits, "Open a challenge", "Close the challenge" and "Clear the leaderboard".

The challenge lives in the class store (server_state.class_store().challenges), which checks an entry against the
limits in the transaction that inserts it (classroom.challenge_rules.refusal, by the store's clock). What an entry
says about a run comes from the session's own record of it (state.SessionModel: its card, written when the run
ended), looked up by the id the page's picker sends; nothing else the browser sends is believed. The leaderboard is
a fragment polling the store; a new challenge, or one that closed, reruns the whole page so that the entry form
appears or goes. Without any challenge the board does not poll: the lesson bar's idle poll asks `changed()`, so
that an idle page costs the server one fragment run per poll, not two. The form itself is outside the fragment:
what a student types is never redrawn under them.
"""
from __future__ import annotations

import logging
import math

import pandas as pd
import streamlit as st

from digitdnn.classroom.challenge_rules import (
    MAX_MINUTES,
    MAX_NICKNAME_CHARS,
    MAX_SECONDS,
    MAX_WEIGHTS,
    Challenge,
    ChallengeLimits,
    EntryRecord,
    checked_nickname,
    run_figures,
)
from digitdnn.ui import hyperparameters, page_address, server_state, state, teacher_key
from digitdnn.ui.text import plain, without_paths

BOARD_POLL_SECONDS = 3.0   # the leaderboard of an open challenge refreshes this often
IDLE_POLL_SECONDS = 5.0    # a closed challenge's board refreshes this often (without any: see changed())
RUN_KEY = "challenge_run"
NICKNAME_KEY = "challenge_nickname"
MAX_WEIGHTS_KEY = "challenge_max_weights"
MAX_SECONDS_KEY = "challenge_max_seconds"
MINUTES_KEY = "challenge_minutes"
CONFIRM_CLEAR_KEY = "challenge_confirm_clear"
NEWEST_OFFERED = "challenge_newest_run"  # session_state: the newest run the picker offered (a newer one is chosen)
NOTICE = "challenge"
DEFAULT_LIMITS = ChallengeLimits(max_weights=100_000, max_seconds=60.0, minutes=20.0)
NO_SUCH_RUN = "Choose one of your finished runs."
PRESENTER_STYLE = "<style>.st-key-leaderboard table { font-size: 1.35rem; }</style>"
_LOG = logging.getLogger(__name__)


def seen_now() -> Challenge | None:
    """The class's challenge now (None without one, or when the store cannot say: the board says so itself),
    recorded as the one this page shows; read once per full run, before the lesson bar's poll asks changed()."""
    try:
        current = server_state.class_store().challenges.current()
    except server_state.class_store_errors():
        current = None
    state.session().challenge_seen = _seen(current)
    return current


def show(current: Challenge | None) -> None:
    """The leaderboard while a challenge (`current`, from seen_now) exists, the entry form while it is open, the
    teacher's controls."""
    if page_address.presenter():
        st.html(PRESENTER_STYLE)
    is_open = current is not None and current.is_open
    # without a challenge the board does not poll: the lesson bar's poll notices a new one (changed())
    st.fragment(_board, run_every=BOARD_POLL_SECONDS if is_open else None if current is None else IDLE_POLL_SECONDS)()
    if current is not None and current.is_open:
        _entry_form(current)
    if teacher_key.is_teacher():
        _teacher_controls(current)
    with st.container(key="challenge_notice"):
        state.show_notice(NOTICE)


def _seen(challenge: Challenge | None) -> tuple[int, bool] | None:
    return None if challenge is None else (challenge.id, challenge.is_open)


def changed() -> bool:
    """Whether the class's challenge is another than the page last showed (one opened, closed or gone); False when
    the store cannot say. For the one poll a page without a challenge or a lesson makes (lesson_bar)."""
    try:
        current = server_state.class_store().challenges.current()
    except server_state.class_store_errors():
        return False
    return _seen(current) != state.session().challenge_seen


def _board() -> None:
    """One poll: rerun the page for a new or closed challenge, else draw the leaderboard."""
    session = state.session()
    try:
        challenges = server_state.class_store().challenges
        current = challenges.current()
        board = None if current is None else challenges.leaderboard(current.id, session.drawer_id)
    except server_state.class_store_errors() as exc:
        _LOG.warning("the class challenge cannot be read: %s", exc)
        st.caption(f"The class challenge cannot be read just now: {without_paths(exc)}")
        return
    if _seen(current) != session.challenge_seen:
        if (session.challenge_seen or (None,))[0] != (current.id if current else None):
            state.clear_notice(NOTICE)  # what it said was about another challenge
        st.rerun(scope="app")
    if current is None or board is None:
        return
    with st.container(key="leaderboard", border=True):
        st.markdown(f"**Class challenge** · {limits_line(current)}")
        if board.rows:
            st.table(leaderboard_table(board.rows), hide_index=True)
        else:
            st.caption("No entries yet.")
        st.caption(f"{board.entries} entr{'y' if board.entries == 1 else 'ies'}")


def limits_line(challenge: Challenge) -> str:
    """"At most 100,000 weights and 60 s of training · 12 min left" (or "closed")."""
    left = f"{math.ceil(challenge.seconds_left / 60)} min left" if challenge.is_open else "closed"
    return f"At most {_limits(challenge.max_weights, challenge.max_seconds)} · {left}"


def _limits(max_weights: int, max_seconds: float) -> str:
    return f"{max_weights:,} weights and {max_seconds:g} s of training"


def leaderboard_table(rows: list) -> pd.DataFrame:
    """The rows (class_store.Entry) as the table shows them, ranked from 1; st.table reads Markdown in its cells,
    so the texts people chose are shown through plain()."""
    return pd.DataFrame({
        "Rank": range(1, len(rows) + 1),  # (st.table would read "#" as a Markdown heading)
        "Nickname": [plain(row.nickname or "anonymous") + (" ← you" if row.mine else "") for row in rows],
        "Test accuracy": [f"{row.test_accuracy:.2%}" for row in rows],
        "Weights": [f"{row.weights:,}" for row in rows],
        "Training": [f"{row.seconds:.1f} s" for row in rows],
        "Settings": [plain(row.settings) for row in rows],
    })


def _entry_form(challenge: Challenge) -> None:
    """Pick one of this tab's finished runs (the newest first), a nickname, "Enter this run"."""
    runs = [m for m in reversed(state.models()) if m.source == "trained"]
    newest = runs[0].id if runs else None
    if newest is not None and newest != st.session_state.get(NEWEST_OFFERED):
        st.session_state[NEWEST_OFFERED] = st.session_state[RUN_KEY] = newest  # a run just finished: offer it
    names = {m.id: m.name for m in runs}
    with st.container(horizontal=True, vertical_alignment="bottom", key="challenge_entry"):
        st.selectbox("Your run", list(names), format_func=lambda i: names.get(i, ""), key=RUN_KEY,
                     placeholder="Train a run first")
        st.text_input("Nickname (optional)", max_chars=MAX_NICKNAME_CHARS, key=NICKNAME_KEY,
                      help="Shown on the leaderboard; leave it empty to be “anonymous”.")
        st.button("Enter this run", key="challenge_enter", on_click=_enter, args=(challenge.id,),
                  disabled=not runs, type="primary")


def _enter(challenge_id: int) -> None:
    """Enter the chosen run into challenge `challenge_id` (the one the page showed), its figures taken from the
    session's own record of it."""
    chosen = st.session_state.get(RUN_KEY)
    entry = next((m for m in state.models() if m.source == "trained" and type(chosen) is int and m.id == chosen),
                 None)
    if entry is None:
        state.notify(NOTICE, "error", NO_SUCH_RUN)
        return
    try:
        nickname = checked_nickname(st.session_state.get(NICKNAME_KEY) or "")
        config = entry.config
        figures = run_figures(entry.source, entry.metadata, hyperparameters.describe(config) if config else "")
    except ValueError as exc:
        state.notify(NOTICE, "error", str(exc))
        return
    try:
        refused = server_state.class_store().challenges.enter(
            challenge_id, EntryRecord(state.session().drawer_id, entry.name, nickname, figures))
    except server_state.class_store_errors() + (ValueError,) as exc:
        _LOG.warning("an entry could not be stored", exc_info=True)
        state.notify(NOTICE, "error", f"{entry.name} was not entered: {without_paths(exc)}")
        return
    if refused:
        state.notify(NOTICE, "error", refused)
    else:
        state.notify(NOTICE, "success", f"{entry.name} entered: {figures.test_accuracy:.2%} test accuracy, "
                                        f"{figures.weights:,} weights, {figures.seconds:.1f} s of training.")


def _teacher_controls(current: Challenge | None) -> None:
    with st.container(horizontal=True, vertical_alignment="center", key="challenge_teacher"):
        with st.popover("Challenge limits"):
            st.number_input("At most this many weights (biases included)", 1, MAX_WEIGHTS,
                            DEFAULT_LIMITS.max_weights, step=10_000, key=MAX_WEIGHTS_KEY)
            st.number_input("At most this many seconds of training", 1.0, MAX_SECONDS, DEFAULT_LIMITS.max_seconds,
                            step=10.0, key=MAX_SECONDS_KEY)
            st.number_input("Open for this many minutes", 1.0, MAX_MINUTES, DEFAULT_LIMITS.minutes, step=5.0,
                            key=MINUTES_KEY)
        st.button("Open a challenge", key="challenge_open", on_click=_open,
                  help="Opens a new challenge with these limits; an open one is closed first.")
        if current is not None and current.is_open:
            st.button("Close the challenge", key="challenge_close", on_click=_close, args=(current.id,))
        if current is not None:
            st.checkbox("Yes, clear the leaderboard", key=CONFIRM_CLEAR_KEY)
            st.button("Clear the leaderboard", key="challenge_clear", on_click=_clear, args=(current.id,),
                      disabled=not st.session_state.get(CONFIRM_CLEAR_KEY))


def typed_limits() -> ChallengeLimits:
    """The limits the teacher typed (values from the browser): ValueError with a plain sentence if they make none."""
    try:
        return ChallengeLimits(int(st.session_state[MAX_WEIGHTS_KEY]), float(st.session_state[MAX_SECONDS_KEY]),
                               float(st.session_state[MINUTES_KEY]))
    except (KeyError, TypeError, OverflowError):
        raise ValueError("The challenge's limits must be numbers.") from None


def _open() -> None:
    if not teacher_key.is_teacher():
        return
    try:
        limits = typed_limits()
        opened = server_state.class_store().challenges.open(limits)
    except ValueError as exc:
        state.notify(NOTICE, "error", f"No challenge was opened: {exc}")
        return
    except server_state.class_store_errors() as exc:
        _LOG.warning("a challenge could not be opened", exc_info=True)
        state.notify(NOTICE, "error", f"No challenge was opened: {without_paths(exc)}")
        return
    state.session().challenge_seen = _seen(opened)
    state.notify(NOTICE, "success", f"The challenge is open for {limits.minutes:g} min: at most "
                                    f"{_limits(limits.max_weights, limits.max_seconds)}.")


def _close(challenge_id: int) -> None:
    if not teacher_key.is_teacher():
        return
    try:
        server_state.class_store().challenges.close(challenge_id)
    except server_state.class_store_errors() as exc:
        _LOG.warning("the challenge could not be closed", exc_info=True)
        state.notify(NOTICE, "error", f"The challenge was not closed: {without_paths(exc)}")
        return
    state.notify(NOTICE, "info", "The challenge is closed; its leaderboard stays.")


def _clear(challenge_id: int) -> None:
    if not teacher_key.is_teacher() or not st.session_state.get(CONFIRM_CLEAR_KEY):
        return
    try:
        cleared = server_state.class_store().challenges.clear(challenge_id)
    except server_state.class_store_errors() as exc:
        _LOG.warning("the leaderboard could not be cleared", exc_info=True)
        state.notify(NOTICE, "error", f"The leaderboard was not cleared: {without_paths(exc)}")
        return
    st.session_state[CONFIRM_CLEAR_KEY] = False
    state.notify(NOTICE, "success", f"Cleared {cleared} entr{'y' if cleared == 1 else 'ies'} from the leaderboard.")
