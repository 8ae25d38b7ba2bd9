"""The page keeps what it says: a name saved by two sessions at once, accuracies of the weights kept,
user text shown as plain text, a run stopped before its first epoch, address values refused plainly;
and what it keeps is bounded: a session's weights, a closed session's, the saved-models folder."""
import threading

import pytest
from app_session import open_session, run_until
from markdown_text import shown
from streamlit.testing.v1 import AppTest


def notices(at: AppTest) -> str:
    return shown(" ".join(str(e.value) for kind in ("success", "error") for e in getattr(at, kind)))


def test_two_sessions_saving_one_name_at_once_one_is_told_it_is_taken(page_env):
    sessions = [open_session(), open_session()]
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


class FinishedJob:
    """A finished training job as the page reads it (name, config, progress()), with the result given."""

    def __init__(self, history, classifier):
        from digitdnn.training.jobs import JobProgress
        from digitdnn.training.loop import TrainResult

        self.name, self.config = "Run 1", history.config
        self._progress = JobProgress(status=history.status, message=history.message, epoch=len(history.epochs),
                                     epochs=history.config.epochs, result=TrainResult(classifier, history),
                                     train_images=2000, data_fingerprint="test")

    def progress(self):
        return self._progress


def worse_at_the_end():
    """A completed 3-epoch run whose best epoch (2: 90%) is better than its last (3: 70%, the weights kept)."""
    from digitdnn.config import TrainConfig
    from digitdnn.model import Classifier, build_model
    from digitdnn.training.loop import EpochReport, History

    cfg = TrainConfig(hidden_units=(16,), optimizer="sgd", learning_rate=0.5, batch_size=16, epochs=3)
    history = History(cfg, [EpochReport(epoch, 3, 0.8, 0.5, accuracy, 0.5, 1.0, 0.1)
                            for epoch, accuracy in ((1, 0.8), (2, 0.9), (3, 0.7))], "completed", "completed 3 epochs")
    return history, Classifier(build_model(cfg))


def test_a_run_worse_at_the_end_shows_and_saves_the_accuracy_of_the_weights_kept(page_env):
    from digitdnn.ui.state import Session

    at = open_session(state={"session": Session(job=FinishedJob(*worse_at_the_end()))})
    said = shown(" ".join(e.value for e in at.sidebar.success))
    assert "Run 1 completed 3 epochs: test accuracy 70.00% (the weights after epoch 3" in said, said
    assert "epoch 2 had 90.00%" in said
    frame = at.dataframe[0].value
    assert "best test accuracy" not in frame.columns
    assert list(frame["test accuracy"])[-1] == pytest.approx(0.7)

    at.text_input(key="save_name").set_value("worse-at-the-end")
    at.button(key="save").click()
    at.run()
    from digitdnn.storage.models import read_metadata

    assert read_metadata(page_env / "worse-at-the-end.keras")["test_accuracy"] == pytest.approx(0.7)
    at.selectbox(key="saved_model").set_value("worse-at-the-end")
    assert "worse-at-the-end (70.00%)" in at.selectbox(key="saved_model").options


def test_a_save_named_like_the_servers_default_choice_leaves_that_choice(page_env, default_model):
    from digitdnn.storage.models import load_classifier, save_classifier
    from digitdnn.storage.server_default import POINTER_FILE, choose_default, chosen_default

    chosen = save_classifier(load_classifier(default_model), page_env / "class-default-1.keras")
    choose_default(page_env, chosen)
    pointer = (page_env / POINTER_FILE).read_bytes()
    at = open_session()
    at.text_input(key="save_name").set_value("server-default")
    at.button(key="save").click()
    at.run()
    assert "Not saved. The name “server-default” is reserved" in notices(at), notices(at)
    assert (page_env / POINTER_FILE).read_bytes() == pointer
    assert chosen_default(page_env) == chosen
    assert open_session().session_state["session"].models[0].metadata == load_classifier(chosen).metadata
    assert sorted(p.name for p in page_env.iterdir()) == ["class-default-1.json", "class-default-1.keras", POINTER_FILE]


