"""What a client that forges the page's widget values can reach: the page served by `streamlit run app.py`, driven
over its own websocket protocol (testkit.forged_client) with values the page never offers."""
import pytest
from markdown_text import shown

from testkit.forged_client import forged_page
from testkit.server import running_server

LISTED = "good"  # the one saved model in the server's models folder
ACTIVE_DEFAULT = "Default model"  # how the caption above the network's view names the model a new session starts with


@pytest.fixture(scope="module")
def store(default_model, tmp_path_factory):
    """A page server whose models folder lists one model, beside a private model, a folder named like a model and
    a file that is not a model."""
    from digitdnn.storage.models import load_classifier, save_classifier

    folder = tmp_path_factory.mktemp("forged")
    models, private = folder / "models", folder / "private"
    save_classifier(load_classifier(default_model), models / f"{LISTED}.keras")
    save_classifier(load_classifier(default_model), private / "exam.keras")
    (models / "trap.keras").mkdir()
    (models / "notes.txt").write_text("not a model")
    with running_server(folder, timeout=60, DIGITDNN_DEFAULT_MODEL=str(default_model)) as server:
        yield server.url, models, private


def opened_with(url: str, value: str) -> list[str]:
    """The texts a new session shows after pressing Open with `saved_model` forged to `value`."""
    with forged_page(url) as page:
        return [shown(text) for text in page.press("open", saved_model=value)]


def test_a_listed_model_opens_by_its_name(store):
    url, _, _ = store
    texts = opened_with(url, LISTED)
    assert f"Opened “{LISTED}”; it is now the active model." in texts, texts
    assert any(text.lstrip("*").startswith(f"Saved: {LISTED}") for text in texts), texts  # the caption of the view


def test_any_other_value_opens_nothing_and_gets_one_answer(store):
    from digitdnn.ui.runs_and_models import NOT_LISTED

    url, models, private = store
    refused = [str(private / "exam.keras"), str(private / "exam"), "../private/exam", "../private/exam.keras",
               str(models / f"{LISTED}.keras"), f"{LISTED}.keras", f"./{LISTED}", "trap", "trap.keras",
               str(models), "notes", "notes.txt", "nobody", "/etc/passwd", "/proc/self/environ", "../x", ".",
               f"{LISTED}/", f"{LISTED}\x00"]
    with forged_page(url) as page:
        before = [shown(text) for text in page.texts()]
    answers = {}
    for value in refused:
        texts = opened_with(url, value)
        assert not any(text.startswith("Opened") for text in texts), (value, texts)
        assert any(text.startswith(f"**{ACTIVE_DEFAULT}**") for text in texts), (value, texts)
        answers[value] = tuple(text for text in texts if text not in before)
    assert set(answers.values()) == {(NOT_LISTED,)}, answers
