"""digitdnn.share: a setup to query parameters and back, and hostile addresses refused or clamped with messages."""
import dataclasses

import pytest

from digitdnn.config import MAX_LAYERS, MAX_UNITS, TrainConfig
from digitdnn.parameters import BY_ADDRESS, MAX_EPOCHS_SLIDER, PARAMETERS
from digitdnn.presets import PAGE_DEFAULT, PRESETS
from digitdnn.share import ADDRESS_NAMES, Setup, from_query, to_query
from digitdnn.ui import hyperparameters

DEFAULT = PAGE_DEFAULT
SETUPS = [Setup(cfg, presenter) for cfg in PRESETS.values() for presenter in (False, True)] + [
    Setup(TrainConfig(hidden_units=(4096, 1, 77, 10), activation="sigmoid", optimizer="rmsprop", learning_rate=0.0001,
                      batch_size=1024, epochs=50, dropout=0.8, l2=1e-5, augment=True, seed=2**31 - 1)),
    Setup(TrainConfig(hidden_units=(5,), activation="elu", optimizer="momentum", learning_rate=1.0, batch_size=16,
                      epochs=1, dropout=0.05, l2=0.01, seed=0)),
]


@pytest.mark.parametrize("setup", SETUPS)
def test_a_setup_survives_the_round_trip(setup):
    params = to_query(setup)
    assert all(isinstance(v, str) for v in params.values())
    assert from_query(params) == (setup, [])


def test_the_page_default_is_an_empty_address_and_only_changes_are_written():
    assert Setup().config == PAGE_DEFAULT
    assert to_query(Setup()) == {}
    assert from_query({}) == (Setup(), [])
    assert to_query(Setup(DEFAULT.replace(optimizer="adam", learning_rate=0.001, epochs=5), presenter=True)) == {
        "optimizer": "adam", "lr": "0.001", "epochs": "5", "presenter": "1"}
    assert to_query(Setup(TrainConfig())) == {"optimizer": "sgd", "lr": "0.01", "batch": "50", "epochs": "10"}


def test_one_table_row_per_config_field_names_each_widget_and_address_parameter_once():
    assert sorted(p.field for p in PARAMETERS) == sorted(f.name for f in dataclasses.fields(TrainConfig) if f.repr)
    assert len({p.key for p in PARAMETERS}) == len({p.address for p in PARAMETERS}) == len(PARAMETERS)
    assert list(ADDRESS_NAMES) == [*BY_ADDRESS, "presenter"]


@pytest.mark.parametrize("cfg", [*PRESETS.values(), SETUPS[-2].config, SETUPS[-1].config])
def test_the_sidebar_widgets_show_a_config_and_give_it_back(cfg):
    assert hyperparameters.config_from_state(hyperparameters.widget_values(cfg)) == cfg


@pytest.mark.parametrize("params, field, value, words", [
    ({"units": "-5,100"}, "hidden_units", (1, 100), ["units", f"1 to {MAX_UNITS}", "1,100"]),
    ({"units": "99999"}, "hidden_units", (MAX_UNITS,), ["units", str(MAX_UNITS)]),
    ({"units": "1,2,3,4,5,6"}, "hidden_units", (1, 2, 3, 4), ["units", f"maximum {MAX_LAYERS}"]),
    ({"units": "lots"}, "hidden_units", DEFAULT.hidden_units, ["units", "“lots” is not a number", "default"]),
    ({"units": "300,1.5"}, "hidden_units", DEFAULT.hidden_units, ["units", "not a whole number"]),
    ({"units": ""}, "hidden_units", DEFAULT.hidden_units, ["units", "no unit counts"]),
    ({"epochs": str(10**9)}, "epochs", MAX_EPOCHS_SLIDER, ["epochs", "above the maximum 50"]),
    ({"epochs": "-3"}, "epochs", 1, ["epochs", "below the minimum 1"]),
    ({"epochs": "ten"}, "epochs", DEFAULT.epochs, ["epochs", "not a number"]),
    ({"epochs": "inf"}, "epochs", DEFAULT.epochs, ["epochs", "not a number"]),
    ({"epochs": "1e1"}, "epochs", DEFAULT.epochs, ["epochs", "not a whole number written in digits"]),
    ({"units": "1_000"}, "hidden_units", DEFAULT.hidden_units, ["units", "“1_000” is not a number"]),
    ({"epochs": ["3", "7"]}, "epochs", DEFAULT.epochs, ["epochs", "given 2 times", "default"]),
    ({"epochs": "nan"}, "epochs", DEFAULT.epochs, ["epochs"]),
    ({"optimizer": "sgdd"}, "optimizer", DEFAULT.optimizer, ["optimizer", "not one of sgd, momentum"]),
    ({"activation": "<script>"}, "activation", DEFAULT.activation, ["activation", "<script>"]),
    ({"lr": "0.003"}, "learning_rate", 0.002, ["lr", "nearest, 0.002"]),
    ({"schedule": "step"}, "schedule", DEFAULT.schedule, ["schedule", "not one of constant, cosine"]),
    ({"lr": "-1"}, "learning_rate", DEFAULT.learning_rate, ["lr", "positive"]),
    ({"lr": "0"}, "learning_rate", DEFAULT.learning_rate, ["lr", "positive"]),
    ({"lr": "1e308"}, "learning_rate", 1.0, ["lr", "nearest, 1"]),
    ({"batch": "100000"}, "batch_size", 1024, ["batch", "nearest, 1024"]),
    ({"batch": "64.5"}, "batch_size", DEFAULT.batch_size, ["batch", "whole number"]),
    ({"dropout": "0.99"}, "dropout", 0.8, ["dropout", "maximum 0.8"]),
    ({"dropout": "0.33"}, "dropout", 0.35, ["dropout", "step of 0.05"]),
    ({"l2": "3"}, "l2", 0.01, ["l2", "nearest, 0.01"]),
    ({"augment": "maybe"}, "augment", False, ["augment", "not 1 or 0"]),
    ({"augment": ""}, "augment", False, ["augment", "no value given"]),
    ({"seed": "-1"}, "seed", 0, ["seed", "minimum 0"]),
    ({"seed": str(2**40)}, "seed", 2**31 - 1, ["seed", "maximum"]),
])
def test_hostile_values_are_refused_or_clamped_with_a_message_naming_the_parameter(params, field, value, words):
    setup, messages = from_query(params)
    assert getattr(setup.config, field) == value
    assert setup.config.replace(**{field: getattr(DEFAULT, field)}) == DEFAULT  # nothing else changed
    assert len(messages) == 1
    for word in words:
        assert word in messages[0]


def test_good_values_around_bad_ones_are_kept():
    setup, messages = from_query({"units": "64,-1", "optimizer": "adam", "epochs": "zillion", "lr": "0.001",
                                  "activation": "TANH", "augment": "yes", "presenter": ""})
    assert setup == Setup(DEFAULT.replace(hidden_units=(64, 1), optimizer="adam", learning_rate=0.001,
                                          activation="tanh", augment=True), presenter=True)
    assert [m.split("”")[0] for m in messages] == ["Parameter “units", "Parameter “epochs"]


def test_unknown_parameters_are_named_and_ignored_and_long_values_cut_short():
    setup, messages = from_query({"epoch": "5", "seed": "x" * 5000})
    assert setup == Setup()
    assert "Unknown parameter “epoch” ignored" in messages[0]
    assert "seed" in messages[1] and len(messages[1]) < 200 and "…" in messages[1]


def test_a_parameter_given_once_as_a_list_is_read():
    assert from_query({"epochs": ["7"]}) == (Setup(DEFAULT.replace(epochs=7)), [])
