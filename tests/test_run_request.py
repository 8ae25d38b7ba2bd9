"""A run asked of a worker: JSON there and back; anything forged in it is a plain ValueError, nothing is unpickled."""
import json
import pickle

import pytest

from digitdnn.config import TrainConfig
from digitdnn.training.run_data import DrawingsPick, RunData
from digitdnn.training.run_request import MAX_REQUEST_BYTES, RunRequest

REQUEST = RunRequest(run="0123456789abcdef0123456789abcdef", name="Run 3 (+ pen digits)", session="a" * 36,
                     config=TrainConfig(hidden_units=(30, 10), epochs=2, optimizer="adam", augment=True),
                     data=RunData("pen", (500, None), DrawingsPick("retrain", 42, ("tab-1", "é\udc80"))),
                     warm_start=True, max_seconds=900.0)


def _forged(**changes) -> str:
    d = json.loads(REQUEST.to_json())
    d.update(changes)
    return json.dumps(d)


def test_a_request_round_trips_through_json():
    assert RunRequest.from_json(REQUEST.to_json()) == REQUEST
    assert RunRequest.from_json(REQUEST.to_json().encode()) == REQUEST  # as Redis gives it
    plain = RunRequest(REQUEST.run, "Run 1", "s", TrainConfig(), RunData("mnist", None), False, 1)
    assert RunRequest.from_json(plain.to_json()) == plain


@pytest.mark.parametrize("change", [
    {"v": 2}, {"v": True}, {"v": "1"}, {"run": "0123"}, {"run": "../../etc/passwd" + "0" * 16},
    {"run": "0123456789ABCDEF0123456789ABCDEF"}, {"run": 123}, {"name": "x" * 121}, {"name": None},
    {"session": "s" * 65}, {"session": 5}, {"warm_start": 1}, {"warm_start": "yes"}, {"max_seconds": 0},
    {"max_seconds": -5}, {"max_seconds": 1e300}, {"max_seconds": "900"}, {"max_seconds": True},
    {"config": [1, 2]}, {"config": {"epochs": 0}}, {"config": {"hidden_units": None}},
    {"config": {"optimizer": "evil"}}, {"config": {"learning_rate": "0.1"}}, {"config": {"unknown": 1}},
    {"config": {"hidden_units": [4096] * 5}}, {"data": None}, {"data": {"base": "mnist", "limit": None}},
    {"data": {"base": "cifar", "limit": None, "drawings": None}},
])
def test_a_forged_field_is_refused(change):
    with pytest.raises(ValueError):
        RunRequest.from_json(_forged(**change))


def test_an_unknown_or_missing_key_is_refused():
    with pytest.raises(ValueError, match="exactly the keys"):
        RunRequest.from_json(_forged(callback="os.system"))
    d = json.loads(REQUEST.to_json())
    del d["warm_start"]
    with pytest.raises(ValueError, match="exactly the keys"):
        RunRequest.from_json(json.dumps(d))


def test_non_finite_numbers_and_non_json_are_refused():
    with pytest.raises(ValueError, match="not valid JSON"):
        RunRequest.from_json(REQUEST.to_json().replace('"max_seconds": 900.0', '"max_seconds": Infinity'))
    with pytest.raises(ValueError, match="not valid JSON"):
        RunRequest.from_json(pickle.dumps(REQUEST))
    for text in ("[]", "null", '"run"', "[" * 50_000):
        with pytest.raises(ValueError):
            RunRequest.from_json(text)


def test_an_oversized_request_is_refused_before_it_is_parsed():
    with pytest.raises(ValueError, match=f"at most {MAX_REQUEST_BYTES} bytes"):
        RunRequest.from_json(REQUEST.to_json() + " " * MAX_REQUEST_BYTES)


def test_the_most_tabs_a_retrain_may_hold_back_fit_in_a_request():
    longest = RunRequest(**{**REQUEST.__dict__, "data": RunData("mnist", None, DrawingsPick(
        "retrain", 1, tuple(f"{n:04d}" + "t" * 196 for n in range(1000))))})
    assert RunRequest.from_json(longest.to_json()) == longest
