"""TimeLeft with a fake clock: fraction done and seconds left at the pace kept since the first report."""
import pytest

from digitdnn.training.time_left import TimeLeft
from testkit.clock import ManualClock


def test_no_estimate_before_the_run_has_moved_since_its_first_report():
    clock = ManualClock()
    left = TimeLeft(epochs=4, clock=clock)
    assert left.update(0, 0.0) == (0.0, None)
    clock.now += 5
    assert left.update(0, 0.0) == (0.0, None)


def test_the_pace_since_the_first_report_gives_the_time_left():
    clock = ManualClock()
    left = TimeLeft(epochs=4, clock=clock)
    clock.now = 30.0  # compiling before the first report does not count
    assert left.update(0, 0.5) == (0.125, None)
    clock.now += 10.0  # half an epoch (1/8 of the run) in 10 s: 80 s per run
    fraction, seconds = left.update(1, 0.0)
    assert fraction == 0.25 and seconds == pytest.approx(60.0)
    clock.now += 60.0
    assert left.update(4, 0.0) == (1.0, 0.0)


def test_the_fraction_is_capped_and_zero_epochs_do_not_divide_by_zero():
    left = TimeLeft(epochs=0, clock=ManualClock())
    assert left.update(3, 0.5)[0] == 1.0
