"""How fast a client may store drawings: a page served by `streamlit run app.py`, driven over its own websocket
protocol by a client that draws (a forged canvas value, as the canvas component sends it) and presses the
correction buttons as fast as the server answers, from one browser tab and from a new tab per drawing."""
import asyncio
import base64
import contextlib
import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.proto.WidgetStates_pb2 import WidgetStates

from benchmarks.students import load_recording
from digitdnn.storage.drawings import DrawingStore
from testkit.server import running_server
from testkit.streamlit_client import PageSession, widget_key

PER_TAB = 20        # the default of $DIGITDNN_DRAWINGS_PER_MINUTE
PER_SERVER = 25     # this server's $DIGITDNN_CLASS_DRAWINGS_PER_MINUTE: room for 5 after one tab's 20
TAB_TOO_FAST = "You have stored many drawings in a short time; wait a minute before storing more."
SERVER_BUSY = "The server is storing many drawings from the whole class just now"


@pytest.fixture(scope="module")
def server(default_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("forged-drawings")
    db = folder / "class-data" / "drawings.sqlite"
    with running_server(folder, timeout=90, DIGITDNN_DEFAULT_MODEL=str(default_model), DIGITDNN_DRAWINGS_DB=str(db),
                        DIGITDNN_CLASS_DRAWINGS_PER_MINUTE=str(PER_SERVER)) as running:
        yield running.url, db


@pytest.fixture(scope="module")
def canvas_value():
    """The canvas component's JSON value for a recorded 3, with ink added at a place given by `n`: every n gives a
    different drawing (the page stores the same drawing only once)."""
    recorded = load_recording().digits[3].strokes[-1]
    (canvas,) = [w for w in recorded.widgets if widget_key(w.id) == "canvas"]
    value = json.loads(canvas.json_value)
    header, encoded = value["drawing"]["data"].split(",", 1)
    ink = np.array(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGBA"))

    def drawn(n: int) -> str:
        image = ink.copy()
        row, column = divmod(n, 12)
        image[230 + 3 * (row % 4):236 + 3 * (row % 4), 20 + 20 * column:30 + 20 * column] = 255
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        value["drawing"]["data"] = f"{header},{base64.b64encode(buffer.getvalue()).decode()}"
        return json.dumps(value)

    return drawn


class Tab:
    """One browser tab over the protocol: each `store` draws and presses a correction button in the same run."""

    def __init__(self, runner: asyncio.Runner, session: PageSession):
        self.runner, self.session = runner, session

    def store(self, canvas_json: str, label: int) -> list[str]:
        states = WidgetStates()
        states.widgets.add().CopyFrom(self.session.widget_state("canvas", canvas_json))
        states.widgets.add().CopyFrom(self.session.widget_state(f"correct_{label}", True))
        self.runner.run(self.session.rerun(states))
        assert self.runner.run(self.session.wait_for(lambda run: run.finished, 60)), self.session.closed_reason
        assert not self.session.run.exceptions, self.session.run.exceptions
        return list(self.session.run.texts)


@contextlib.contextmanager
def tab(url: str):
    with asyncio.Runner() as runner:
        session = PageSession(url)
        runner.run(session.connect())
        assert runner.run(session.wait_for(lambda run: run.finished, 60)), session.closed_reason
        try:
            yield Tab(runner, session)
        finally:
            runner.run(session.close())


def stored(texts: list[str]) -> bool:
    return any(text.startswith("Stored, labelled 3") for text in texts)


def test_one_tab_stores_at_most_its_limit_a_minute_then_a_new_tab_per_drawing_meets_the_servers(
        server, canvas_value):
    url, db = server
    with tab(url) as student:
        answers = [student.store(canvas_value(n), 3) for n in range(PER_TAB + 1)]
    assert all(stored(texts) for texts in answers[:PER_TAB]), [t for t in answers if not stored(t)][:1]
    assert TAB_TOO_FAST in answers[PER_TAB] and not stored(answers[PER_TAB])
    assert DrawingStore(db).count() == PER_TAB
    (tab_summary,) = DrawingStore(db).tabs()
    assert tab_summary.drawings == PER_TAB

    # A new tab per drawing gets round the tab's limit, not the server's.
    answers = []
    for n in range(PER_TAB + 1, PER_TAB + 1 + PER_SERVER - PER_TAB + 1):
        with tab(url) as newcomer:
            answers.append(newcomer.store(canvas_value(n), 3))
    assert all(stored(texts) for texts in answers[:-1]), answers
    assert any(text.startswith(SERVER_BUSY) for text in answers[-1]) and not stored(answers[-1])
    assert DrawingStore(db).count() == PER_SERVER
    newest = DrawingStore(db).recent(limit=1)[0]
    assert newest.default_predicted == 3 and newest.predicted == 3   # the server's default model's answer too
