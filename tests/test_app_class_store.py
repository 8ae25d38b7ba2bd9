"""The page with the class store in PostgreSQL ($DIGITDNN_DATABASE_URL), as every page replica of a cluster runs it
(AppTest): what one session stores, saves, chooses or gets wrong is what a session of any other replica sees (a
second session after `another_replica()`, which drops this process's cached class store as a second server would
not have it); with the database unreachable the page still renders and says so; a tab the proxy moved from a
stopped replica is told that its runs are gone."""
import time

import numpy as np
import psycopg
import pytest
from app_session import open_session, open_tab, texts
from test_app_class import KEY, correct, draw, fake_canvas, unlock

from digitdnn.config import TrainConfig
from digitdnn.model import Classifier, build_model
from digitdnn.server.key_guard import wait_seconds
from digitdnn.ui import reconnected, server_state, teacher_key

UNREACHABLE = "postgresql://digitdnn@127.0.0.1:1/nowhere"  # port 1: refused at once


@pytest.fixture
def local_files(page_env, tmp_path, monkeypatch):
    """The local backend's drawings file and models folder, which the page must leave alone with a database URL."""
    db = tmp_path / "class-data" / "drawings.sqlite"
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(db))
    monkeypatch.delenv(teacher_key.TEACHER_KEY_ENV, raising=False)
    monkeypatch.delenv("DIGITDNN_REPLICA", raising=False)
    yield db, page_env
    another_replica()


@pytest.fixture
def database(local_files, postgres_url, monkeypatch) -> str:
    monkeypatch.setenv("DIGITDNN_DATABASE_URL", postgres_url)
    another_replica()
    return postgres_url


@pytest.fixture
def page(database, monkeypatch):
    at = open_session()
    monkeypatch.setattr("digitdnn.ui.draw.st_canvas", fake_canvas)
    return at


def another_replica() -> None:
    """Forget this process's class store, its back-off and rate limits: the next session opens its own, as the
    session of another page server would."""
    server_state._class_store.clear()
    server_state._drawing_limiter.clear()


def test_a_correction_is_stored_in_the_database(page, database, local_files):
    db, models = local_files
    draw(page, 3)
    correct(page, 5)
    assert "Stored, labelled 5 (the network said 3)" in texts(page)
    with psycopg.connect(database) as connection:
        rows = connection.execute("SELECT label, predicted, model, session FROM drawings").fetchall()
    assert rows == [(5, 3, "Default model", page.session_state["session"].drawer_id)]
    assert not db.exists() and not models.exists()  # nothing on this machine

    another_replica()
    other = open_tab(open_session(), "Class drawings")
    assert "**1 drawing** stored" in texts(other)


def test_a_model_saved_in_one_session_opens_in_another(page, local_files):
    page.text_input(key="save_name").set_value("shared-model")
    page.button(key="save").click().run()
    assert "Saved “Default model” as “shared-model”." in texts(page)
    page.text_input(key="save_name").set_value("shared-model")
    page.button(key="save").click().run()
    assert "Not saved." in texts(page) and "taken" in texts(page)  # claimed once, never overwritten

    another_replica()
    other = open_session()
    picker = other.selectbox(key="saved_model")
    assert [option.split(" ")[0] for option in picker.options] == ["shared-model"]
    picker.set_value("shared-model")
    other.button(key="open").click().run()
    assert "Opened “shared-model”; it is now the active model." in texts(other)
    opened = other.session_state["session"].models[-1]
    default = page.session_state["session"].models[0]
    probe = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(opened.classifier.predict_proba(probe), default.classifier.predict_proba(probe),
                               atol=1e-6)
    assert not local_files[1].exists()


