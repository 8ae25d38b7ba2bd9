"""The load generator in quick form: students spoken for over the page's websocket protocol, no browser."""
import json

import pytest

from benchmarks.students import load_recording, measure, replayed
from testkit.streamlit_client import PageSession, widget_key


def test_widget_keys_are_read_from_widget_ids():
    assert widget_key("$$ID-b438289d9ce8007241d4809ab02c4584-canvas") == "canvas"
    assert widget_key("$$ID-5e9b6955495a3604c0f657c80adb02c1-units-1") == "units-1"
    assert widget_key("$$ID-6ce558bc8835ef0b33d6917256bf0273-None") is None
    assert widget_key("e3ef5e5bc66ba8416d87a1588ebae5e6") is None


def test_the_recording_holds_every_digit_and_replays_on_this_sessions_canvas():
    recording = load_recording()
    assert [d.digit for d in recording.digits] == list(range(10))
    session = PageSession("http://127.0.0.1:1")
    session.widgets["canvas"] = ("$$ID-0000-canvas", "fragment")
    for drawing in recording.digits:
        for count, stroke in enumerate(drawing.strokes, start=1):
            (canvas,) = [w for w in replayed(session, stroke).widgets if widget_key(w.id) == "canvas"]
            assert canvas.id == "$$ID-0000-canvas"
            assert len(json.loads(canvas.json_value)["drawing"]["raw"]["objects"]) == count
    (canvas,) = [w for w in recording.clear.widgets if widget_key(w.id) == "canvas"]
    assert json.loads(canvas.json_value)["drawing"]["raw"]["objects"] == []


def test_three_students_name_their_digits_without_errors(default_model):
    results, tally, _ = measure([3], [0], seconds=8, period=2.0, model_path=str(default_model))
    assert tally.errors == [] and tally.wrong == []
    (step,) = results
    assert step.students == 3 and step.digits >= 3 and step.strokes >= step.digits
    assert 0 < step.p50 <= step.p95
    assert step.cpu_per_digit > 0


@pytest.mark.cluster
def test_students_through_the_proxy_spread_over_two_replicas(default_model):
    """benchmarks/students_cluster.py in quick form: a real `digitdnn cluster`, students through HAProxy."""
    from cluster import missing_programs

    from benchmarks.students_cluster import measure as measure_through_proxy

    reason = missing_programs()
    if reason:
        pytest.skip(f"no cluster here: {reason}")
    results, tally, used = measure_through_proxy(2, [4], seconds=6, period=2.0, model_path=str(default_model),
                                   cores=(None, None))
    assert tally.errors == [] and tally.wrong == []
    (step,) = results
    assert step.digits >= 4 and step.cpu_per_digit > 0
    assert used["r1"] > 0.5 and used["r2"] > 0.5  # both replicas served students (each loads pages and names digits)
    assert used["proxy"] > 0 and used["postgres"] >= 0
