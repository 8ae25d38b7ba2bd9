"""Named training configurations offered by the page's sidebar."""
from __future__ import annotations

from digitdnn.config import TrainConfig

PRESETS: dict[str, TrainConfig] = {
    # What the page opens with: the tutorial's network with Nesterov momentum (the tutorial's "future work");
    # about 98.3% in 15 epochs, 98% after 7 to 10 of them, a few seconds each on 2 cores.
    "Default: 300-100, Nesterov": TrainConfig(optimizer="nesterov", learning_rate=0.05, batch_size=128, epochs=15),
    # The tutorial's network: 784-300-100-10, ReLU, plain gradient descent at 0.01.
    "Tutorial: SGD 0.01, 300-100": TrainConfig(),
    # Adam with bigger batches: near the tutorial's accuracy in a fraction of the epochs.
    "Fast: Adam": TrainConfig(optimizer="adam", learning_rate=0.001, batch_size=100, epochs=5),
    # One small layer: trains in seconds, shows how far a tiny network gets.
    "Tiny": TrainConfig(hidden_units=(32,), optimizer="adam", learning_rate=0.002, batch_size=100, epochs=3),
    # Four layers with dropout and augmentation: the tutorial's "future work", slower but sturdier on drawings.
    "Deep": TrainConfig(
        hidden_units=(512, 256, 128, 64),
        optimizer="nesterov",
        learning_rate=0.02,
        batch_size=64,
        epochs=15,
        dropout=0.2,
        augment=True,
    ),
}


DEFAULT_PRESET = "Default: 300-100, Nesterov"
PAGE_DEFAULT = PRESETS[DEFAULT_PRESET]  # the sidebar's settings when a session opens


def matching_preset(cfg: TrainConfig) -> str | None:
    """The name of the preset equal to cfg, or None when it is a custom configuration."""
    for name, preset in PRESETS.items():
        if preset == cfg:
            return name
    return None
