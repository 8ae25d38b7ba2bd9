"""The page keeps what it says: a name saved by two sessions at once, accuracies of the weights kept,
user text shown as plain text, a run stopped before its first epoch."""
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture
def page_env(default_model, tmp_path, monkeypatch) -> Path:
    """The test default model, a small data slice and a private models folder (returned)."""
    monkeypatch.setenv("DIGITDNN_DEFAULT_MODEL", str(default_model))
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "2000,500")
    monkeypatch.setenv("DIGITDNN_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def opened_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at


def notices(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("success", "error") for e in getattr(at, kind))


def test_two_sessions_saving_one_name_at_once_one_is_told_it_is_taken(page_env):
    sessions = [opened_page(), opened_page()]
    for at in sessions:
        at.text_input(key="save_name").set_value("shared")
        at.button(key="save").click()
    threads = [threading.Thread(target=at.run) for at in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    said = [notices(at) for at in sessions]
    assert sorted("Saved" in text for text in said) == [False, True], said
    assert any("“shared” is taken" in text for text in said), said
    assert sorted(p.name for p in page_env.iterdir()) == ["shared.json", "shared.keras"]