def test_the_default_model_row_shows_what_its_weights_score(page_env, default_model, mnist):
    from digitdnn.storage.models import load_classifier

    at = open_session()
    shown = at.dataframe[0].value["test accuracy"][0]
    classifier = load_classifier(default_model)
    measured = (classifier.predict_proba(mnist.x_test.astype("float32") / 255).argmax(1) == mnist.y_test).mean()
    assert shown == pytest.approx(measured, abs=1e-4)


def test_a_run_stopped_before_its_first_epoch_leaves_the_active_model(page_env, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "20000,500")  # an epoch far longer than it takes to press Stop
    at = open_session({"batch": "16"})
    default_id = at.session_state["active_model"]
    at.button(key="train").click()
    at.run()
    run_until(at, lambda at: at.session_state["session"].job.progress().status == "training")
    at.button(key="stop").click()
    at.run()
    run_until(at, lambda at: at.session_state["session"].job is None)
    said = shown(" ".join(e.value for e in at.sidebar.info))
    assert "Run 1 stopped during epoch 1" in said and "no model to keep" in said, said
    assert [m.source for m in at.session_state["session"].models] == ["default"]
    assert at.session_state["active_model"] == default_id


HOSTILE_ADDRESS = {"optimizer": "[Log in here](http://ev.il)", "activation": "![x](http://host/p.png)",
                   "[k](http://ev.il/a)": "1", "units": "www.ev.il", "seed": ":red[mail] me@ev.il"}
HOSTILE_FILE = "![x](http://host/p.png) [Log in](http://ev.il).keras"


def rendered_markdown(at: AppTest) -> list[str]:
    """The Markdown bodies of every element that reads Markdown: text, alerts, and widget and option labels."""
    bodies = [str(e.value) for kind in ("title", "markdown", "caption", "success", "info", "warning", "error")
              for e in getattr(at, kind)]
    bodies += [w.label for kind in ("button", "radio", "selectbox", "text_input", "slider") for w in getattr(at, kind)]
    bodies += [option for radio in at.radio for option in radio.options]
    bodies += [e.proto.label for e in at.get("download_button")]
    return bodies


def test_names_and_values_people_send_show_as_plain_text(page_env, default_model):
    from markdown_text import active_links

    at = open_session(HOSTILE_ADDRESS)
    (warning,) = at.sidebar.warning
    assert "“[Log in here](http://ev.il)” is not one of" in shown(warning.value)
    at.file_uploader(key="upload").set_value((HOSTILE_FILE, b"not a model", "application/octet-stream"))
    at.run()
    assert f"Cannot load {HOSTILE_FILE}" in shown(" ".join(e.value for e in at.error))
    at.file_uploader(key="upload").set_value((HOSTILE_FILE, default_model.read_bytes(), "application/octet-stream"))
    at.run()
    assert f"Download “Upload: {HOSTILE_FILE}”" in shown(at.get("download_button")[0].proto.label)
    bodies = rendered_markdown(at)
    assert sum(HOSTILE_FILE in shown(body) for body in bodies) >= 3  # the notice, the picker, the download button
    assert [(body, active_links(body)) for body in bodies if active_links(body)] == []


def test_a_parameter_repeated_in_the_address_is_refused_with_a_message(page_env):
    at = open_session({"epochs": ["3", "7"]})
    assert "Parameter “epochs”: given 2 times; the default is used." in shown(at.sidebar.warning[0].value)


def test_the_runs_list_says_a_reload_loses_them(page_env):
    at = open_session()
    assert any("reloading or closing the page loses them" in c.value for c in at.caption)


