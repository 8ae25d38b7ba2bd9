"""testkit.waiting.wait_until: the condition's first true value, or an error saying what never happened."""
import pytest

from testkit.waiting import wait_until


def test_the_first_true_value_is_returned_after_a_pause_per_false_one():
    answers, pauses = iter([None, 0, "", "ready", "later"]), []
    assert wait_until(lambda: next(answers), timeout=60, interval=0.25, pause=pauses.append) == "ready"
    assert pauses == [0.25, 0.25, 0.25]


def test_a_timeout_says_what_never_happened_and_in_what_state():
    calls = []
    with pytest.raises(AssertionError, match=r"^timed out after 0 s waiting for the job to end; it is training$"):
        wait_until(lambda: calls.append("checked"), timeout=0, message=lambda: "the job to end; it is training")
    assert calls == ["checked"]  # checked once before giving up
