"""What uploaded models may cost the server, on the page (AppTest): the upload bomb of issue 21 (0.2 MB that
unpacks to 214 MB of weights) is refused before it is unpacked, and the weights of every session's uploaded and
opened models together stay within the server's budget ($DIGITDNN_UPLOADED_WEIGHTS_MB), given back as sessions drop
them. The Runs tab names models, never the server's folders."""
import gc
import tracemalloc

import pytest
from app_session import open_session, open_tab, texts
from markdown_text import shown
from weight_budgets import budget_holding

from digitdnn.storage.weight_budget import FULL

UPLOAD = "application/octet-stream"


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> bytes:
    from benchmarks.trust_upload import bomb_keras

    return bomb_keras(tmp_path_factory.mktemp("bomb") / "bomb.keras").read_bytes()


def upload(at, name: str, data: bytes) -> str:
    """Upload `data` as the file `name` from the session `at`; the errors and successes its run showed."""
    at.file_uploader(key="upload").set_value((name, data, UPLOAD))
    at.run()
    assert not at.exception, at.exception
    return shown(" ".join(e.value for kind in ("error", "success") for e in getattr(at, kind)))


def sources(at) -> list[str]:
    return [m.source for m in at.session_state["session"].models if m.classifier is not None]


def test_the_upload_bomb_is_refused_and_the_server_does_not_unpack_it(page_env, bomb):
    at = open_session()
    tracemalloc.start()
    try:
        said = upload(at, "bomb.keras", bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "Upload refused. Cannot load bomb.keras: it would unpack to more than 64 MB." in said, said
    assert sources(at) == ["default"]
    assert peak < 50 * 2**20, f"the page held {peak / 2**20:.0f} MB while refusing the bomb"


def test_uploads_beyond_the_servers_budget_are_refused_until_a_session_drops_its_own(page_env, default_model,
                                                                                      monkeypatch):
    from digitdnn.ui.state import release_session

    monkeypatch.setenv("DIGITDNN_UPLOADED_WEIGHTS_MB", str(budget_holding(default_model, 1)))
    model = default_model.read_bytes()
    first, second = open_session(), open_session()
    assert "mine.keras loaded; it is now the active model." in upload(first, "mine.keras", model)
    said = upload(second, "mine.keras", model)
    assert f"Upload refused. {FULL}" in said and sources(second) == ["default"], said
    release_session(first.session_state["session"].models, first.session_state["session"].evaluations, None)
    gc.collect()
    assert "mine.keras loaded" in upload(second, "mine.keras", model)
    assert sources(second) == ["default", "uploaded"]


def test_opened_models_count_against_the_budget_too(page_env, default_model, monkeypatch):
    from digitdnn.storage.models import load_classifier, save_classifier

    save_classifier(load_classifier(default_model), page_env / "shared.keras")
    monkeypatch.setenv("DIGITDNN_UPLOADED_WEIGHTS_MB", str(budget_holding(default_model, 1)))
    holder, other = open_session(), open_session()
    assert "mine.keras loaded" in upload(holder, "mine.keras", default_model.read_bytes())
    other.selectbox(key="saved_model").set_value("shared").run()
    other.button(key="open").click().run()
    assert f"Cannot open it. {FULL}" in shown(" ".join(e.value for e in other.error))
    assert sources(other) == ["default"]


def test_the_runs_tab_names_no_folder_of_the_server(page_env):
    at = open_tab(open_session(), "Runs and models")
    at.text_input(key="save_name").set_value("lesson-1")
    at.button(key="save").click().run()
    shown_text = texts(at) + " ".join(str(e.value) for e in at.caption)
    assert "Saved “Default model” as “lesson-1”." in shown_text, shown_text
    assert (page_env / "lesson-1.keras").is_file()
    folders = {str(page_env), str(page_env.resolve()), str(page_env.parent)}
    assert not any(folder in shown_text for folder in folders), shown_text
