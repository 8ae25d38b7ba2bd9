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
    # The best fully connected network here: two wide layers, dropout, augmentation, and a learning rate that
    # decays to 0 over the run. 99.2% at its last epoch (seed 42), past 99.0% after about 14 epochs; about a
    # minute of training on 2 free cores, under 3 minutes on a busy machine (benchmarks/speed.py).
    "Best: 800-300, dropout, cosine decay": TrainConfig(
        hidden_units=(800, 300),
        optimizer="adam",
        learning_rate=0.001,
        batch_size=128,
        epochs=25,
        dropout=0.3,
        augment=True,
        schedule="cosine",
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
