"""A lesson step's setup (classroom.lesson_file.StepSetup) put into the page: the lower tab, the input tab, which
expanders are open, the sidebar's preset and presenter mode, each by the session_state key of its widget.

Streamlit refuses a write to a widget's key once the widget is drawn in a run, so `apply` runs at the top of a full
run, before any widget (lesson_bar.apply_pending). Nothing else is written: the canvas, the runs and models, the
uploads and what a student typed stay as they are.
"""
from __future__ import annotations

import dataclasses

import streamlit as st

from digitdnn.classroom.lesson_file import Lesson, StepSetup
from digitdnn.ui import hyperparameters, page_address

TAB_KEY = "tab"              # the lower tabs (page.tabs_section), valued by their label
INPUT_TAB_KEY = "input_tab"  # "Draw" | "Photo or file" (page.input_tabs)
EXPANDER_KEYS = {            # lesson_file.EXPANDERS -> the key of each expander, True when open
    "How the drawing becomes 28 x 28": "steps_open",
    "Inside the network": "inside_open",
    "Try to fool it": "fool_open",
}


def for_page(lesson: Lesson, step: int, teacher: bool) -> StepSetup:
    """The setup of step `step` (from 1) of `lesson` as one page applies it: presenter mode (the step's, else the
    lesson's) on the teacher's page only; students' pages never change size."""
    setup = lesson.steps[step - 1].setup
    presenter = (lesson.presenter if setup.presenter is None else setup.presenter) if teacher else None
    return dataclasses.replace(setup, presenter=presenter)


def widget_values(setup: StepSetup) -> dict[str, object]:
    """The widget values (by key) that `setup` sets, besides its preset; what it leaves out stays as it is."""
    values: dict[str, object] = {}
    if setup.tab is not None:
        values[TAB_KEY] = setup.tab
    if setup.input is not None:
        values[INPUT_TAB_KEY] = setup.input
    if setup.open is not None:
        values.update({key: label in setup.open for label, key in EXPANDER_KEYS.items()})
    if setup.presenter is not None:
        values[page_address.PRESENTER_KEY] = setup.presenter
    return values


def apply(setup: StepSetup) -> None:
    """Set the page up as `setup` says (before any widget of this run is drawn)."""
    st.session_state.update(widget_values(setup))
    if setup.preset is not None:
        hyperparameters.apply_preset(setup.preset)
