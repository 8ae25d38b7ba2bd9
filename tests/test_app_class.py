"""The class teaches the network, on the page (AppTest): the correction buttons store drawings, the Class drawings
tab shows them and retrains on them, and the teacher's controls need the teacher's key."""
import io
import sqlite3

import numpy as np
import pytest
from app_session import TEST_DATA_LIMIT, drawn_canvas, open_session, open_tab, run_until, texts
from pen_subset import save_small_pen
from streamlit.testing.v1 import AppTest

from digitdnn.evaluation import evaluate
from digitdnn.imaging.preprocess import to_mnist
from digitdnn.server.key_guard import KeyGuard, wait_seconds
from digitdnn.storage.drawings import DrawingStore
from digitdnn.storage.server_default import chosen_default
from digitdnn.training.finetune import fine_tune_data
from digitdnn.ui import class_drawings, server_state, teacher_key
from digitdnn.ui.class_drawings import GALLERY_SIZE, SCORED_DRAWINGS
from testkit.clock import ManualClock

KEY = "correct horse battery staple"


@pytest.fixture
def db(tmp_path):
    return tmp_path / "class-data" / "drawings.sqlite"


@pytest.fixture
def environment(page_env, db, monkeypatch):
    """The page's settings for these tests: page_env's, a private drawings database, no teacher's key."""
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(db))
    monkeypatch.delenv(teacher_key.TEACHER_KEY_ENV, raising=False)


@pytest.fixture
def page(environment, monkeypatch) -> AppTest:
    """The page, with a canvas that returns the drawing of the digit in session_state["test_digit"] (none before)."""
    at = open_session()
    # The page has imported digitdnn.ui.draw (importing the canvas component needs a running page).
    monkeypatch.setattr("digitdnn.ui.draw.st_canvas", fake_canvas)
    return at


def fake_canvas(**kwargs):
    import streamlit as st

    digit = st.session_state.get("test_digit")
    if digit is None:
        return type("Blank", (), {"image_data": None, "json_data": {"objects": []}})()
    return drawn_canvas(digit)


def draw(at: AppTest, digit: int) -> AppTest:
    at.session_state["test_digit"] = digit
    at.run()
    assert not at.exception, at.exception
    return at


def correct(at: AppTest, label: int) -> AppTest:
    at.button(key=f"correct_{label}").click().run()
    assert not at.exception, at.exception
    return at


def stored_rows(db) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT label, predicted, probabilities, model, session, image_png FROM drawings "
                                  "ORDER BY id").fetchall()


