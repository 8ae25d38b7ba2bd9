"""The sidebar's training controls: one widget per TrainConfig field, and the presets.

Widget values live in st.session_state under the keys of `widget_values`; the
config is always rebuilt from them by `config_from_state`, so a preset is just
a set of widget values.
"""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from digitdnn.config import ACTIVATIONS, MAX_LAYERS, MAX_UNITS, OPTIMIZERS, SCHEDULES, TrainConfig
from digitdnn.presets import PAGE_DEFAULT, PRESETS, matching_preset
from digitdnn.share import (BATCH_SIZES, DROPOUT_STEP, L2_PENALTIES, LEARNING_RATES, MAX_DROPOUT, MAX_EPOCHS_SLIDER,
                            MAX_SEED)

OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adam": "Adam", "rmsprop": "RMSprop"}
ACTIVATION_NAMES = {"relu": "ReLU", "elu": "ELU", "tanh": "tanh", "sigmoid": "sigmoid"}
SCHEDULE_NAMES = {"constant": "constant", "cosine": "cosine decay to 0"}
# What each control does, and what raising it does, in words for a student (the widgets' "?" tooltips).
HELP = {
    "preset": "Ready-made settings: choosing one fills in every control below. You can change them afterwards.",
    "layers": "How many layers of units sit between the 784 pixels and the 10 digits. More layers can learn more "
              "complicated shapes, but each epoch takes longer and deep networks can be harder to train.",
    "units": "How many units (neurons) this layer has. More units can learn more patterns, but training takes "
             "longer and the network may memorise the training images instead of learning digits (overfitting).",
    "activation": "What each hidden unit does with its weighted sum before passing it on. ReLU (negative values "
                  "become 0) trains fast and is the usual choice; ELU is a smooth ReLU; tanh and sigmoid squash "
                  "values into a narrow range and learn more slowly, especially with several layers.",
    "optimizer": "How the weights change after each batch. SGD takes a step downhill on the loss; Momentum and "
                 "Nesterov keep some speed from earlier steps and usually get there faster; Adam and RMSprop adapt "
                 "the step for every weight and work best with small learning rates such as 0.001.",
    "schedule": "How the learning rate changes during the run. Constant keeps it; cosine decay lowers it along a half "
                "cosine from the rate above to 0 at the last step: big steps first, fine ones at the end, which "
                "usually gains a little accuracy at the last epoch.",
    "learning_rate": "How big a step the optimizer takes after each batch. Raising it learns faster at first, but "
                     "too high makes the loss jump about or explode (the run diverges); too low learns very slowly. "
                     "About 0.01-0.1 suits SGD and Momentum, about 0.001 suits Adam.",
    "batch_size": "How many training images are averaged for each change of the weights. Raising it makes each "
                  "step steadier and each epoch quicker, but there are fewer steps per epoch; smaller batches "
                  "take more, noisier steps.",
    "epochs": "How many times training goes through all 60,000 training images. More epochs usually raise the "
              "accuracy until the test accuracy stops improving; after that the network starts to memorise the "
              "training images. Training time grows with every epoch.",
    "dropout": "The share of hidden units switched off at random for each training image, so that the network "
               "cannot rely on any single unit. Raising it fights overfitting but slows learning; 0 turns it off, "
               "0.2-0.5 is common.",
    "augment": "Shows the network slightly shifted, scaled, rotated, thicker or thinner copies of the training "
               "images, new every epoch. It then names real drawings (off-centre, small, thick) better, but its "
               "training accuracy rises more slowly.",
    "l2": "Adds the size of the weights to the loss, so that training keeps the weights small. Raising it fights "
          "overfitting; too high and the network cannot even fit the training images. 0 turns it off.",
    "seed": "The number that starts every random choice (the first weights, the order of the images, dropout). "
            "The same seed and settings give the same run; change it to see how much a result owes to chance.",
}


