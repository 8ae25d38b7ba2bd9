"""A worker's events about a run: written as JSON, read back checked; every forged field is a plain ValueError."""
import json

import pytest

from digitdnn.config import TrainConfig
from digitdnn.training import run_events
from digitdnn.training.history import MAX_MESSAGE_CHARS, EpochReport, History
from digitdnn.training.run_events import Done, Epoch, Failed, Loading, Progress, Training, read_event

CFG = TrainConfig(hidden_units=(8,), epochs=3)
REPORT = EpochReport(1, 3, 0.5, 1.2, 0.6, 1.1, 2.5, 0.25)


def _history(status="completed", epochs=3, initial=None) -> History:
    reports = [EpochReport(n, 3, 0.5, 1.2, 0.6 + n / 10, 1.1, 2.5, 0.25) for n in range(1, epochs + 1)]
    return History(CFG, reports, status, f"{status} after {epochs}", initial)


def _forged(event: str, **changes) -> str:
    d = json.loads(event)
    d.update(changes)
    return json.dumps(d)


def test_every_event_reads_back_as_written():
    history = _history(initial=0.4)
    assert read_event(run_events.loading("drawing the pen digits: 40%"), CFG) == Loading("drawing the pen digits: 40%")
    fingerprint = "sha256:0123456789abcdef"
    assert read_event(run_events.training(500, fingerprint), CFG) == Training(500, fingerprint)
    assert read_event(run_events.epoch(REPORT), CFG) == Epoch(REPORT)
    assert read_event(run_events.progress(2, 0.25), CFG) == Progress(2, 0.25)
    assert read_event(run_events.failed("no drawings"), CFG) == Failed("no drawings")
    got = read_event(run_events.done(history, 1.5).encode(), CFG)  # bytes, as Redis gives them
    assert isinstance(got, Done) and got.temperature == 1.5
    assert got.history.to_dict() == history.to_dict()
    assert got.history.config is CFG
    assert read_event(run_events.done(_history("stopped", 0), None), CFG).temperature is None


def test_a_long_message_is_shortened_so_that_it_is_read():
    event = read_event(run_events.failed("x" * 1000), CFG)
    assert isinstance(event, Failed) and len(event.message) == MAX_MESSAGE_CHARS and event.message.endswith("…")


@pytest.mark.parametrize("text", [
    "", "not json", "[1, 2]", '{"kind": "magic"}', '{"kind": ["loading"]}', '{"message": "x"}',
    '{"kind": "loading", "message": "x", "extra": 1}', '{"kind": "loading"}',
    '{"kind": "loading", "message": 7}', json.dumps({"kind": "failed", "message": "x" * 301}),
    '{"kind": "progress", "epoch": 1, "fraction": NaN}', '{"kind": "progress", "epoch": 1, "fraction": 1.5}',
    '{"kind": "progress", "epoch": 4, "fraction": 0.5}', '{"kind": "progress", "epoch": true, "fraction": 0.5}',
    '{"kind": "progress", "epoch": 0, "fraction": 0.5}', '{"kind": "progress", "epoch": 1, "fraction": "0.5"}',
    '{"kind": "training", "train_images": 0, "fingerprint": "sha256:0123456789abcdef"}',
    '{"kind": "training", "train_images": 5, "fingerprint": "/etc/passwd"}',
    '{"kind": "training", "train_images": 5.0, "fingerprint": "sha256:0123456789abcdef"}',
    "[" * 100_000, '{"kind": "loading", "message": "' + "x" * 200_000 + '"}', b"\xff\xfe\x00",
], ids=repr)
def test_a_malformed_event_is_refused(text):
    with pytest.raises(ValueError):
        read_event(text, CFG)


@pytest.mark.parametrize("field,value", [
    ("epoch", 0), ("epoch", 4), ("epochs", 4), ("epochs", 201), ("train_accuracy", 1.01), ("test_accuracy", -0.1),
    ("train_loss", -1.0), ("test_loss", "1"), ("seconds", 1e300), ("eval_seconds", None), ("epoch", 1.0),
])
def test_a_forged_epoch_report_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        read_event(json.dumps({"kind": "epoch", "report": dict(REPORT.to_dict(), **{field: value})}), CFG)


def test_an_epoch_report_with_an_unknown_or_missing_field_is_refused():
    for report in (dict(REPORT.to_dict(), extra=1), {k: v for k, v in REPORT.to_dict().items() if k != "seconds"}):
        with pytest.raises(ValueError, match="exactly the keys"):
            read_event(json.dumps({"kind": "epoch", "report": report}), CFG)


@pytest.mark.parametrize("change", [
    {"status": "running"}, {"status": "hacked"}, {"message": "x" * 301}, {"message": None},
    {"initial_test_accuracy": 2.0}, {"initial_test_accuracy": "0.5"}, {"config": {"epochs": 9}},
    {"epochs": [REPORT.to_dict()] * 4}, {"epochs": [REPORT.to_dict(), REPORT.to_dict()]}, {"epochs": {"1": 1}},
    {"epochs": [dict(REPORT.to_dict(), epoch=2)]},
])
def test_a_forged_history_is_refused(change):
    done = json.loads(run_events.done(_history(), 1.0))
    done["history"].update(change)
    with pytest.raises(ValueError):
        read_event(json.dumps(done), CFG)


@pytest.mark.parametrize("temperature", [0.0, -1.0, 1e9, "1.5", True])
def test_a_forged_temperature_is_refused(temperature):
    with pytest.raises(ValueError, match="temperature"):
        read_event(_forged(run_events.done(_history(), 1.0), temperature=temperature), CFG)


def test_the_history_config_is_the_readers_own():
    """A done event never carries a config: the page's own is the history's (a worker cannot swap it)."""
    assert "config" not in json.loads(run_events.done(_history(), None))["history"]
    other = CFG.replace(hidden_units=(4096,))
    assert read_event(run_events.done(_history(), None), other).history.config is other
