"""Share this setup (sidebar): presenter mode, and the link to the page with the current settings."""
from __future__ import annotations

import streamlit as st

from digitdnn.config import TrainConfig
from digitdnn.ui import page_address


def show(config: TrainConfig | None) -> None:
    """The presenter mode toggle and the link to the current setup (`config`, None when the settings make no valid
    one)."""
    st.toggle("Presenter mode", key=page_address.PRESENTER_KEY,
              help="A bigger drawing and prediction, fewer controls: for a projector")
    link = (st.context.url or "") + page_address.query_string(config)
    st.caption("Share this setup: students who open this link get the same settings.")
    st.code(link or "(this page's address)", language=None, wrap_lines=True)
