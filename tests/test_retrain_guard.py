"""Poisoned corrections (issue 21, item 9; issue 24, item 3): right drawings plus many ones labelled 7 make a
fine-tune that does well on its drawings and badly on MNIST and on the ones of the browser tabs held back from it.
`digitdnn finetune` saves it only with --force; on the page the retrained model is kept as a run but neither made
active nor offered as the server's default, until the teacher uses it anyway, and the page says which model it kept
and why."""
import contextlib
import io
import itertools
import json
import re

import numpy as np
import pytest
from app_session import open_session, open_tab, texts
from pen_subset import save_small_pen
from test_app_class import KEY, table, unlock

from digitdnn.cli import main
from digitdnn.config import TrainConfig
from digitdnn.storage.drawings import DrawingStore
from digitdnn.storage.models import save_classifier
from digitdnn.training.holdout import HELD_BACK_SHARE, tab_hash
from digitdnn.training.loop import train
from digitdnn.ui import teacher_key
from digitdnn.ui.retrain_on_class_drawings import USE_ANYWAY


@pytest.fixture(scope="module", autouse=True)
def small_pen(tmp_path_factory):
    """The module's fine-tunes mix in a small pen set (a few training writers' digits), for speed."""
    path = tmp_path_factory.mktemp("pen") / "pen.npz"
    save_small_pen(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIGITDNN_PEN_DIGITS", str(path))
        yield


FELL = re.compile(r"MNIST test accuracy fell from (\d+\.\d)% to (\d+\.\d)% \(more than 1\.5 points\)")


def store_poisoned(path, mnist, right: int, ones: int) -> DrawingStore:
    """`right` MNIST training digits with their labels, then `ones` MNIST ones labelled 7 (from the end of the
    training set: not in the head that DIGITDNN_DATA_LIMIT and small_mnist take, nor in any test set)."""
    end = len(mnist.y_train)
    picked = np.concatenate([np.arange(end - right, end), np.flatnonzero(mnist.y_train[:end - right] == 1)[-ones:]])
    labels = np.concatenate([mnist.y_train[end - right:], np.full(ones, 7)]).astype(np.int64)
    export = path.parent / "poisoned.npz"  # imported in one transaction: far faster than one add() per drawing
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(export, x=mnist.x_train[picked] / np.float32(255), y=labels,
             predicted=mnist.y_train[picked].astype(np.int64))
    store = DrawingStore(path)
    store.import_npz(export)
    return store


def store_by_tab(path, mnist, *, held_tab: str, trained_tabs: list[str]) -> DrawingStore:
    """Held back by the hash (training.holdout): `held_tab` with 20 MNIST ones, rightly labelled. Trained on: 300 other
    ones labelled 7 and 100 right digits, dealt round `trained_tabs` (all from the end of MNIST's training set)."""
    end = len(mnist.y_train)
    ones = np.flatnonzero(mnist.y_train[:end - 100] == 1)[-320:]
    picked = np.concatenate([ones[-20:], ones[:-20], np.arange(end - 100, end)])
    labels = np.concatenate([np.ones(20), np.full(300, 7), mnist.y_train[end - 100:]]).astype(np.int64)
    sessions = [held_tab] * 20 + [trained_tabs[i % len(trained_tabs)] for i in range(400)]
    export = path.parent / "by-tab.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(export, x=mnist.x_train[picked] / np.float32(255), y=labels, session=np.array(sessions))
    store = DrawingStore(path)
    store.import_npz(export)
    return store


def tabs_hashed(held: bool, count: int) -> list[str]:
    """Tab ids that training.holdout holds back (held) or trains on."""
    names = (f"tab-{i}" for i in itertools.count())
    return list(itertools.islice((n for n in names if (tab_hash(n) < HELD_BACK_SHARE) == held), count))


# ---- digitdnn finetune --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def poisoned_db(tmp_path_factory, mnist):
    return store_poisoned(tmp_path_factory.mktemp("class") / "drawings.sqlite", mnist, right=100, ones=600).path


def run_finetune(*argv) -> tuple[int, str, str]:
    """`digitdnn finetune ARGV` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["finetune", *map(str, argv)])
    return status, out.getvalue(), err.getvalue()


def test_finetune_refuses_to_save_a_model_that_fell_on_mnist_unless_forced(poisoned_db, default_model, tmp_path):
    out = tmp_path / "tuned.keras"
    status, stdout, stderr = run_finetune("--drawings", poisoned_db, "--model", default_model, "--epochs", "1",
                                          "--out", out)
    assert status == 1, stdout
    (line,) = stderr.splitlines()
    assert line.startswith("digitdnn: error: MNIST test accuracy fell from ") and "--force" in line, line
    assert FELL.search(line) and "nothing saved" in line
    assert not out.exists() and not out.with_suffix(".json").exists()
    before, after = map(float, re.search(r"^MNIST test accuracy (0\.\d+) -> (0\.\d+)$", stdout, re.M).groups())
    assert after < before - 0.015  # the two figures, on stdout as always

    status, stdout, stderr = run_finetune("--drawings", poisoned_db, "--model", default_model, "--epochs", "1",
                                          "--out", out, "--force")
    assert status == 0 and stderr == "", stderr
    assert "saved anyway (--force): MNIST test accuracy fell from" in stdout and f"saved {out}" in stdout
    assert FELL.search(json.loads(out.with_suffix(".json").read_text())["used_anyway"])  # the page honours it too


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, small_mnist):
    """A network of 32 units trained one epoch on 3,000 MNIST digits: it names most ones, and unlearns them fast."""
    cfg = TrainConfig(hidden_units=(32,), optimizer="adam", learning_rate=0.003, batch_size=100, epochs=1)
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    return save_classifier(train(cfg, small_mnist).classifier, path, {"config": cfg.to_dict()})


def test_finetune_refuses_a_model_worse_on_the_tabs_held_back_unless_forced(tiny_model, mnist, tmp_path):
    (held,), trained = tabs_hashed(True, 1), tabs_hashed(False, 3)
    db = store_by_tab(tmp_path / "drawings.sqlite", mnist, held_tab=held, trained_tabs=trained).path
    out = tmp_path / "tuned.keras"
    status, stdout, stderr = run_finetune("--drawings", db, "--model", tiny_model, "--epochs", "1", "--out", out)
    assert status == 1, stdout
    assert stdout.startswith(f"fine-tuning {tiny_model} on 400 drawings mixed with MNIST and pen digits; holding "
                             "back 20 drawings from 1 tab of 4 (not trained on, to measure)")
    before, after = map(float, re.search(r"^accuracy on 20 drawings from 1 tab it did not train on (0\.\d+) -> "
                                         r"(0\.\d+)$", stdout, re.M).groups())
    assert after < before - 0.2, stdout  # the ones it learned to call 7
    (line,) = stderr.splitlines()
    assert line.startswith(f"digitdnn: error: On 20 drawings from 1 tab it did not train on, it named {after:.1%} and "
                           f"the model it started from {before:.1%}"), line
    assert "nothing saved" in line and "--force" in line
    mnist_before, mnist_after = map(float, re.search(r"^MNIST test accuracy (0\.\d+) -> (0\.\d+)$", stdout,
                                                     re.M).groups())
    assert ("MNIST" in line) == (mnist_after < mnist_before - 0.015), line  # (about 1.3 points here: not a reason)
    assert not out.exists()

    status, stdout, stderr = run_finetune("--drawings", db, "--model", tiny_model, "--epochs", "1", "--out", out,
                                          "--force")
    assert status == 0 and stderr == "", stderr
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["fine_tuned"]["drawings"] == 400
    assert card["fine_tuned"]["held_back"] == {"drawings": 20, "tabs": 1, "named_before": round(before * 20),
                                               "named_after": round(after * 20)}
    assert card["used_anyway"].startswith("on 20 drawings from 1 tab it did not train on")


# ---- the page -----------------------------------------------------------------------------------------------------

@pytest.fixture
def page(page_env, tmp_path, monkeypatch, mnist):
    """The page with a drawings database of four tabs: one held back with 20 ones, three trained on with 100 right
    drawings and 300 ones labelled 7; and a teacher key."""
    db = tmp_path / "class-data" / "drawings.sqlite"
    store_by_tab(db, mnist, held_tab=tabs_hashed(True, 1)[0], trained_tabs=tabs_hashed(False, 3))
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(db))
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "600,500")  # the retrain's share of MNIST: small, for speed
    monkeypatch.setenv(teacher_key.TEACHER_KEY_ENV, KEY)
    return open_session()


def test_a_retrain_worse_on_the_tabs_held_back_is_not_made_active_nor_offered_as_the_default(page):
    open_tab(page, "Class drawings")
    default = page.session_state["session"].models[0]
    assert "Retrain now: holding back 20 drawings from 1 tab of 4 (not trained on, to measure)." in texts(page)
    page.button(key="retrain").click().run()
    assert "holding back 20 drawings from 1 tab of 4 (not trained on, to measure)" in texts(page)
    assert page.session_state["session"].job.join(180)  # (the page's polling fragment would rerun it meanwhile)
    page.run()
    assert not page.exception, page.exception

    retrained = page.session_state["session"].models[-1]
    assert retrained.name.startswith("Run 1 (retrained on 400 class drawings): ")
    assert page.session_state["active_model"] == default.id  # kept as a run, not made active
    before_after = table(page, "before")
    assert list(before_after.index) == ["20 drawings from 1 tab (not trained on)", "MNIST test (500 images)",
                                        "400 drawings (trained on)"]
    unseen_before, unseen_after = before_after.loc["20 drawings from 1 tab (not trained on)"]
    assert unseen_after < unseen_before - 0.2  # the ones it learned to call 7
    drawings_before, drawings_after = before_after.loc["400 drawings (trained on)"]
    assert drawings_after > drawings_before  # what read as progress before
    mnist_before, mnist_after = before_after.loc["MNIST test (500 images)"]
    fell = mnist_after < mnist_before - 0.015
    sentence = (f"Kept the model you started from: on 20 drawings from 1 tab it did not train on, it named "
                f"{unseen_before:.1%} and the retrained one {unseen_after:.1%}"
                + (f", and MNIST test accuracy fell from {mnist_before:.1%} to {mnist_after:.1%} (more than 1.5 "
                   "points)." if fell else "."))
    assert [w.value for w in page.warning if w.value.startswith("Kept")] == [sentence]
    assert "not made active" in texts(page.sidebar)
    assert USE_ANYWAY not in [b.key for b in page.button]  # a student cannot use it anyway

    unlock(page, KEY)
    assert f"Not offered: {retrained.name} (on 20 drawings from 1 tab it did not train on, it named" in texts(page)
    assert "teacher_default_pick" not in [s.key for s in page.selectbox]  # the only run of this tab is held back

    page.button(key=USE_ANYWAY).click().run()
    assert page.session_state["active_model"] == retrained.id
    assert "used anyway" in texts(page) and sentence not in texts(page)
    assert page.selectbox(key="teacher_default_pick").value == retrained.id


def test_held_back_reads_a_models_own_history_and_honours_used_anyway():
    from digitdnn.ui.retrain_on_class_drawings import held_back
    from digitdnn.ui.state import SessionModel

    def entry(**metadata):
        return SessionModel(0, "m", "opened", None, metadata)

    fell = {"initial_test_accuracy": 0.9907, "test_accuracy": 0.8811}
    assert FELL.fullmatch(held_back(entry(history=fell)))
    assert held_back(entry(history=fell, used_anyway="fell, saved with --force")) is None
    assert held_back(entry(history={"initial_test_accuracy": 0.99, "test_accuracy": 0.985})) is None
    assert held_back(entry(history={"test_accuracy": 0.5})) is None  # trained from scratch: nothing to compare with
    assert held_back(entry(history={"initial_test_accuracy": "0.99", "test_accuracy": 0.5})) is None  # not a number
    held = {"initial_test_accuracy": 0.99, "test_accuracy": 0.99}
    worse = {"drawings": 40, "held_back": {"drawings": 42, "tabs": 2, "named_before": 40, "named_after": 39}}
    assert held_back(entry(history=held, fine_tuned=worse)) == ("on 42 drawings from 2 tabs it did not train on, it "
                                                                "named 92.9% and the model it started from 95.2%")
    assert held_back(entry(history=held, fine_tuned=worse, used_anyway="yes")) is None
    tie = {"held_back": {"drawings": 42, "tabs": 2, "named_before": 40, "named_after": 40}}
    assert held_back(entry(history=held, fine_tuned=tie)) is None
