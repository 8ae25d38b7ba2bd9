"""Guessing the teacher key from a new session per guess, as a script over the page's websocket protocol does
(testkit.forged_client): after a wrong key anywhere on the server, the next try from any session waits; the right
key after the wait unlocks and tells the teacher how many wrong keys were tried; the server log has each wrong key,
never the key typed."""
import re
import time

import pytest
from markdown_text import shown

from digitdnn.server.key_guard import FIRST_WAIT_SECONDS
from digitdnn.ui.teacher_key import KEY_INPUT, UNLOCK_BUTTON
from testkit.forged_client import forged_page
from testkit.server import running_server

KEY = "correct horse battery staple"
TAB = "Class drawings"


@pytest.fixture(scope="module")
def server(default_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("forged-key")
    with running_server(folder, timeout=60, DIGITDNN_DEFAULT_MODEL=str(default_model), DIGITDNN_TEACHER_KEY=KEY,
                        DIGITDNN_DRAWINGS_DB=str(folder / "drawings.sqlite")) as server:
        yield server


def test_a_new_session_per_guess_waits_as_one_session_would(server):
    guesses = ["guess-0001", "guess-0002"]
    with forged_page(server.url) as first, forged_page(server.url) as second:
        for page in (first, second):  # both tabs open before the first guess: the second guesses at once
            page.send(tab=TAB)
        said = [shown(text) for text in first.press(UNLOCK_BUTTON, tab=TAB, **{KEY_INPUT: guesses[0]})]
        wrong_at = time.monotonic()
        assert f"Wrong key. The next try is checked after {FIRST_WAIT_SECONDS:g} s." in said, said
        said = [shown(text) for text in second.press(UNLOCK_BUTTON, tab=TAB, **{KEY_INPUT: guesses[1]})]
        assert time.monotonic() - wrong_at < FIRST_WAIT_SECONDS, "too slow to be tried during the wait"
        assert any(re.fullmatch(r"Too many wrong keys: try again in [12] s\.", text) for text in said), said

    time.sleep(max(0.0, wrong_at + FIRST_WAIT_SECONDS - time.monotonic()))
    with forged_page(server.url) as teacher:
        teacher.send(tab=TAB)
        said = [shown(text) for text in teacher.press(UNLOCK_BUTTON, tab=TAB, **{KEY_INPUT: KEY})]
    # the refused guess was never checked: one wrong key
    assert "Teacher controls are on in this browser tab; 1 wrong key was tried since you last unlocked." in said, said

    log = server.log_path.read_text()
    assert log.count("wrong teacher key") == 1, log[-3000:]
    assert not any(secret in log for secret in [*guesses, KEY]), log[-3000:]