def add_mnist_drawings(db, mnist, count: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Store `count` MNIST test images as class drawings, their labels as given; returns them."""
    x = mnist.x_test[start:start + count].astype(np.float32) / 255
    y = mnist.y_test[start:start + count].astype(int)
    store = DrawingStore(db)
    for image, label in zip(x, y, strict=True):
        store.add(image, int(label), model="test")
    return x, y


def test_presenter_mode_enlarging_the_canvas_starts_it_empty_and_says_why(page):
    """A drawing made at 280 px cannot be read at presenter mode's 420: the canvas reloads empty with a sentence,
    instead of refusing the old picture (a lesson step may switch presenter mode on under a drawing)."""
    from digitdnn.ui.draw import RESIZED

    at = draw(page, 3)
    assert "Prediction: 3" in texts(at.main)
    at.session_state["presenter"] = True
    at.run()
    session = at.session_state["session"]
    assert RESIZED in [info.value for info in at.info]
    assert session.canvas_size == 420 and session.canvas_reloads == 1 and session.canvas_reloaded_strokes == []
    assert "could not be read" not in texts(at.main)


def test_a_correction_stores_the_drawing_with_its_label(page, db):
    assert all(page.button(key=f"correct_{d}").disabled for d in range(10))  # nothing drawn, nothing to store
    assert [page.button(key=f"correct_{d}").label for d in range(10)] == [str(d) for d in range(10)]
    assert not db.exists()  # drawing and rendering never open the database

    draw(page, 3)
    assert "Prediction: 3" in texts(page)
    assert page.button(key="correct_3").proto.type == "primary"  # the guess: pressing it confirms
    assert not db.exists()
    correct(page, 5)
    assert "Stored, labelled 5 (the network said 3)" in texts(page)
    ((label, predicted, probabilities, model, session, png),) = stored_rows(db)
    assert (label, predicted, model) == (5, 3, "Default model")
    p = np.frombuffer(probabilities, "<f4")
    assert p.shape == (10,) and p.argmax() == 3 and abs(p.sum() - 1) < 1e-4
    assert len(session) == 32 and session == page.session_state["session"].drawer_id
    assert png.startswith(b"\x89PNG")
    (stored,) = DrawingStore(db).recent()
    expected = to_mnist(drawn_canvas(3).image_data)
    assert np.abs(stored.x - expected).max() <= 0.5 / 255 + 1e-6  # the 28x28 input, as 8-bit grey
    assert stored.default_predicted == 3   # what the server's default model said, beside the session's model

    correct(page, 5)  # the same drawing again: stored once
    assert "already stored, labelled 5" in texts(page) and len(stored_rows(db)) == 1
    draw(page, 7)
    assert "Stored, labelled" not in texts(page) and "already" not in texts(page)  # the message went with the drawing
    correct(page, 7)
    assert "Stored, labelled 7 (the network was right)" in texts(page)
    assert [row[:2] for row in stored_rows(db)] == [(5, 3), (7, 7)]
    assert {row[4] for row in stored_rows(db)} == {session}  # one anonymous id per session


def test_a_drawing_that_cannot_be_stored_says_so(page, db, tmp_path, monkeypatch):
    # A database folder that cannot be made (its parent is a file): opening the store fails.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(blocker / "drawings.sqlite"))
    draw(page, 2)
    correct(page, 2)
    (error,) = page.error
    assert error.value.startswith("Your drawing was NOT stored: cannot create the folder")
    assert "Stored, labelled" not in texts(page)

    # A database that opened, then its folder became unusable (here replaced by a file) before the press.
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(db))
    correct(page, 2)
    assert "Stored, labelled 2" in texts(page)
    for path in db.parent.iterdir():
        path.unlink()
    db.parent.rmdir()
    db.parent.write_text("no longer a folder")
    draw(page, 4)
    correct(page, 4)
    (error,) = page.error
    assert error.value.startswith("Your drawing was NOT stored: cannot create the folder")
    assert "is a file, not a folder" in error.value  # the real reason, not "read-only"
    assert "Stored, labelled" not in texts(page)
    assert not page.exception


def test_the_class_drawings_tab_counts_shows_and_scores_them(page, db, mnist, default_model):
    open_tab(page, "Class drawings")
    assert "No drawings yet" in texts(page)
    add_mnist_drawings(db, mnist, 5)
    page.run()
    assert page.button(key="retrain").disabled and "Off: it needs at least 10 class drawings, and there are 5." \
        in texts(page)
    add_mnist_drawings(db, mnist, 40, start=5)
    x, y = mnist.x_test[:45].astype(np.float32) / 255, mnist.y_test[:45].astype(int)
    y_stored = y.copy()
    DrawingStore(db).add(x[0], (int(y[0]) + 1) % 10, predicted=int(y[0]))  # a drawing labelled as another digit
    x, y_stored = np.concatenate([x, x[:1]]), np.append(y_stored, (y[0] + 1) % 10)
    page.run()

    counts = table(page, "0")
    assert counts.loc["drawings"].tolist() == np.bincount(y_stored, minlength=10).tolist()
    assert "46 drawings" in texts(page)

    entry = page.session_state["session"].models[0]
    evaluation = evaluate(entry.classifier, x, y_stored)
    right = int((evaluation.predicted == y_stored).sum())
    assert f"Default model: {evaluation.accuracy:.1%} named right ({right} of 46)." in [t.value for t in page.text]
    per_digit = table(page, "named right")
    assert per_digit["named right"].sum() == right and per_digit["drawings"].sum() == 46

    captions = gallery(page).captions
    assert len(captions) == GALLERY_SIZE and captions[0] == f"#46 · {y_stored[-1]} · said {y[0]}"
    assert [int(c.split()[0][1:]) for c in captions] == list(range(46, 46 - GALLERY_SIZE, -1))  # newest first
    page.segmented_control(key="class_gallery_label").set_value(7).run()
    captions = gallery(page).captions
    assert len(captions) == int((y_stored == 7).sum()) and all(c.split(" · ")[1] == "7" for c in captions)

    # Without a teacher key the teacher's controls are off, and say how to turn them on.
    assert "Teacher controls (delete, export, the server's default model) are off" in texts(page)
    assert not can_export(page) and "teacher_delete" not in [b.key for b in page.button]
    assert teacher_key.KEY_INPUT not in [t.key for t in page.text_input]


def add_rows_fast(db, count: int) -> None:
    """`count` drawings of random ink with labels 0-9 in turn, written straight into the table (one transaction)."""
    DrawingStore(db)  # the schema
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (count, 784), dtype=np.uint8)
    with sqlite3.connect(db) as connection:
        connection.executemany(
            "INSERT INTO drawings (created, label, pixels, predicted, session) VALUES (?, ?, ?, ?, ?)",
            ((f"2026-01-01T00:00:{i % 60:02d}.000+00:00", i % 10, pixels[i].tobytes(), (i + i // 7) % 10,
              f"tab-{i % 30}") for i in range(count)))


def test_the_tab_pages_many_drawings_without_loading_them_all(page, db, monkeypatch):
    total = SCORED_DRAWINGS + 2500
    add_rows_fast(db, total)
    loaded = []
    original = DrawingStore.arrays

    def counting(self, newest=None, stored=False):
        x, y = original(self, newest, stored)
        loaded.append(len(y))
        return x, y

    monkeypatch.setattr(DrawingStore, "arrays", counting)
    open_tab(page, "Class drawings")
    assert f"{total} drawings" in texts(page)
    assert table(page, "0").loc["drawings"].tolist() == [total // 10] * 10       # counted by the database
    assert loaded == [SCORED_DRAWINGS]                                           # never all of them
    assert any(f"of {SCORED_DRAWINGS})." in t.value for t in page.text)
    assert f"Scored on the newest {SCORED_DRAWINGS:,} of the {total:,} drawings." in texts(page)
    assert table(page, "named right")["drawings"].sum() == SCORED_DRAWINGS

    pages = -(-total // GALLERY_SIZE)
    (pager,) = [n for n in page.number_input if n.key == class_drawings.GALLERY_PAGE]
    assert pager.label == f"Page (of {pages:,})"
    assert [int(c.split()[0][1:]) for c in gallery(page).captions] == list(range(total, total - GALLERY_SIZE, -1))
    pager.set_value(3).run()
    newest_on_page = total - 2 * GALLERY_SIZE
    assert [int(c.split()[0][1:]) for c in gallery(page).captions] == list(
        range(newest_on_page, newest_on_page - GALLERY_SIZE, -1))
    page.segmented_control(key="class_gallery_label").set_value(4).run()   # a digit of its own: page 1 of fewer
    captions = gallery(page).captions
    assert len(captions) == GALLERY_SIZE and all(c.split(" · ")[1] == "4" for c in captions)
    assert loaded == [SCORED_DRAWINGS] * 3


def test_forged_gallery_values_are_brought_into_range(page, db):
    add_rows_fast(db, 3 * GALLERY_SIZE)
    open_tab(page, "Class drawings")
    for forged in [10**9, -5]:   # shown as the first page, the newest
        page.session_state[class_drawings.GALLERY_PAGE] = forged
        page.run()
        assert not page.exception, page.exception
        assert int(gallery(page).captions[0].split()[0][1:]) == 3 * GALLERY_SIZE, forged
    for forged in ["seven", 11, -1, True]:
        page.session_state[class_drawings.GALLERY_LABEL] = forged
        page.run()
        assert not page.exception and len(gallery(page).captions) == GALLERY_SIZE, forged


def test_one_drawing_is_one_drawing(page, db, mnist):
    add_mnist_drawings(db, mnist, 1)
    open_tab(page, "Class drawings")
    assert "**1 drawing** stored" in texts(page) and "1 drawings" not in texts(page)


def test_a_damaged_database_is_told_for_a_while_then_only_to_the_teacher(page, db, monkeypatch):
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database " * 200)
    open_tab(page, "Class drawings")
    assert class_drawings.DAMAGED_SET_ASIDE in texts(page)
    assert str(db.parent) not in texts(page)   # students are not told where the server keeps its files
    store = server_state.drawing_store()
    assert store.notice and store.noticed_at is not None
    store.noticed_at -= class_drawings.NOTICE_SECONDS
    newcomer = open_session()
    open_tab(newcomer, "Class drawings")
    assert "damaged" not in texts(newcomer)
    monkeypatch.setenv(teacher_key.TEACHER_KEY_ENV, KEY)
    newcomer.run()
    unlock(newcomer, KEY)
    assert store.notice in texts(newcomer)   # the teacher still sees it, with where the damaged file was kept


def table(at: AppTest, column: str):
    """The (one) table on the page with this column."""
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def gallery(at: AppTest):
    """The Class drawings tab's gallery (its captions start with the drawing's number)."""
    (images,) = [e for e in at.get("image") if e.captions and e.captions[0].startswith("#")]
    return images


def can_export(at: AppTest) -> bool:
    return "teacher_export" in [b.key for b in at.get("download_button")]


def unlock(at: AppTest, key: str) -> AppTest:
    at.text_input(key=teacher_key.KEY_INPUT).input(key)
    at.button[[b.label for b in at.button].index("Unlock")].click().run()
    assert not at.exception, at.exception
    return at


def test_the_teacher_key_can_come_from_the_secrets_file(page):
    page.secrets["teacher_key"] = KEY
    open_tab(page, "Class drawings")
    assert "are off" not in texts(page) and not can_export(page)
    unlock(page, KEY)
    assert "Teacher controls are on" in texts(page) and can_export(page)


def test_teacher_controls_need_the_teacher_key(page, db, mnist, monkeypatch):
    clock = ManualClock(now=1000.0)
    guard = KeyGuard(clock=clock)  # this test's own, on its clock
    monkeypatch.setattr(teacher_key, "key_guard", lambda: guard)
    monkeypatch.setenv(teacher_key.TEACHER_KEY_ENV, KEY)
    add_mnist_drawings(db, mnist, 12)
    open_tab(page, "Class drawings")
    assert "are off" not in texts(page) and not can_export(page)

    unlock(page, "guess")
    assert "Wrong key. The next try is checked after 2 s." in texts(page)
    assert not can_export(page)
    clock.now += wait_seconds(1) - 0.5
    unlock(page, KEY)  # before the wait is over: not even checked
    assert "Too many wrong keys: try again in 1 s." in texts(page) and not can_export(page)
    clock.now += 0.5
    unlock(page, "guess again")
    assert "The next try is checked after 4 s." in texts(page)
    clock.now += wait_seconds(2)
    unlock(page, KEY)
    assert "Teacher controls are on in this browser tab; 2 wrong keys were tried since you last unlocked." in \
        texts(page) and can_export(page)

    page.multiselect(key="teacher_delete_ids").set_value([12, 11]).run()
    page.segmented_control(key="class_gallery_label").set_value(9).run()  # drawings 8 and 10 only
    assert not page.exception and page.multiselect(key="teacher_delete_ids").value == []
    page.segmented_control(key="class_gallery_label").set_value("all").run()
    page.multiselect(key="teacher_delete_ids").set_value([12, 11]).run()
    page.button(key="teacher_delete").click().run()
    assert "Deleted 2 drawings." in texts(page) and DrawingStore(db).count() == 10
    assert [d.id for d in DrawingStore(db).recent()] == list(range(10, 0, -1))
    assert page.button(key="teacher_delete_all").disabled
    page.checkbox(key="teacher_confirm_delete_all").check().run()
    page.button(key="teacher_delete_all").click().run()
    assert "Deleted 10 drawings." in texts(page) and DrawingStore(db).count() == 0

    page.button(key="teacher_lock").click().run()
    assert not can_export(page) and "Teacher key" in [t.label for t in page.text_input]


def test_export_holds_every_drawing(environment, db, mnist):
    from digitdnn.ui.teacher_controls import export_bytes

    x, y = add_mnist_drawings(db, mnist, 5)
    with np.load(io.BytesIO(export_bytes(DrawingStore(db))), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["y"], y)
        assert np.abs(npz["x"] - x).max() <= 0.5 / 255 + 1e-6


def test_retrain_on_class_drawings_makes_a_new_run_and_the_teacher_can_make_it_the_default(
        page, db, mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "600,500")  # the retrain's share of MNIST: small, for speed
    save_small_pen(tmp_path / "pen.npz")  # the retrain's pen digits: a few, for speed
    monkeypatch.setenv("DIGITDNN_PEN_DIGITS", str(tmp_path / "pen.npz"))
    x, y = add_mnist_drawings(db, mnist, 30, start=1000)
    open_tab(page, "Class drawings")
    default = page.session_state["session"].models[0]

    # Through the same machinery as any run: the server's queue, a child process, Stop in the sidebar.
    page.button(key="retrain").click().run()
    job = page.session_state["session"].job
    assert job.separate_process and job.queue is not None and job.initial is default.classifier
    assert job.name == "Run 1 (retrained on 30 class drawings)"
    assert page.button(key="retrain").disabled and page.button(key="stop").disabled is False
    page.button(key="stop").click().run()
    run_until(page, lambda at: at.session_state["session"].job is None)
    assert page.session_state["active_model"] == default.id or \
        page.session_state["session"].models[-1].history.get("status") == "stopped"

    page.session_state["active_model"] = default.id
    page.run()
    page.button(key="retrain").click().run()
    job = page.session_state["session"].job
    assert job.join(120)  # (the page's polling fragment would rerun the page meanwhile)
    page.run()
    retrained = page.session_state["session"].models[-1]
    assert retrained.source == "trained" and retrained.name.startswith("Run 2 (retrained on 30 class drawings): ")
    # The same mix as `digitdnn finetune`: MNIST's sample, the training writers' pen digits and the drawings.
    mix = fine_tune_data(x, y, mnist.head(600, 500))
    assert "pen-digit drawings" in mix.source and job.progress().train_images == len(mix.y_train)
    assert page.session_state["active_model"] == retrained.id
    history = retrained.history
    assert history["status"] == "completed" and history["initial_test_accuracy"] is not None

    before_after = table(page, "before")
    assert list(before_after.index) == ["MNIST test (500 images)", "30 drawings (trained on)"]  # no tab held back
    assert before_after.loc["30 drawings (trained on)", "before"] == pytest.approx(
        evaluate(default.classifier, x, y).accuracy)
    assert before_after.loc["30 drawings (trained on)", "after"] == pytest.approx(
        evaluate(retrained.classifier, x, y).accuracy)
    mnist_before, mnist_after = before_after.loc["MNIST test (500 images)"]
    assert [s.value for s in page.success if s.value.startswith("Kept")] == [
        "Kept the retrained model: nothing was held back to measure it (none of the drawings records the browser tab "
        f"it came from), and MNIST test accuracy held ({mnist_before:.1%} before, {mnist_after:.1%} after)."]
    test = mnist.head(None, 500)
    # (the run measured it with TensorFlow, this with numpy: their sums may differ on one borderline image)
    assert before_after.loc["MNIST test (500 images)", "before"] == pytest.approx(
        evaluate(default.classifier, test.x_test, test.y_test).accuracy, abs=1.01 / 500)
    assert before_after.loc["MNIST test (500 images)", "after"] == pytest.approx(history["test_accuracy"])
    assert before_after.loc["MNIST test (500 images)", "after"] > 0.9

    # The teacher makes it the default of new sessions; sessions open already keep theirs.
    monkeypatch.setenv(teacher_key.TEACHER_KEY_ENV, KEY)
    page.run()
    unlock(page, KEY)
    page.selectbox(key="teacher_default_pick").set_value(retrained.id).run()
    page.button(key="teacher_make_default").click().run()
    assert "New sessions now start with the chosen model" in texts(page)
    chosen = chosen_default(tmp_path / "models")
    assert chosen is not None and chosen.parent == tmp_path / "models"
    newcomer = open_session()
    (start,) = newcomer.session_state["session"].models
    probe = mnist.x_test[:20] / np.float32(255)
    np.testing.assert_allclose(start.classifier.predict_proba(probe), retrained.classifier.predict_proba(probe),
                               atol=1e-5)
    page.button(key="teacher_forget_default").click().run()
    assert chosen_default(tmp_path / "models") is None
    (start,) = open_session().session_state["session"].models
    np.testing.assert_allclose(start.classifier.predict_proba(probe), default.classifier.predict_proba(probe))


def test_train_can_include_the_class_drawings(page, db, mnist):
    page.checkbox(key="with_class_drawings").check().run()
    page.button(key="train").click().run()
    assert "Cannot train: the class has stored no drawings yet" in texts(page.sidebar)
    add_mnist_drawings(db, mnist, 25, start=2000)
    page.selectbox(key="preset").set_value("Tiny").run()
    page.slider(key="epochs").set_value(1).run()
    page.button(key="train").click().run()
    run_until(page, lambda at: at.session_state["session"].job is None)
    run = page.session_state["session"].models[-1]
    assert run.name.startswith("Run 1 (+25 class drawings): ")
    n_train = int(TEST_DATA_LIMIT.split(",")[0])
    assert run.metadata["train_images"] > n_train  # all of the slice, and the drawings (repeated) on top
