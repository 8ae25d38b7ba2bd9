"""StopRules with a fake clock: a requested stop, the time limit, an abandoned page and a reconnect in time."""
import pytest

from digitdnn.training.stop_rules import ABANDON_AFTER_SECONDS, ABANDONED_MESSAGE, StopRules
from testkit.clock import ManualClock


@pytest.fixture
def clock():
    return ManualClock(now=100.0)


def test_nothing_stops_a_wanted_run_without_a_limit(clock):
    rules = StopRules(clock=clock)
    rules.training_started()
    clock.now += 10**6
    assert rules.reason_to_stop(False, lambda: True) is None
    assert rules.reason_to_stop(False) is None
    assert rules.reason is None and rules.message() is None


def test_a_requested_stop_ends_the_run_at_once_without_asking_the_page(clock):
    def page():
        raise AssertionError("the page is not asked once the stop is requested")

    rules = StopRules(clock=clock)
    assert rules.reason_to_stop(True, page) == "requested"
    assert rules.message() is None  # the training's own message ("stopped after ...") is shown


def test_the_time_limit_counts_from_the_start_of_training_only(clock):
    rules = StopRules(max_seconds=60, clock=clock)
    clock.now += 1000  # waiting for a slot is free
    assert rules.reason_to_stop(False) is None
    rules.training_started()
    clock.now += 59.9
    assert rules.reason_to_stop(False) is None
    clock.now += 0.1
    assert rules.reason_to_stop(False) == "time limit"
    assert rules.message() == "stopped: the server's time limit for a run (60 s) was reached"


def test_a_page_gone_for_the_grace_period_abandons_the_run(clock):
    page = {"open": True}
    rules = StopRules(clock=clock)
    assert rules.abandon_after == ABANDON_AFTER_SECONDS == 3.0
    assert rules.reason_to_stop(False, lambda: page["open"]) is None
    page["open"] = False
    assert rules.reason_to_stop(False, lambda: page["open"]) is None  # gone since now
    clock.now += 2.9
    assert rules.reason_to_stop(False, lambda: page["open"]) is None
    clock.now += 0.1
    assert rules.reason_to_stop(False, lambda: page["open"]) == "abandoned"
    assert rules.message() == ABANDONED_MESSAGE


def test_a_page_that_reconnects_within_the_grace_period_starts_the_count_again(clock):
    page = {"open": False}
    rules = StopRules(clock=clock)
    assert rules.reason_to_stop(False, lambda: page["open"]) is None
    clock.now += 2.5
    page["open"] = True  # back in time
    assert rules.reason_to_stop(False, lambda: page["open"]) is None
    page["open"] = False
    clock.now += 0.1
    assert rules.reason_to_stop(False, lambda: page["open"]) is None
    clock.now += 2.9  # 5.5 s since it first went, but only 2.9 s since it went again
    assert rules.reason_to_stop(False, lambda: page["open"]) is None
    clock.now += 0.1
    assert rules.reason_to_stop(False, lambda: page["open"]) == "abandoned"


def test_the_first_reason_is_kept(clock):
    rules = StopRules(max_seconds=1, clock=clock)
    rules.training_started()
    clock.now += 5
    assert rules.reason_to_stop(False, lambda: False) == "time limit"
    clock.now += 10
    assert rules.reason_to_stop(True, lambda: False) == "time limit"
    assert rules.reason == "time limit"
