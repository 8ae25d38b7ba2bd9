"""A tab that reconnected without its session: Streamlit keeps a session in the server process holding its
websocket. When that process stops (a cluster's replica died, or a lone server restarted), the tab's frontend
reconnects by itself, to the restarted server or, behind the cluster's proxy, to another replica, and sends the
id of the session it had as the third entry of its websocket's Sec-WebSocket-Protocol header. A server that still
holds that session takes it up again; this one did not, so a new session started: this says so at the top of the
page, as the runs and models of the tab before are gone.

The header comes from the browser: it is only tested for an entry, never shown.
"""
from __future__ import annotations

import logging

import streamlit as st

from digitdnn.server import settings
from digitdnn.ui import state

CHECKED = "reconnect_checked"  # session_state: the header was looked at on this session's first run
NOTICE = "reconnected"         # the notice slot (state.notify)
LOST = ("This page reconnected after its server stopped: the runs and models of this tab before are gone; drawings "
        "already stored are kept.")
_LOG = logging.getLogger(__name__)


def reconnected(protocols: object) -> bool:
    """The websocket's Sec-WebSocket-Protocol header (`protocols`) names a session of the tab's earlier connection."""
    if not isinstance(protocols, str):
        return False
    entries = [entry.strip() for entry in protocols.split(",")]
    return len(entries) >= 3 and entries[2] != ""


def websocket_protocols() -> str | None:
    """The Sec-WebSocket-Protocol header of this session's websocket (None without one)."""
    return st.context.headers.get("Sec-WebSocket-Protocol")


def show() -> None:
    """On a session's first run, look whether its tab had an earlier session; if so, say what was lost, at every
    full run of the session from then on."""
    if CHECKED not in st.session_state:
        st.session_state[CHECKED] = True
        if reconnected(websocket_protocols()):
            _LOG.info("a browser tab reconnected to %s without its earlier session; it starts anew",
                      settings.replica_name() or "this server")
            state.notify(NOTICE, "warning", LOST)
    state.show_notice(NOTICE)
