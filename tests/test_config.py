"""TrainConfig: defaults from the tutorial, validation that names the field."""
import pytest

from digitdnn.config import TrainConfig


def test_defaults_are_the_tutorials_network():
    cfg = TrainConfig()
    assert cfg.hidden_units == (300, 100)
    assert (cfg.activation, cfg.optimizer, cfg.learning_rate) == ("relu", "sgd", 0.01)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"hidden_units": (300, 0)}, "hidden_units"),
        ({"hidden_units": ()}, "hidden_units"),
        ({"hidden_units": (10,) * 5}, "hidden_units"),
        ({"hidden_units": ("many",)}, "hidden_units"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"optimizer": "adagrad"}, "optimizer"),
        ({"activation": "swish"}, "activation"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 10_000}, "epochs"),
        ({"dropout": 1.0}, "dropout"),
        ({"l2": -1e-4}, "l2"),
        ({"seed": -1}, "seed"),
        ({"augment": "yes"}, "augment"),
        ({"schedule": "step"}, "schedule"),
    ],
)
def test_invalid_values_raise_value_error_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**changes)


def test_dict_round_trip_and_unknown_keys():
    cfg = TrainConfig(hidden_units=[64], optimizer="adam", learning_rate=1e-3, augment=True)
    assert cfg.hidden_units == (64,)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="colour"):
        TrainConfig.from_dict({**cfg.to_dict(), "colour": "red"})


def test_replace_validates_again():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig().replace(epochs=-3)

