"""The class challenge's rules (digitdnn/classroom/challenge_rules.py): limits, a run's figures, nicknames and the
reasons an entry is refused. The stores apply them (tests/test_classroom_store.py)."""
import math

import pytest

from digitdnn.classroom.challenge_rules import (
    MAX_ENTRIES_PER_TAB,
    Challenge,
    ChallengeLimits,
    EntryRecord,
    RunFigures,
    checked_nickname,
    checked_record,
    refusal,
    run_figures,
    weight_count,
)
from digitdnn.config import TrainConfig
from digitdnn.storage.model_card import ModelCard
from digitdnn.training.history import EpochReport, History


@pytest.mark.parametrize("units", [(300, 100), (128,), (32,), (64, 32, 16, 8)])
def test_weight_count_is_what_keras_counts(units):
    from digitdnn.model import build_model

    assert weight_count(units) == build_model(TrainConfig(hidden_units=units)).count_params()


def test_weight_count_of_the_networks_the_page_names():
    assert (weight_count((300, 100)), weight_count((128,)), weight_count((32,))) == (266_610, 101_770, 25_450)


@pytest.mark.parametrize("limits, words", [
    ((0, 60, 20), "weights"), ((10**9 + 1, 60, 20), "weights"), ((True, 60, 20), "weights"),
    ((100.5, 60, 20), "weights"), ((1000, 0.5, 20), "seconds"), ((1000, 3601, 20), "seconds"),
    ((1000, math.nan, 20), "seconds"), ((1000, "60", 20), "seconds"), ((1000, 60, 0), "minutes"),
    ((1000, 60, 241), "minutes"), ((1000, 60, math.inf), "minutes"),
])
def test_challenge_limits_out_of_range_are_refused_in_a_sentence(limits, words):
    with pytest.raises(ValueError, match=words) as refused:
        ChallengeLimits(*limits)
    assert str(refused.value).startswith("A challenge") and str(refused.value).endswith(".")


def test_challenge_limits_at_their_bounds_are_fine():
    assert ChallengeLimits(1, 1, 1).max_weights == 1
    assert ChallengeLimits(10**9, 3600, 240).minutes == 240


def _report(epoch: int, epochs: int, seconds: float, test_accuracy: float) -> EpochReport:
    return EpochReport(epoch, epochs, 0.9, 0.3, test_accuracy, 0.3, seconds, eval_seconds=5.0)


def _card(status: str = "completed", epochs: int = 2, **fields) -> dict:
    """A run's model card as the page keeps it (ModelCard.of_run, as runs.collect_finished_job writes it)."""
    config = TrainConfig(hidden_units=(32,), epochs=2)
    reports = [_report(1, 2, 4.5, 0.91), _report(2, 2, 1.5, 0.93)][:epochs]
    return ModelCard.of_run(History(config, reports, status), command="digitdnn page", **fields).to_json()


def test_a_finished_run_brings_its_weights_training_seconds_and_kept_accuracy():
    figures = run_figures("trained", _card(), "784 → 32 → 10")
    # training seconds only (4.5 + 1.5), not the 2 x 5 s of test evaluation; the last epoch's accuracy (kept weights)
    assert figures == RunFigures(25_450, 6.0, 0.93, "784 → 32 → 10")


def test_a_stopped_run_may_enter_with_the_epochs_it_finished():
    assert run_figures("trained", _card("stopped", epochs=1), "s") == RunFigures(25_450, 4.5, 0.91, "s")


@pytest.mark.parametrize("source, card, reason", [
    ("upload", _card(), "Only runs trained in this tab can be entered; uploaded or opened models cannot."),
    ("saved", _card(), "Only runs trained in this tab can be entered"),
    ("trained", _card(fine_tuned={"drawings": 40}), "A retrain on the class drawings cannot be entered"),
    ("trained", {**_card(), "config": None}, "settings were not recorded"),
    ("trained", {**_card(), "config": {"hidden_units": "lots"}}, "settings were not recorded"),
    ("trained", _card("stopped", epochs=0), "finished no epoch"),
    ("trained", _card("diverged"), "diverged"),
    ("trained", {**_card(), "history": {**_card()["history"], "epochs": [{"seconds": -1, "test_accuracy": 0.5}]}},
     "not readable"),
])
def test_runs_that_cannot_enter_are_refused_with_the_reason(source, card, reason):
    with pytest.raises(ValueError, match=reason):
        run_figures(source, card, "settings")


@pytest.mark.parametrize("typed, kept", [
    ("[x](http://a)", "[x](http://a)"),          # stored as typed: the page escapes it when it shows it
    ("<b>Ada</b> **bold**", "<b>Ada</b> **bold**"),
    ("  Ada \n\t Lovelace  ", "Ada Lovelace"),      # a line break is only white space
    ("", ""),                                      # anonymous
    ("x" * 24, "x" * 24),
])
def test_nicknames_are_kept_as_typed_with_white_space_tidied(typed, kept):
    assert checked_nickname(typed) == kept


@pytest.mark.parametrize("typed", ["\x1b[31mred", "Ada\x00", "A\u200bda", "\u202eadA", "x" * 25, 42, None, b"Ada"])
def test_control_characters_long_nicknames_and_non_texts_are_refused(typed):
    with pytest.raises(ValueError, match="A nickname"):
        checked_nickname(typed)


def _record(run="Run 2", weights=25_450, seconds=6.1, nickname="Ada") -> EntryRecord:
    return EntryRecord("tab-1", run, nickname, RunFigures(weights, seconds, 0.95, "784 → 32 → 10"))


OPEN = Challenge(7, max_weights=100_000, max_seconds=60.0, is_open=True, seconds_left=600.0)


@pytest.mark.parametrize("challenge, record, entries, already, reason", [
    (OPEN, _record(), 0, False, None),
    (OPEN, _record(weights=100_000, seconds=60.0), MAX_ENTRIES_PER_TAB - 1, False, None),  # at the limits
    (OPEN, _record("Run 1", weights=266_610), 0, False,
     "Run 1 has 266,610 weights; this challenge allows at most 100,000."),
    (OPEN, _record(seconds=74.23), 0, False, "Run 2 trained for 74.2 s; this challenge allows at most 60 s."),
    (OPEN._replace(is_open=False), _record(), 0, False, "The challenge is closed."),
    (OPEN._replace(is_open=False, seconds_left=0.0), _record(), 0, False, "The challenge's time is up."),
    (OPEN, _record(), 1, True, "Run 2 is on the leaderboard already."),
    (OPEN, _record(), MAX_ENTRIES_PER_TAB, False, "This browser tab has entered 5 runs, the most one tab may."),
    (OPEN._replace(is_open=False), _record(weights=10**6), 9, True, "The challenge is closed."),  # closed first
])
def test_refusal_says_why_in_one_sentence(challenge, record, entries, already, reason):
    assert refusal(challenge, record, entries, already) == reason


def test_a_record_is_checked_before_a_store_takes_it():
    assert checked_record(_record(nickname=" Ada  L ")).nickname == "Ada L"
    for bad in (_record(nickname="\x07"), _record(run="R" * 121), _record(weights=0), _record(seconds=math.nan),
                _record()._replace(tab="t" * 65), _record()._replace(figures=RunFigures(1, 1.0, 1.5, "s")),
                _record()._replace(figures=RunFigures(1, 1.0, 0.5, "s" * 201)), _record(weights=True)):
        with pytest.raises(ValueError):
            checked_record(bad)
