"""The sidebar's hyperparameters: the preset, then one widget per row of digitdnn.parameters.

Widget values live in st.session_state under the rows' keys; the config is rebuilt
from them by `config_from_state` once per page run, so a preset is just a set of widget values.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.state import SessionStateProxy

from digitdnn.config import MAX_LAYERS, TrainConfig
from digitdnn.parameters import BY_FIELD, LAYERS_HELP, LAYERS_KEY, PARAMETERS, UNIT_KEYS, Parameter
from digitdnn.presets import PAGE_DEFAULT, PRESETS, matching_preset

PRESET_KEY = "preset"
PRESET_HELP = "Ready-made settings: choosing one fills in every control below. You can change them afterwards."
_CAST = {p.field: type(getattr(PAGE_DEFAULT, p.field)) for p in PARAMETERS}  # the type each widget value becomes


def widget_values(cfg: TrainConfig) -> dict[str, object]:
    """The sidebar widget values (by key) that show `cfg`; unused layer widgets continue the funnel."""
    units = list(cfg.hidden_units)
    while len(units) < MAX_LAYERS:
        units.append(max(10, units[-1] // 2))
    values: dict[str, object] = dict(zip(UNIT_KEYS, units, strict=True))
    values[LAYERS_KEY] = len(cfg.hidden_units)
    values.update({p.key: getattr(cfg, p.field) for p in PARAMETERS if p.kind != "units"})
    return values


def config_from_state(state: Mapping[str, Any] | SessionStateProxy) -> TrainConfig:
    """The TrainConfig the sidebar widgets currently describe (ValueError if they make no valid one)."""
    layers = int(state[LAYERS_KEY])
    values = {p.field: _CAST[p.field](state[p.key]) for p in PARAMETERS if p.kind != "units"}
    return TrainConfig(hidden_units=tuple(int(state[key]) for key in UNIT_KEYS[:layers]), **values)


def chosen_config() -> tuple[TrainConfig | None, str | None]:
    """The config the sidebar's widgets describe in this page run, computed once per run (widget values do not
    change during a run), or None and why the widgets make no valid one. Widgets not set yet get the page default."""
    for key, value in widget_values(PAGE_DEFAULT).items():
        st.session_state.setdefault(key, value)
    try:
        return config_from_state(st.session_state), None
    except ValueError as exc:
        return None, str(exc)


def describe(cfg: TrainConfig) -> str:
    """One line such as "784 → 300 → 100 → 10 · ReLU · SGD, lr 0.01 · batch 50 · 10 epochs"."""
    shape = " → ".join(str(n) for n in (784, *cfg.hidden_units, 10))
    extras = [f"dropout {cfg.dropout:g}"] if cfg.dropout else []
    extras += [f"L2 {cfg.l2:g}"] if cfg.l2 else []
    extras += ["augmented"] if cfg.augment else []
    schedule = f" ({BY_FIELD['schedule'].shown(cfg.schedule)})" if cfg.schedule != "constant" else ""
    rate = f"lr {cfg.learning_rate:g}{schedule}"
    optimizer = BY_FIELD["optimizer"].shown(cfg.optimizer)
    parts = [shape, BY_FIELD["activation"].shown(cfg.activation), f"{optimizer}, {rate}",
             f"batch {cfg.batch_size}", f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}", *extras]
    return " · ".join(parts)


def short_name(cfg: TrainConfig) -> str:
    """A few words for lists: "784-300-100-10 SGD 0.01"."""
    shape = "-".join(str(n) for n in (784, *cfg.hidden_units, 10))
    return f"{shape} {BY_FIELD['optimizer'].shown(cfg.optimizer)} {cfg.learning_rate:g}"


def apply_preset(name: object) -> None:
    """Set the sidebar's widgets to the preset `name` (nothing for a name that is not a preset): from the preset
    picker's callback, or at the top of a run before the widgets are drawn (a lesson step's preset)."""
    if isinstance(name, str) and name in PRESETS:
        st.session_state.update(widget_values(PRESETS[name]))


def _apply_preset() -> None:
    apply_preset(st.session_state.get(PRESET_KEY))
    st.session_state[PRESET_KEY] = None  # back to "Load a preset…", so the same preset can be loaded again


def show(config: TrainConfig | None, error: str | None, advanced: bool = True) -> None:
    """Draw the hyperparameter widgets and a one-line summary of `config`, the one they described when this page
    run began (`error` says why they made none).

    With `advanced` False (presenter mode) only the preset and the epochs show; the hidden
    widgets' values are kept (Streamlit would otherwise drop the state of widgets not drawn).
    """
    if not advanced:
        for key in widget_values(PAGE_DEFAULT):
            st.session_state[key] = st.session_state[key]

    st.selectbox("Preset", list(PRESETS), index=None, placeholder="Load a preset…", key=PRESET_KEY,
                 on_change=_apply_preset, help=PRESET_HELP)
    if advanced:
        _network_controls()
    _widget(BY_FIELD["epochs"])
    if advanced:
        _regularisation_controls()

    if config is None:
        st.error(f"These settings make no valid network: {error}")
        return
    preset = matching_preset(config)
    st.caption(describe(config) + (f"  \n(preset “{preset}”)" if preset else "  \n(custom settings)"))


def _widget(p: Parameter, column: DeltaGenerator | None = None) -> None:
    """The widget of one parameter, drawn in `column` (by default where the page is drawing)."""
    where = column or st
    if p.widget == "selectbox":
        where.selectbox(p.label, p.options, format_func=p.shown, key=p.key, help=p.help)
    elif p.widget == "select_slider":
        where.select_slider(p.label, p.options, format_func=p.shown, key=p.key, help=p.help)
    elif p.widget == "slider":
        where.slider(p.label, p.low, p.high, step=p.step, key=p.key, help=p.help)
    elif p.widget == "number_input":
        where.number_input(p.label, p.low, p.high, key=p.key, help=p.help)
    elif p.widget == "checkbox":
        where.checkbox(p.label, key=p.key, help=p.help)


def _network_controls() -> None:
    units = BY_FIELD["hidden_units"]
    st.slider("Hidden layers", 1, MAX_LAYERS, key=LAYERS_KEY, help=LAYERS_HELP)
    columns = st.columns(2)
    for i in range(st.session_state[LAYERS_KEY]):
        columns[i % 2].number_input(f"{units.label} {i + 1}", units.low, units.high, step=10, key=UNIT_KEYS[i],
                                    help=units.help)
    left, right = st.columns(2)
    _widget(BY_FIELD["activation"], left)
    _widget(BY_FIELD["optimizer"], right)
    for name in ("learning_rate", "schedule", "batch_size"):
        _widget(BY_FIELD[name])


def _regularisation_controls() -> None:
    _widget(BY_FIELD["dropout"])
    _widget(BY_FIELD["augment"])
    with st.expander("More"):
        _widget(BY_FIELD["l2"])
        _widget(BY_FIELD["seed"])
