"""The training parameters the page offers, declared once: one row per TrainConfig field.

Each row says what the field is called in the sidebar (widget key, label, help text), in a shared link (address
name), and which values are offered (options, or bounds and step). The sidebar draws its widgets from these rows,
the address codec (digitdnn.share) reads and writes them, and a preset is applied through them; nothing else names
a field a second time. Like tensorflow/playground's state.ts, but for a Streamlit page.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from digitdnn.config import ACTIVATIONS, MAX_LAYERS, MAX_UNITS, OPTIMIZERS, SCHEDULES

LEARNING_RATES = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
BATCH_SIZES = (16, 32, 50, 64, 100, 128, 256, 512, 1024)
L2_PENALTIES = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
MAX_EPOCHS_SLIDER = 50
MAX_DROPOUT = 0.8
DROPOUT_STEP = 0.05
MAX_SEED = 2**31 - 1

LAYERS_KEY = "layers"  # the sidebar's layer count; the units of layer i (from 1) are under UNIT_KEYS[i - 1]
UNIT_KEYS = tuple(f"units_{i + 1}" for i in range(MAX_LAYERS))
LAYERS_HELP = ("How many layers of units sit between the 784 pixels and the 10 digits. More layers can learn more "
               "complicated shapes, but each epoch takes longer and deep networks can be harder to train.")

# How a value is offered: one of named choices, the nearest of a scale of options, a number between bounds,
# on or off, or the hidden layers' unit counts.
Kind = Literal["choice", "scale", "range", "switch", "units"]
Widget = Literal["layers", "selectbox", "select_slider", "slider", "number_input", "checkbox"]


@dataclass(frozen=True)
class Parameter:
    """One TrainConfig field as the page offers it."""

    field: str                  # the TrainConfig field
    key: str                    # the sidebar widget's key in st.session_state
    address: str                # the query parameter of a shared link
    label: str                  # the widget's label
    help: str                   # the widget's "?" tooltip: what it does and what raising it does, for a student
    kind: Kind
    widget: Widget
    options: tuple = ()         # choices or a scale's values (kind "choice" or "scale")
    names: Mapping[str, str] = dataclasses.field(default_factory=dict)  # how choices are shown
    low: float = 0              # bounds of kind "range" (and of the unit counts)
    high: float = 0
    step: float | None = None   # a "range" slider's step, when it is not 1

    def shown(self, value: object) -> str:
        """A value as the page shows it: a choice's name, a number without trailing zeros."""
        if self.names:
            return self.names[str(value)]
        return f"{value:g}" if isinstance(value, float) else str(value)


PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "hidden_units", LAYERS_KEY, "units", "Units, layer", kind="units", widget="layers", low=1, high=MAX_UNITS,
        help="How many units (neurons) this layer has. More units can learn more patterns, but training takes "
             "longer and the network may memorise the training images instead of learning digits (overfitting)."),
    Parameter(
        "activation", "activation", "activation", "Activation", kind="choice", widget="selectbox",
        options=ACTIVATIONS, names={"relu": "ReLU", "elu": "ELU", "tanh": "tanh", "sigmoid": "sigmoid"},
        help="What each hidden unit does with its weighted sum before passing it on. ReLU (negative values "
             "become 0) trains fast and is the usual choice; ELU is a smooth ReLU; tanh and sigmoid squash "
             "values into a narrow range and learn more slowly, especially with several layers."),
    Parameter(
        "optimizer", "optimizer", "optimizer", "Optimizer", kind="choice", widget="selectbox", options=OPTIMIZERS,
        names={"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adam": "Adam", "rmsprop": "RMSprop"},
        help="How the weights change after each batch. SGD takes a step downhill on the loss; Momentum and "
             "Nesterov keep some speed from earlier steps and usually get there faster; Adam and RMSprop adapt "
             "the step for every weight and work best with small learning rates such as 0.001."),
    Parameter(
        "learning_rate", "learning_rate", "lr", "Learning rate (log scale)", kind="scale", widget="select_slider",
        options=LEARNING_RATES,
        help="How big a step the optimizer takes after each batch. Raising it learns faster at first, but "
             "too high makes the loss jump about or explode (the run diverges); too low learns very slowly. "
             "About 0.01-0.1 suits SGD and Momentum, about 0.001 suits Adam."),
    Parameter(
        "schedule", "schedule", "schedule", "Learning rate schedule", kind="choice", widget="selectbox",
        options=SCHEDULES, names={"constant": "constant", "cosine": "cosine decay to 0"},
        help="How the learning rate changes during the run. Constant keeps it; cosine decay lowers it along a half "
             "cosine from the rate above to 0 at the last step: big steps first, fine ones at the end, which "
             "usually gains a little accuracy at the last epoch."),
    Parameter(
        "batch_size", "batch_size", "batch", "Batch size", kind="scale", widget="select_slider", options=BATCH_SIZES,
        help="How many training images are averaged for each change of the weights. Raising it makes each "
             "step steadier and each epoch quicker, but there are fewer steps per epoch; smaller batches "
             "take more, noisier steps."),
    Parameter(
        "epochs", "epochs", "epochs", "Epochs", kind="range", widget="slider", low=1, high=MAX_EPOCHS_SLIDER,
        help="How many times training goes through all 60,000 training images. More epochs usually raise the "
             "accuracy until the test accuracy stops improving; after that the network starts to memorise the "
             "training images. Training time grows with every epoch."),
    Parameter(
        "dropout", "dropout", "dropout", "Dropout", kind="range", widget="slider", low=0.0, high=MAX_DROPOUT,
        step=DROPOUT_STEP,
        help="The share of hidden units switched off at random for each training image, so that the network "
             "cannot rely on any single unit. Raising it fights overfitting but slows learning; 0 turns it off, "
             "0.2-0.5 is common."),
    Parameter(
        "l2", "l2", "l2", "L2 penalty", kind="scale", widget="select_slider", options=L2_PENALTIES,
        help="Adds the size of the weights to the loss, so that training keeps the weights small. Raising it fights "
             "overfitting; too high and the network cannot even fit the training images. 0 turns it off."),
    Parameter(
        "augment", "augment", "augment", "Augment the training images", kind="switch", widget="checkbox",
        help="Shows the network slightly shifted, scaled, rotated, thicker or thinner copies of the training "
             "images, new every epoch. It then names real drawings (off-centre, small, thick) better, but its "
             "training accuracy rises more slowly."),
    Parameter(
        "seed", "seed", "seed", "Seed", kind="range", widget="number_input", low=0, high=MAX_SEED,
        help="The number that starts every random choice (the first weights, the order of the images, dropout). "
             "The same seed and settings give the same run; change it to see how much a result owes to chance."),
)

BY_FIELD: dict[str, Parameter] = {p.field: p for p in PARAMETERS}
BY_ADDRESS: dict[str, Parameter] = {p.address: p for p in PARAMETERS}