def widget_values(cfg: TrainConfig) -> dict:
    """The sidebar widget values (by key) that show `cfg`; unused layer widgets continue the funnel."""
    units = list(cfg.hidden_units)
    while len(units) < MAX_LAYERS:
        units.append(max(10, units[-1] // 2))
    values = {f"units_{i + 1}": u for i, u in enumerate(units)}
    values.update(
        layers=len(cfg.hidden_units),
        activation=cfg.activation,
        optimizer=cfg.optimizer,
        learning_rate=cfg.learning_rate,
        schedule=cfg.schedule,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        dropout=cfg.dropout,
        l2=cfg.l2,
        augment=cfg.augment,
        seed=cfg.seed,
    )
    return values


def config_from_state(state: Mapping) -> TrainConfig:
    """The TrainConfig the sidebar widgets currently describe (ValueError if they make no valid one)."""
    layers = int(state["layers"])
    return TrainConfig(
        hidden_units=tuple(int(state[f"units_{i + 1}"]) for i in range(layers)),
        activation=state["activation"],
        optimizer=state["optimizer"],
        learning_rate=float(state["learning_rate"]),
        schedule=state["schedule"],
        batch_size=int(state["batch_size"]),
        epochs=int(state["epochs"]),
        dropout=float(state["dropout"]),
        l2=float(state["l2"]),
        augment=bool(state["augment"]),
        seed=int(state["seed"]),
    )


def describe(cfg: TrainConfig) -> str:
    """One line such as "784 → 300 → 100 → 10 · ReLU · SGD, lr 0.01 · batch 50 · 10 epochs"."""
    shape = " → ".join(str(n) for n in (784, *cfg.hidden_units, 10))
    extras = [f"dropout {cfg.dropout:g}"] if cfg.dropout else []
    extras += [f"L2 {cfg.l2:g}"] if cfg.l2 else []
    extras += ["augmented"] if cfg.augment else []
    rate = f"lr {cfg.learning_rate:g}" + (f" ({SCHEDULE_NAMES[cfg.schedule]})" if cfg.schedule != "constant" else "")
    parts = [shape, ACTIVATION_NAMES[cfg.activation], f"{OPTIMIZER_NAMES[cfg.optimizer]}, {rate}",
             f"batch {cfg.batch_size}", f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}", *extras]
    return " · ".join(parts)


def short_name(cfg: TrainConfig) -> str:
    """A few words for lists: "784-300-100-10 SGD 0.01"."""
    shape = "-".join(str(n) for n in (784, *cfg.hidden_units, 10))
    return f"{shape} {OPTIMIZER_NAMES[cfg.optimizer]} {cfg.learning_rate:g}"


def _apply_preset() -> None:
    name = st.session_state.get("preset")
    if name in PRESETS:
        st.session_state.update(widget_values(PRESETS[name]))
    st.session_state.preset = None  # back to "Load a preset…", so the same preset can be loaded again


def training_controls(advanced: bool = True) -> None:
    """Draw the hyperparameter widgets and a one-line summary of the config they describe.

    With `advanced` False (presenter mode) only the preset and the epochs show; the hidden
    widgets' values are kept (Streamlit would otherwise drop the state of widgets not drawn).
    """
    for key, value in widget_values(PAGE_DEFAULT).items():
        st.session_state.setdefault(key, value)
        if not advanced:
            st.session_state[key] = st.session_state[key]

    st.selectbox("Preset", list(PRESETS), index=None, placeholder="Load a preset…", key="preset",
                 on_change=_apply_preset, help=HELP["preset"])
    if advanced:
        _network_controls()
    _epochs_slider()
    if advanced:
        _regularisation_controls()

    try:
        cfg = config_from_state(st.session_state)
    except ValueError as exc:
        st.error(f"These settings make no valid network: {exc}")
        return
    preset = matching_preset(cfg)
    st.caption(describe(cfg) + (f"  \n(preset “{preset}”)" if preset else "  \n(custom settings)"))


def _network_controls() -> None:
    st.slider("Hidden layers", 1, MAX_LAYERS, key="layers", help=HELP["layers"])
    columns = st.columns(2)
    for i in range(st.session_state.layers):
        columns[i % 2].number_input(f"Units, layer {i + 1}", 1, MAX_UNITS, step=10, key=f"units_{i + 1}",
                                    help=HELP["units"])
    left, right = st.columns(2)
    left.selectbox("Activation", ACTIVATIONS, format_func=ACTIVATION_NAMES.get, key="activation",
                   help=HELP["activation"])
    right.selectbox("Optimizer", OPTIMIZERS, format_func=OPTIMIZER_NAMES.get, key="optimizer", help=HELP["optimizer"])
    st.select_slider("Learning rate (log scale)", LEARNING_RATES, format_func=lambda v: f"{v:g}", key="learning_rate",
                     help=HELP["learning_rate"])
    st.selectbox("Learning rate schedule", SCHEDULES, format_func=SCHEDULE_NAMES.get, key="schedule",
                 help=HELP["schedule"])
    st.select_slider("Batch size", BATCH_SIZES, key="batch_size", help=HELP["batch_size"])


def _epochs_slider() -> None:
    st.slider("Epochs", 1, MAX_EPOCHS_SLIDER, key="epochs", help=HELP["epochs"])


def _regularisation_controls() -> None:
    st.slider("Dropout", 0.0, MAX_DROPOUT, step=DROPOUT_STEP, key="dropout", help=HELP["dropout"])
    st.checkbox("Augment the training images", key="augment", help=HELP["augment"])
    with st.expander("More"):
        st.select_slider("L2 penalty", L2_PENALTIES, format_func=lambda v: f"{v:g}", key="l2", help=HELP["l2"])
        st.number_input("Seed", 0, MAX_SEED, key="seed", help=HELP["seed"])