def test_a_session_keeps_the_weights_of_its_newest_models_only(page_env, default_model):
    from digitdnn.ui.state import KEPT_WEIGHTS

    at = open_session()
    for number in range(KEPT_WEIGHTS + 2):
        at.file_uploader(key="upload").set_value((f"m{number}.keras", default_model.read_bytes(), "application/x"))
        at.run()
    models = at.session_state["session"].models
    assert [m.source for m in models] == ["default"] + ["uploaded"] * (KEPT_WEIGHTS + 2)
    assert [m.classifier is not None for m in models] == [True, False, False] + [True] * KEPT_WEIGHTS
    frame = at.dataframe[0].value
    assert list(frame["weights"])[1:3] == ["released (record only)"] * 2
    assert [shown(o) for o in at.radio(key="active_model").options] == [m.name for m in models if m.classifier]
    assert at.session_state["active_model"] == models[-1].id


def test_releasing_a_closed_session_keeps_only_the_shared_default():
    from types import SimpleNamespace

    from digitdnn.ui.state import SessionModel, release_session

    models = [SessionModel(1, "Default model", "default", "shared"), SessionModel(2, "Run 1", "trained", "weights"),
              SessionModel(3, "Upload", "uploaded", "weights")]
    evaluations = {(2, 500): "scores", (1, 500): "scores"}
    discarded = []
    release_session(models, evaluations, SimpleNamespace(discard=lambda: discarded.append(True)))
    assert [m.classifier for m in models] == ["shared", None, None]
    assert list(evaluations) == [(1, 500)] and discarded == [True]


def test_a_model_larger_than_a_saved_model_may_be_is_refused_plainly(page_env, monkeypatch):
    monkeypatch.setenv("DIGITDNN_MODEL_MAX_MB", "1")
    at = open_session()
    at.text_input(key="save_name").set_value("too-big")
    at.button(key="save").click()
    at.run()
    said = shown(" ".join(e.value for e in at.error))
    assert "Not saved. This model takes" in said and "more than the 1 MB a saved model may take here." in said, said
    assert not page_env.exists() or list(page_env.iterdir()) == []


def test_a_closed_session_leaves_no_weights_behind(page_env, monkeypatch):
    import gc
    import weakref

    from digitdnn.ui import server_state

    page = {"open": True}
    monkeypatch.setattr(server_state, "session_still_open", lambda: lambda: page["open"])
    at = open_session({"units": "16", "epochs": "1"})
    at.button(key="train").click()
    at.run()
    stale = at.session_state["session"].watched  # as Streamlit keeps a session's earlier values till its next run
    run_until(at, lambda at: at.session_state["session"].job is None)
    (run,) = [m for m in at.session_state["session"].models if m.source == "trained"]
    weights = weakref.ref(run.classifier)
    del run
    page["open"] = False
    sweeper = server_state.session_sweeper()
    monkeypatch.setattr(sweeper, "after", 0.0)
    sweeper.sweep()
    gc.collect()
    assert stale.job is not None and weights() is None, [type(r).__name__ for r in gc.get_referrers(weights())]
    assert [m.classifier is None for m in at.session_state["session"].models] == [False, True]  # the default kept


@pytest.mark.parametrize(("message", "shown_as"), [
    ("Cannot create the folder for the drawings database /srv/class/data/drawings.sqlite: Permission denied",
     "Cannot create the folder for the drawings database drawings.sqlite: Permission denied"),
    ("No default model (/home/teacher/default.keras): damaged", "No default model (default.keras): damaged"),
    ("cache ~/.cache/digitdnn/mnist.npz unreadable", "cache mnist.npz unreadable"),
    ("the folder /srv/models/ is full", "the folder a folder is full"),
    ("3/4 of the drawings and http://host/page stay", "3/4 of the drawings and http://host/page stay"),
])
def test_server_messages_reach_a_browser_without_the_servers_folders(message, shown_as):
    from digitdnn.ui.text import without_paths

    assert without_paths(message) == shown_as
