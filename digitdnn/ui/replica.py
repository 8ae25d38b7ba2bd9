"""The page moved to another replica: in a cluster (`digitdnn cluster`) each page server is named by
$DIGITDNN_REPLICA, and the proxy keeps a browser on one of them with the cookie DIGITDNN_REPLICA naming it. When that
replica stops, the proxy sends the browser to another one, where its reconnecting tab starts a new session: this
says so at the top of the page, as the runs and models of the tab before the move are gone.

The cookie comes from the browser: it is only compared with this server's name, never shown.
"""
from __future__ import annotations

import logging
import re

import streamlit as st

from digitdnn.server import settings
from digitdnn.ui import state

COOKIE = "DIGITDNN_REPLICA"
CHECKED = "replica_checked"  # session_state: the cookie was compared on this session's first run
NOTICE = "replica"           # the notice slot (state.notify)
MOVED = ("This page moved to another server because its server stopped: the runs and models of this tab before the "
         "move are gone; drawings already stored are kept.")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LOG = logging.getLogger(__name__)


def moved_here(cookie: object, replica: str | None) -> bool:
    """The proxy's cookie `cookie` names a replica other than this one (`replica`, None outside a cluster): the
    browser was sent here when its own replica stopped. A cookie that is no replica's name (forged) says nothing."""
    return (replica is not None and isinstance(cookie, str) and _NAME.fullmatch(cookie) is not None
            and cookie != replica)


def browser_cookie() -> str | None:
    """The value of the proxy's cookie the browser sent (None without one)."""
    return st.context.cookies.get(COOKIE)


def show() -> None:
    """On the session's first run, compare the cookie with this replica's name; say that the page moved, if it did,
    at every full run of the session from then on."""
    if CHECKED not in st.session_state:
        st.session_state[CHECKED] = True
        if moved_here(browser_cookie(), settings.replica_name()):
            _LOG.info("a browser tab moved here from another replica; its session starts anew")
            state.notify(NOTICE, "warning", MOVED)
    state.show_notice(NOTICE)
