"""Poisoned corrections (issue 21, item 9): right drawings plus many ones labelled 7 make a fine-tune that does well
on its drawings and badly on MNIST. `digitdnn finetune` saves it only with --force; on the page the retrained model
is kept as a run but neither made active nor offered as the server's default, until the teacher uses it anyway."""
import contextlib
import io
import json
import re

import numpy as np
import pytest
from app_session import open_session, open_tab, texts
from test_app_class import KEY, table, unlock

from digitdnn.cli import main
from digitdnn.storage.drawings import DrawingStore
from digitdnn.ui import teacher_key
from digitdnn.ui.retrain_on_class_drawings import USE_ANYWAY

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


# ---- the page -----------------------------------------------------------------------------------------------------

@pytest.fixture
def page(page_env, tmp_path, monkeypatch, mnist):
    """The page with a drawings database of 100 right drawings and 300 ones labelled 7, and a teacher key."""
    db = tmp_path / "class-data" / "drawings.sqlite"
    store_poisoned(db, mnist, right=100, ones=300)
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(db))
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "600,500")  # the retrain's share of MNIST: small, for speed
    monkeypatch.setenv(teacher_key.TEACHER_KEY_ENV, KEY)
    return open_session()


def test_a_poisoned_retrain_is_not_made_active_nor_offered_as_the_default(page):
    open_tab(page, "Class drawings")
    default = page.session_state["session"].models[0]
    page.button(key="retrain").click().run()
    assert page.session_state["session"].job.join(180)  # (the page's polling fragment would rerun it meanwhile)
    page.run()
    assert not page.exception, page.exception

    retrained = page.session_state["session"].models[-1]
    assert retrained.name.startswith("Run 1 (retrained on 400 class drawings): ")
    assert page.session_state["active_model"] == default.id  # kept as a run, not made active
    before_after = table(page, "before")
    mnist_before, mnist_after = before_after.loc["MNIST test (500 images)"]
    assert mnist_after < mnist_before - 0.015
    drawings_before, drawings_after = before_after.loc["the class's 400 drawings (trained on)"]
    assert drawings_after > drawings_before  # what reads as progress
    warning = (f"MNIST test accuracy fell from {mnist_before:.1%} to {mnist_after:.1%} (more than 1.5 points): the "
               "retrained model was not made active. Check the class's drawings for wrong labels.")
    assert [w.value for w in page.warning if w.value.startswith("MNIST")] == [warning]
    assert "not made active" in texts(page.sidebar)
    assert USE_ANYWAY not in [b.key for b in page.button]  # a student cannot use it anyway

    unlock(page, KEY)
    assert f"Not offered: {retrained.name}" in texts(page)
    assert "teacher_default_pick" not in [s.key for s in page.selectbox]  # the only run of this tab is held back

    page.button(key=USE_ANYWAY).click().run()
    assert page.session_state["active_model"] == retrained.id
    assert "used anyway" in texts(page) and warning not in texts(page)
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
