"""Uploads as a hostile client sends them, to the page served by `streamlit run app.py`: the file PUT with the page's
XSRF token and the uploader's value sent over the page's own websocket protocol (benchmarks.trust_upload). The
upload bomb of issue 21 (0.2 MB, 214 MB of weights once unpacked) is refused in one sentence and the server does not
unpack it; sessions uploading models past the server's budget of uploaded weights are refused plainly."""
import asyncio

import pytest
from markdown_text import shown
from weight_budgets import budget_holding

from benchmarks.trust_upload import bomb_keras, upload_in_sessions
from digitdnn.storage.weight_budget import FULL
from testkit.server import running_server
from testkit.waiting import wait_until

MAX_GROWTH_MB = 100  # the bomb, unpacked and read, took the server from +400 MB; refused, it costs about 1 MB


@pytest.fixture(scope="module")
def server(default_model, tmp_path_factory):
    settings = {"DIGITDNN_DEFAULT_MODEL": str(default_model),
                "DIGITDNN_UPLOADED_WEIGHTS_MB": str(budget_holding(default_model, 2))}
    with running_server(tmp_path_factory.mktemp("forged-upload"), timeout=60, **settings) as server:
        yield server


def uploaded(server, files: list[tuple[str, bytes]]) -> tuple[list[list[str]], float]:
    """The texts each file's upload showed (each from its own session, kept open until all are done), and the
    server's peak memory growth meanwhile (MB)."""
    answers, growth_mb = asyncio.run(upload_in_sessions(server.url, server.process.pid, files, timeout=60))
    return [[shown(text) for text in texts] for texts in answers], growth_mb


def test_the_upload_bomb_is_refused_without_unpacking_it(server, tmp_path):
    bomb = bomb_keras(tmp_path / "bomb.keras").read_bytes()
    (texts,), growth_mb = uploaded(server, [("bomb.keras", bomb)])
    assert "Upload refused. Cannot load bomb.keras: it would unpack to more than 64 MB." in texts, texts
    assert not any("it is now the active model" in text for text in texts), texts
    assert growth_mb < MAX_GROWTH_MB, f"the server grew by {growth_mb:.0f} MB"


def loaded(texts: list[str]) -> bool:
    return any("it is now the active model" in text for text in texts)


def test_uploads_past_the_servers_budget_are_refused_until_their_sessions_close(server, default_model):
    model = default_model.read_bytes()
    answers, _ = uploaded(server, [(f"model-{i}.keras", model) for i in range(3)])
    assert [loaded(texts) for texts in answers] == [True, True, False]
    assert f"Upload refused. {FULL}" in answers[2], answers[2]
    # Those sessions have closed: once the server has released their models (RELEASE_AFTER_SECONDS), uploads fit.
    wait_until(lambda: loaded(uploaded(server, [("again.keras", model)])[0][0]), timeout=60, interval=2,
               message="the closed sessions' uploads to be given back to the budget")
