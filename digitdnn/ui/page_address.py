"""The page address carries the sidebar's settings and presenter mode, so that a link shares a setup.

`read_address` runs once per session, before the sidebar's widgets exist, and sets them
from st.query_params; `write_address` runs after them on every full run and puts the
current setup back into the address (only what differs from the defaults).
"""
from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from digitdnn.config import TrainConfig
from digitdnn.share import ADDRESS_NAMES, Setup, from_query, to_query
from digitdnn.ui import state
from digitdnn.ui.draw import CANVAS_SIZE
from digitdnn.ui.hyperparameters import widget_values
from digitdnn.ui.text import plain

PRESENTER_KEY = "presenter"  # the presenter mode toggle
PRESENTER_CANVAS_SIZE = 420
PRESENTER_STYLE = """<style>
.st-key-prediction { --digitdnn-heading: 3.6rem; }
.st-key-prediction h1 { line-height: 1.1; }
.st-key-prediction strong { font-size: 2rem; }
</style>"""


def read_address() -> None:
    """On the session's first run: set the sidebar's widgets and presenter mode from the address, and keep
    a message for every value that was refused or clamped."""
    session = state.session()
    if session.address_read:
        return
    session.address_read = True
    setup, messages = from_query({name: st.query_params.get_all(name) for name in st.query_params})
    st.session_state.update(widget_values(setup.config))
    st.session_state[PRESENTER_KEY] = setup.presenter
    session.address_messages = messages
    session.address_config = setup.config


def presenter() -> bool:
    """Whether the page is in presenter mode: bigger drawing and prediction, fewer controls."""
    return bool(st.session_state.get(PRESENTER_KEY))


def canvas_size() -> int:
    return PRESENTER_CANVAS_SIZE if presenter() else CANVAS_SIZE


def presenter_style() -> None:
    """In presenter mode, enlarge the prediction's text (CSS scoped to the prediction container)."""
    if presenter():
        st.html(PRESENTER_STYLE)


def address_messages(config: TrainConfig | None) -> None:
    """A warning listing the address's refused or clamped values, until the settings (`config`, None when they
    make no valid one) are changed."""
    session = state.session()
    messages = session.address_messages
    if not messages:
        return
    if config != session.address_config:
        session.address_messages = []
        return
    st.warning("The page address had settings that could not be used as they were:\n\n"
               + "\n".join(f"- {plain(m)}" for m in messages))


def write_address(config: TrainConfig | None) -> None:
    """Put the current setup into the page address, changing only the parameters that differ."""
    wanted = _current_query(config)
    if wanted is None:
        return
    for name in ADDRESS_NAMES:
        if name in wanted and st.query_params.get(name) != wanted[name]:
            st.query_params[name] = wanted[name]
        elif name not in wanted and name in st.query_params:
            del st.query_params[name]


def _current_query(config: TrainConfig | None) -> dict[str, str] | None:
    return None if config is None else to_query(Setup(config, presenter()))


def query_string(config: TrainConfig | None) -> str:
    """The query part of a link to the setup `config`, such as "?units=300,100&epochs=5"; "" for the defaults, or
    when `config` is None (the settings make no valid one)."""
    query = _current_query(config)
    return "?" + urlencode(query, safe=",") if query else ""