def test_the_teachers_default_is_what_new_sessions_start_with(database, local_files, monkeypatch):
    from digitdnn.storage.open_store import open_class_store

    tiny = Classifier(build_model(TrainConfig(hidden_units=(16,), seed=5)))
    open_class_store(database).models.save(tiny, "tiny", {"test_accuracy": 0.1})
    monkeypatch.setenv(teacher_key.TEACHER_KEY_ENV, KEY)
    teacher = open_session()
    teacher.selectbox(key="saved_model").set_value("tiny")
    teacher.button(key="open").click().run()
    opened = teacher.session_state["session"].models[-1]
    unlock(open_tab(teacher, "Class drawings"), KEY)
    teacher.selectbox(key="teacher_default_pick").set_value(opened.id).run()
    teacher.button(key="teacher_make_default").click().run()
    assert "New sessions now start with the chosen model (saved as class-default-" in texts(teacher)

    probe = np.random.default_rng(1).random((5, 28, 28), dtype=np.float32)
    another_replica()
    (start,) = open_session().session_state["session"].models
    np.testing.assert_allclose(start.classifier.predict_proba(probe), tiny.predict_proba(probe), atol=1e-6)

    teacher.button(key="teacher_forget_default").click().run()
    assert "New sessions start with the shipped default model again." in texts(teacher)
    another_replica()
    (start,) = open_session().session_state["session"].models
    assert start.config is None or start.config.hidden_units != (16,)
    assert not np.allclose(start.classifier.predict_proba(probe), tiny.predict_proba(probe), atol=1e-3)


def test_a_wrong_key_in_one_session_makes_another_replicas_try_wait(database, local_files, monkeypatch):
    monkeypatch.setenv(teacher_key.TEACHER_KEY_ENV, KEY)
    guesser = open_tab(open_session(), "Class drawings")
    teacher = open_tab(open_session(), "Class drawings")
    unlock(guesser, "guess")
    assert f"Wrong key. The next try is checked after {wait_seconds(1):g} s." in texts(guesser)
    time.sleep(wait_seconds(1))
    unlock(guesser, "guess again")
    wrong_at = time.monotonic()
    assert f"The next try is checked after {wait_seconds(2):g} s." in texts(guesser)

    another_replica()
    unlock(teacher, KEY)
    assert time.monotonic() - wrong_at < wait_seconds(2), "too slow to be tried during the wait"
    assert "Too many wrong keys: try again in" in texts(teacher) and "Teacher controls are on" not in texts(teacher)
    time.sleep(max(0.0, wrong_at + wait_seconds(2) - time.monotonic()))
    unlock(teacher, KEY)
    assert "Teacher controls are on in this browser tab; 2 wrong keys were tried since you last unlocked." in \
        texts(teacher)


def test_with_the_database_unreachable_the_page_renders_and_says_so(local_files, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DATABASE_URL", UNREACHABLE)
    another_replica()
    at = open_session()
    monkeypatch.setattr("digitdnn.ui.draw.st_canvas", fake_canvas)
    assert at.session_state["session"].models[0].source == "default"  # the shipped default
    assert "Saved models cannot be listed just now: " in texts(at)
    assert at.selectbox(key="saved_model").options == []
    draw(at, 3)
    time.sleep(2.1)  # past the database's fail-fast pause: this press tries to connect again
    correct(at, 3)
    (error,) = at.error
    assert error.value.startswith("Your drawing was NOT stored: ") and "cannot be reached" in error.value
    assert not local_files[0].exists()


@pytest.mark.parametrize("protocols, again", [
    ("streamlit, xsrf-token, 0f9a5c1e-session", True),   # the frontend reconnecting: its earlier session's id third
    ("streamlit, xsrf-token", False),                     # a first connection
    ("streamlit, xsrf-token, ", False),
    (None, False),
    (["streamlit", "x", "id"], False),
])
def test_reconnected_only_when_the_header_names_an_earlier_session(protocols, again):
    assert reconnected.reconnected(protocols) is again


def test_a_tab_that_reconnected_without_its_session_is_told_so_for_its_session(local_files, monkeypatch):
    monkeypatch.setattr(reconnected, "websocket_protocols", lambda: "streamlit, token, 0f9a5c1e-old-session")
    tab = open_session()
    assert reconnected.LOST in texts(tab)
    monkeypatch.setattr(reconnected, "websocket_protocols", lambda: "streamlit, token")
    tab.run()
    assert texts(tab).count(reconnected.LOST) == 1  # said once, and still said at the next run
    assert reconnected.LOST not in texts(open_session())  # a tab opened afresh
