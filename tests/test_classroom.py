"""Several people on one server: sessions train side by side without seeing each other's work, queue for
training slots in order, and a closed tab ends its training and frees its place.

The AppTest sessions here share the process-wide resources (dataset, default model, training queue) exactly
as the browser sessions of one `streamlit run` do. The browser tests (marker `browser`) run the real server.
"""
import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
from app_session import open_session, run_all_until
from streamlit.testing.v1 import AppTest

from testkit.browser import PREDICTION, wait_for_text

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
SIDEBAR = "[data-testid=stSidebar]"
# The browser tests' server (with .streamlit/config.toml: XSRF on): one training slot, all 60,000 training images
# so that a run goes on for a minute or more unless stopped.
SERVER_ENV = {"DIGITDNN_DATA_LIMIT": "60000,500", "DIGITDNN_TRAINING_SLOTS": "1"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def classroom(page_env):
    """Opens page sessions (AppTest) on one shared server process, with page_env's settings."""
    return open_session


def settings(at: AppTest, preset: str = "Tiny", **widgets) -> None:
    at.selectbox(key="preset").set_value(preset).run()
    for key, value in widgets.items():
        widget = next(w for kind in ("slider", "select_slider", "number_input") for w in at.get(kind) if w.key == key)
        widget.set_value(value)
    at.run()


def sidebar_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("info", "success", "error", "caption", "markdown")
                     for e in getattr(at.sidebar, kind))


def job(at: AppTest):
    return at.session_state["session"].job


def trained(at: AppTest) -> list:
    return [m for m in at.session_state["session"].models if m.source == "trained"]


def test_two_sessions_training_at_once_keep_their_own_models_and_histories(classroom, default_model, tmp_path):
    default_hash = sha256(default_model)
    alice, bob = classroom(), classroom()
    default_weights = [w.copy() for w, _, _ in alice.session_state["session"].models[0].classifier.layers]
    settings(alice, units_1=24, epochs=2)
    settings(bob, units_1=48, epochs=3, learning_rate=0.005)
    alice.button(key="train").click().run()
    bob.button(key="train").click().run()
    run_all_until([alice, bob], lambda: job(alice) is not None and job(bob) is not None
                  and {job(alice).progress().status, job(bob).progress().status} == {"training"})
    run_all_until([alice, bob], lambda: job(alice) is None and job(bob) is None)

    (alices,), (bobs,) = trained(alice), trained(bob)
    assert alices.config.hidden_units == (24,) and [e["epoch"] for e in alices.epochs] == [1, 2]
    assert bobs.config.hidden_units == (48,) and [e["epoch"] for e in bobs.epochs] == [1, 2, 3]
    assert bobs.config.learning_rate == 0.005 != alices.config.learning_rate
    assert [w.shape for w, _, _ in alices.classifier.layers] == [(784, 24), (24, 10)]
    assert [w.shape for w, _, _ in bobs.classifier.layers] == [(784, 48), (48, 10)]
    for at, own in ((alice, alices), (bob, bobs)):
        assert at.session_state["active_model"] == own.id
        assert [m.source for m in at.session_state["session"].models] == ["default", "trained"]
        assert list(at.dataframe[0].value["model"]) == [m.name for m in at.session_state["session"].models]
    assert "Run 1 completed" in sidebar_text(alice) and "Run 1 completed" in sidebar_text(bob)

    carol = classroom()  # a third person arriving later sees neither run
    assert [m.source for m in carol.session_state["session"].models] == ["default"]
    assert sha256(default_model) == default_hash
    carols_default = carol.session_state["session"].models[0].classifier
    for before, (after, _, _) in zip(default_weights, carols_default.layers, strict=True):
        np.testing.assert_array_equal(before, after)
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").iterdir()) == []  # nothing saved


def test_sessions_wait_their_turn_in_the_queue_and_see_their_place(classroom, monkeypatch):
    monkeypatch.setenv("DIGITDNN_TRAINING_SLOTS", "1")
    first, second, third = classroom(), classroom(), classroom()
    settings(first, units_1=512, epochs=50, batch_size=16)  # trains until stopped
    settings(second, epochs=1)
    settings(third, epochs=1)
    first.button(key="train").click().run()
    run_all_until([first], lambda: job(first).progress().status == "training")
    second.button(key="train").click().run()
    run_all_until([second], lambda: "waiting: place 1 of 1 in the queue" in sidebar_text(second))
    third.button(key="train").click().run()
    run_all_until([second, third], lambda: "waiting: place 2 of 2 in the queue" in sidebar_text(third)
                  and "waiting: place 1 of 2 in the queue" in sidebar_text(second))
    assert not second.button(key="stop").disabled  # a waiting run can be stopped

    second.button(key="stop").click().run()  # leaves the queue; the third moves up
    run_all_until([second, third], lambda: job(second) is None
                  and "waiting: place 1 of 1 in the queue" in sidebar_text(third))
    assert trained(second) == [] and "stopped before training began" in sidebar_text(second)

    run_all_until([first], lambda: job(first).progress().epoch >= 1)  # a run stopped before any epoch is not kept
    first.button(key="stop").click().run()  # frees the slot: the third trains
    run_all_until([first, third], lambda: job(first) is None and job(third) is None)
    assert trained(first)[0].history["status"] == "stopped"
    assert trained(third)[0].history["status"] == "completed"


# ---- in a real browser ---------------------------------------------------------------------------------------

def open_tab(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator(PREDICTION).wait_for()
    return context, page


def set_number(page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")


@pytest.mark.browser
def test_uploads_work_with_xsrf_protection_on(browser, server, default_model, tmp_path):
    bad = tmp_path / "notes.keras"
    bad.write_text("not a model")
    good = tmp_path / "mine.keras"
    good.write_bytes(default_model.read_bytes())
    for upload, expected in ((bad, r"Upload refused\. Cannot load notes\.keras: it is not a Keras"),
                             (good, r"mine\.keras loaded; it is now the active model")):
        context, page = open_tab(browser, server)  # a fresh session for each file
        try:
            page.get_by_role("tab", name="Runs and models").click()
            page.locator(".st-key-upload input[type=file]").set_input_files(str(upload))
            wait_for_text(page, "body", expected, timeout=60_000)
        finally:
            context.close()


@pytest.mark.browser
def test_closing_a_training_tab_ends_its_run_and_frees_the_slot(browser, server):
    first_context, first = open_tab(browser, server)
    second_context, second = open_tab(browser, server)
    try:
        set_number(first, "Units, layer 1", 2000)  # the default preset with a wide layer: minutes of training
        first.locator(".st-key-train button").click()
        wait_for_text(first, SIDEBAR, r"epoch \d+ of \d+", timeout=60_000)
        second.locator(".st-key-train button").click()
        wait_for_text(second, SIDEBAR, r"waiting: place 1 of 1 in the queue", timeout=30_000)

        first_context.close()  # the tab (and its websocket) goes away without pressing Stop
        closed = time.monotonic()
        # The first run would hold the only slot for minutes; it ends about 3 s after the tab closed (the grace
        # for a reconnect) plus its current chunk, and the second starts (about 6 s in all on an idle machine).
        wait_for_text(second, SIDEBAR, r"epoch \d+ of \d+", timeout=60_000)
        print(f"slot freed and the next run training {time.monotonic() - closed:.1f} s after the tab closed")
    finally:
        second_context.close()
