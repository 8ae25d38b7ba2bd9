"""The class's drawings database: what goes in comes out, many writers at once, and every way a file goes bad."""
import ctypes
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from digitdnn.storage.drawings import SCHEMA_VERSION, DrawingStore, DrawingStoreError, default_drawings_path

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


def image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


def run_python(code: str, *, preexec_fn=None, timeout=60) -> subprocess.CompletedProcess:
    """`python -c CODE` from the project folder (so this checkout's digitdnn is imported)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec_fn)


def without_permission_override():
    """In a child: drop root's right to ignore file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone after exec
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request, tmp_path):
    """new_store(): a new, empty drawings store of the backend under test; the contract tests run on both (the
    PostgreSQL one skips, saying why, where PostgreSQL is not installed)."""
    opened = []

    def make():
        if request.param == "sqlite":
            opened.append(DrawingStore(tmp_path / f"class{len(opened) or ''}" / "drawings.sqlite"))
            return opened[-1]
        from digitdnn.storage.pg.database import PgDatabase
        from digitdnn.storage.pg.drawings import PgDrawingStore

        url = request.getfixturevalue("postgres_url")
        if opened:  # another database on the same server
            url = request.getfixturevalue("postgres_server").create_database(f"{url.rsplit('/', 1)[1]}_{len(opened)}")
        opened.append(PgDrawingStore(PgDatabase(url)))
        return opened[-1]

    yield make
    for store in opened:
        if request.param == "postgresql":
            store.db.close()


@pytest.fixture
def store(new_store):
    return new_store()


# what only a file can do: journals, file modes, deleted files, locks between processes
sqlite_only = pytest.mark.parametrize("new_store", ["sqlite"], indirect=True)


# ---- what goes in comes out ----------------------------------------------------------------------------------

def test_a_new_store_is_created_with_its_folders_in_wal_mode(tmp_path):
    path = tmp_path / "a" / "b" / "drawings.sqlite"
    store = DrawingStore(path)
    assert path.is_file() and store.count() == 0 and store.notice is None
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_default_path_is_class_data_or_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("DIGITDNN_DRAWINGS_DB", raising=False)
    assert default_drawings_path() == Path("class-data/drawings.sqlite")
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(tmp_path / "x.sqlite"))
    assert default_drawings_path() == tmp_path / "x.sqlite"
    DrawingStore().add(image(0), 4)
    assert DrawingStore(tmp_path / "x.sqlite").count() == 1


def test_drawings_come_back_oldest_first_to_within_one_grey_level(store):
    xs = [image(i) for i in range(5)]
    ids = [store.add(x, label) for x, label in zip(xs, [3, 1, 4, 1, 5], strict=True)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    x, y = store.arrays()
    assert x.dtype == np.float32 and x.shape == (5, 28, 28) and y.tolist() == [3, 1, 4, 1, 5]
    assert np.abs(x - np.stack(xs)).max() <= 0.5 / 255 + 1e-6
    assert store.count() == 5 and store.counts().tolist() == [0, 2, 0, 1, 1, 1, 0, 0, 0, 0]


def test_arrays_up_to_an_id_leave_out_the_drawings_stored_after_it(store):
    """A run reads the drawings as they were when it was asked for (up_to: the newest id then), whatever the class
    stored since: the page's counts and a worker's data agree."""
    ids = [store.add(image(i), i, session=f"tab{i % 2}") for i in range(5)]
    x, y, tabs = store.arrays_with_tabs(up_to=ids[2])
    assert y.tolist() == [0, 1, 2] and tabs.tolist() == ["tab0", "tab1", "tab0"] and x.shape == (3, 28, 28)
    x, y, tabs = store.arrays_with_tabs(newest=2, stored=True, up_to=ids[3])
    assert y.tolist() == [2, 3] and x.dtype == np.uint8
    assert store.arrays_with_tabs(up_to=ids[-1] + 100)[1].tolist() == [0, 1, 2, 3, 4]
    assert len(store.arrays_with_tabs(up_to=0)[1]) == 0
    for bad in (-1, "3", 2.0, True):
        with pytest.raises(ValueError, match="up_to"):
            store.arrays_with_tabs(up_to=bad)


def test_recent_is_newest_first_by_label_with_metadata(store):
    probabilities = np.linspace(0, 1, 10, dtype=np.float32) / 4.5
    first = store.add(image(1), 7, predicted=1, probabilities=probabilities, model="default", session="s1",
                      image_png=PNG)
    second = store.add(image(2), 7)
    store.add(image(3), 2)
    sevens = store.recent(label=7)
    assert [d.id for d in sevens] == [second, first]
    old = sevens[1]
    assert (old.label, old.predicted, old.model, old.session) == (7, 1, "default", "s1")
    np.testing.assert_allclose(old.probabilities, probabilities)
    assert old.time.endswith("+00:00") and old.x.shape == (28, 28)
    assert sevens[0].predicted is None and sevens[0].probabilities is None
    assert [d.label for d in store.recent(limit=2)] == [2, 7]


@pytest.mark.parametrize("kwargs, field", [
    ({"x": np.zeros((28, 27), np.float32)}, "x"),
    ({"x": np.zeros((28, 28), np.uint8)}, "x"),
    ({"x": np.full((28, 28), 1.5, np.float32)}, "x"),
    ({"x": np.full((28, 28), np.nan, np.float32)}, "x"),
    ({"label": 10}, "label"),
    ({"label": "3"}, "label"),
    ({"label": True}, "label"),
    ({"predicted": -1}, "predicted"),
    ({"probabilities": np.full(9, 0.1)}, "probabilities"),
    ({"probabilities": [np.inf] + [0.0] * 9}, "probabilities"),
    ({"model": 3}, "model"),
    ({"session": "s" * 1000}, "session"),
    ({"image_png": b"GIF89a"}, "image_png"),
])
def test_bad_input_is_refused_naming_the_field(store, kwargs, field):
    args = {"x": image(0), "label": 3, **kwargs}
    with pytest.raises(ValueError, match=field):
        store.add(args.pop("x"), args.pop("label"), **args)
    assert store.count() == 0


def test_delete_some_then_all(store):
    ids = [store.add(image(i), i % 10) for i in range(6)]
    assert store.delete([ids[0], ids[3], 10**9]) == 2
    assert [d.id for d in store.recent()] == [ids[5], ids[4], ids[2], ids[1]]
    assert store.delete_all() == 4 and store.count() == 0
    with pytest.raises(ValueError, match="ids"):
        store.delete(["1"])


def test_tabs_count_each_browser_tab_and_its_disagreements_most_suspicious_first(store):
    store.add(image(0), 7, session="honest", predicted=7, default_predicted=7)
    store.add(image(1), 3, session="honest", predicted=3)                       # no default answer: the session's
    store.add(image(2), 7, session="poisoner", predicted=7, default_predicted=1)  # own model agrees, default not
    store.add(image(3), 7, session="poisoner", predicted=1)
    store.add(image(4), 1, session="poisoner", predicted=1, default_predicted=1)
    store.add(image(5), 4, session="one-off", default_predicted=9)
    store.add(image(6), 2)                                                       # no session, no answer
    tabs = store.tabs()
    assert [(t.session, t.drawings, t.disagreeing) for t in tabs] == [
        ("one-off", 1, 1), ("poisoner", 3, 2), ("honest", 2, 0), ("", 1, 0)]
    newest = store.recent(limit=10)
    assert tabs[1].last == max(d.time for d in newest if d.session == "poisoner")
    assert store.recent(limit=1)[0].default_predicted is None and newest[1].default_predicted == 9


def test_tabs_that_tie_are_ordered_by_their_names_as_bytes(store):
    for session in ["é", "a", "Z", "B"]:
        store.add(image(0), 1, session=session)
    assert [t.session for t in store.tabs()] == ["B", "Z", "a", "é"]


def test_tabs_are_counted_by_the_database_not_by_loading_rows(store, monkeypatch):
    store.add(image(0), 1, session="a")
    module = sys.modules[type(store).__module__]
    monkeypatch.setattr(module, "drawing_from_row", None)
    monkeypatch.setattr(module, "pixels_to_images", None)
    assert [(t.session, t.drawings) for t in store.tabs()] == [("a", 1)]


def test_delete_tab_deletes_only_that_tabs_drawings(store):
    for i, session in enumerate(["a", "b", "a", None, "a"]):
        store.add(image(i), i, session=session, image_png=PNG)
    assert store.delete_tab("a") == 3
    assert sorted(d.session or "" for d in store.recent()) == ["", "b"]
    assert store.delete_tab("a") == 0 and store.delete_tab("") == 1
    assert [t.session for t in store.tabs()] == ["b"]
    with pytest.raises(ValueError, match="session"):
        store.delete_tab(None)


def test_a_version_1_file_is_upgraded_on_opening_and_keeps_its_drawings(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:   # the schema of version 1, as the first release wrote it
        db.executescript("""
            CREATE TABLE drawings (
                id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL,
                label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
                pixels BLOB NOT NULL CHECK (length(pixels) = 784),
                predicted INTEGER CHECK (predicted BETWEEN 0 AND 9),
                probabilities BLOB CHECK (length(probabilities) = 40),
                model TEXT, session TEXT, image_png BLOB);
            CREATE INDEX drawings_by_label ON drawings (label, id);
            PRAGMA user_version = 1;""")
        db.execute("INSERT INTO drawings (created, label, pixels, predicted, session) VALUES (?, 5, ?, 3, 'old')",
                   ("2026-01-01T00:00:00.000+00:00", bytes(784)))
    store = DrawingStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    (old,) = store.recent()
    assert (old.label, old.predicted, old.default_predicted, old.session) == (5, 3, None, "old")
    store.add(image(0), 5, session="new", default_predicted=5)
    assert [(t.session, t.disagreeing) for t in store.tabs()] == [("old", 1), ("new", 0)]
    with pytest.raises(ValueError, match="default_predicted"):
        store.add(image(0), 5, default_predicted=10)
    with pytest.raises(sqlite3.IntegrityError):   # the new column is checked by the table too
        with sqlite3.connect(path) as db:
            db.execute("UPDATE drawings SET default_predicted = 11")


def test_the_database_and_its_journal_are_readable_by_the_owner_only(tmp_path):
    path = tmp_path / "private" / "drawings.sqlite"
    store = DrawingStore(path)
    with sqlite3.connect(path) as reader:     # an open reader keeps the WAL and shared-memory files in place
        reader.execute("SELECT count(*) FROM drawings").fetchone()
        store.add(image(0), 1)
        side_files = [Path(str(path) + suffix) for suffix in ("-wal", "-shm")]
        assert all(side.exists() for side in side_files)
        for file in [path, *side_files]:
            assert file.stat().st_mode & 0o777 == 0o600, file


@sqlite_only
def test_deleted_drawings_leave_no_copy_in_the_file(store):
    marker = b"a-very-recognisable-session-id"
    store.add(image(0), 1, session=marker.decode(), image_png=PNG)
    store.delete_all()
    on_disk = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.is_file())
    assert marker not in on_disk


def test_export_and_import_round_trip(store, new_store, tmp_path):
    store.add(image(1), 8, predicted=3, probabilities=np.full(10, 0.1), model="m", session="s", image_png=PNG,
              default_predicted=8)
    store.add(image(2), 0)
    assert store.export(tmp_path / "out" / "class.npz") == 2
    with np.load(tmp_path / "out" / "class.npz", allow_pickle=False) as npz:
        assert npz["y"].tolist() == [8, 0] and npz["predicted"].tolist() == [3, -1]
        assert npz["default_predicted"].tolist() == [8, -1]
        assert npz["model"].tolist() == ["m", ""] and np.isnan(npz["probabilities"][1]).all()
        offsets = npz["png_offsets"]
        assert npz["png_bytes"][offsets[0]:offsets[1]].tobytes() == PNG and offsets[2] == offsets[1]

    other = new_store()
    assert other.import_npz(tmp_path / "out" / "class.npz") == 2
    x, y = other.arrays()
    np.testing.assert_array_equal(x, store.arrays()[0])
    assert y.tolist() == [8, 0]
    old, new = store.recent(), other.recent()
    assert [(d.predicted, d.default_predicted, d.model, d.session, d.time) for d in new] == [
        (d.predicted, d.default_predicted, d.model, d.session, d.time) for d in old]
    assert new[1].default_predicted == 8
    exported_again = tmp_path / "again.npz"
    other.export(exported_again)
    with np.load(exported_again) as npz:
        assert npz["png_bytes"].tobytes() == PNG


def test_an_export_without_default_answers_imports_them_as_unknown(store, tmp_path):
    np.savez(tmp_path / "older.npz", x=np.stack([image(0)]), y=np.array([4]), predicted=np.array([4]))
    assert store.import_npz(tmp_path / "older.npz") == 1
    (drawing,) = store.recent()
    assert (drawing.predicted, drawing.default_predicted) == (4, None)
    np.savez(tmp_path / "bad.npz", x=np.stack([image(0)]), y=np.array([4]), default_predicted=np.array(["4"]))
    with pytest.raises(ValueError, match="default_predicted"):
        store.import_npz(tmp_path / "bad.npz")


def test_an_empty_store_exports_and_imports(store, tmp_path):
    assert store.export(tmp_path / "empty.npz") == 0
    assert store.import_npz(tmp_path / "empty.npz") == 0


def test_import_refuses_a_bad_file_whole(store, tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.stack([image(0), image(1)]), y=np.array([1, 12]))
    with pytest.raises(ValueError, match="label"):
        store.import_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "no-y.npz", x=np.stack([image(0)]))
    with pytest.raises(ValueError, match="'y'"):
        store.import_npz(tmp_path / "no-y.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable"):
        store.import_npz(tmp_path / "junk.npz")
    assert store.count() == 0


# ---- many writers ----------------------------------------------------------------------------------------

def test_30_threads_writing_at_once_lose_nothing(store):
    per_thread, errors = 10, []
    start = threading.Barrier(30)

    def write(seed):
        try:
            start.wait()
            for i in range(per_thread):
                store.add(image(seed), (seed + i) % 10, session=f"s{seed}")
        except Exception as exc:  # noqa: BLE001 - any error is the failure this test looks for
            errors.append(repr(exc))

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 30 * per_thread
    assert len({d.id for d in store.recent(limit=1000)}) == 30 * per_thread


@sqlite_only
def test_three_processes_and_threads_writing_at_once_lose_nothing(store):
    writer = f"""
        import numpy as np, threading
        from digitdnn.storage.drawings import DrawingStore
        store = DrawingStore({str(store.path)!r})
        def write():
            for i in range(20):
                store.add(np.zeros((28, 28), np.float32), i % 10)
        threads = [threading.Thread(target=write) for _ in range(5)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    """
    children = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(writer)], cwd=ROOT, stderr=subprocess.PIPE,
                                 text=True) for _ in range(3)]
    for i in range(50):
        store.add(image(i), i % 10)
    for child in children:
        assert child.wait(timeout=60) == 0, child.stderr.read()
    assert store.count() == 3 * 5 * 20 + 50


# ---- files gone bad --------------------------------------------------------------------------------------

def kept_aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".corrupt-*"))


@pytest.mark.parametrize("damage", ["random bytes", "truncated header"])
def test_a_damaged_file_is_set_aside_and_a_fresh_one_started(tmp_path, damage):
    path = tmp_path / "drawings.sqlite"
    if damage == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(8192))
    else:
        old = DrawingStore(path)
        for i in range(50):
            old.add(image(i), 1, image_png=PNG)
        path.write_bytes(path.read_bytes()[:40])
    damaged = path.read_bytes()

    store = DrawingStore(path)
    aside = [p for p in kept_aside(path) if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert store.notice and aside[0].name in store.notice and "new, empty" in store.notice
    assert store.count() == 0
    store.add(image(0), 2)
    assert DrawingStore(path).count() == 1 and DrawingStore(path).notice is None


def test_damage_found_later_sets_the_file_aside_and_keeps_the_new_drawing(tmp_path):
    path = tmp_path / "drawings.sqlite"
    store = DrawingStore(path)
    store.add(image(0), 1)
    path.write_bytes(b"\0" * 100 + np.random.default_rng(1).bytes(8000))
    store.add(image(1), 6)
    assert kept_aside(path) and "damaged" in store.notice
    assert store.arrays()[1].tolist() == [6]


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "drawings.sqlite"
    DrawingStore(path).add(image(0), 1)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(DrawingStoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        DrawingStore(path)
    assert not kept_aside(path)


def test_another_programs_sqlite_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    before = path.read_bytes()
    with pytest.raises(DrawingStoreError, match="not a drawings database"):
        DrawingStore(path)
    assert path.read_bytes() == before and not kept_aside(path)


def test_a_read_only_folder_is_one_clear_error(tmp_path):
    folder = tmp_path / "class-data"
    existing = DrawingStore(folder / "old.sqlite")
    existing.add(image(0), 3)
    before = (folder / "old.sqlite").read_bytes()
    (folder / "old.sqlite").chmod(0o444)
    folder.chmod(0o555)
    try:
        done = run_python(f"""
            import numpy as np
            from digitdnn.storage.drawings import DrawingStore, DrawingStoreError
            try:
                DrawingStore({str(folder / "new.sqlite")!r})
            except DrawingStoreError as exc:
                print("new:", exc)
            try:
                DrawingStore({str(folder / "old.sqlite")!r}).add(np.zeros((28, 28), np.float32), 1)
            except DrawingStoreError as exc:
                print("old:", exc)
        """, preexec_fn=without_permission_override)
    finally:
        folder.chmod(0o755)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("new: ") and lines[1].startswith("old: "), done.stdout
    assert all("read-only or not accessible" in line for line in lines), done.stdout
    assert (folder / "old.sqlite").read_bytes() == before and existing.count() == 1


def delete_database(path: Path) -> None:
    """Delete the database file and its -wal and -shm, as someone cleaning the server's folder would."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


@sqlite_only
def test_a_file_deleted_while_in_use_is_created_again(store):
    store.add(image(0), 3)
    delete_database(store.path)
    store.add(image(1), 4)
    assert store.count() == 1 and store.counts().tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@sqlite_only
def test_a_folder_deleted_while_in_use_is_created_again(store):
    store.add(image(0), 3)
    shutil.rmtree(store.path.parent)
    store.add(image(1), 4)
    assert store.count() == 1 and store.arrays()[1].tolist() == [4]
    delete_database(store.path)
    assert store.count() == 0 and store.recent() == []   # reading a deleted file finds an empty store


@sqlite_only
def test_a_folder_replaced_by_a_file_is_named_as_the_reason(store):
    store.add(image(0), 3)
    shutil.rmtree(store.path.parent)
    store.path.parent.write_text("not a folder")
    with pytest.raises(DrawingStoreError) as refused:
        store.add(image(1), 4)
    message = str(refused.value)
    assert f"{store.path.parent} is a file, not a folder" in message and "read-only" not in message
    assert store.path.parent.read_text() == "not a folder"


def test_a_file_deleted_in_a_read_only_folder_says_read_only_and_why(tmp_path):
    folder = tmp_path / "class-data"
    folder.mkdir()
    try:
        done = run_python(f"""
            import os
            from pathlib import Path
            import numpy as np
            from digitdnn.storage.drawings import DrawingStore, DrawingStoreError
            store = DrawingStore({str(folder / "drawings.sqlite")!r})
            store.add(np.zeros((28, 28), np.float32), 1)
            os.unlink(store.path)
            Path({str(folder)!r}).chmod(0o555)
            try:
                store.add(np.zeros((28, 28), np.float32), 2)
            except DrawingStoreError as exc:
                print(exc)
        """, preexec_fn=without_permission_override)
    finally:
        folder.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert "read-only or not accessible (permission denied)" in done.stdout, done.stdout
    assert "no such table" not in done.stdout


def test_a_full_disk_is_one_clear_error_and_keeps_what_was_stored(tmp_path):
    path = tmp_path / "drawings.sqlite"
    done = run_python(f"""
        import resource, signal
        import numpy as np
        from digitdnn.storage.drawings import DrawingStore, DrawingStoreError
        store = DrawingStore({str(path)!r})
        png = b"\\x89PNG\\r\\n\\x1a\\n" + bytes(30000)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)          # a write past the limit fails instead
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, hard))  # files cannot grow past 300 KB
        stored = 0
        try:
            for _ in range(100):
                store.add(np.zeros((28, 28), np.float32), 1, image_png=png)
                stored += 1
        except DrawingStoreError as exc:
            print(stored)
            print(exc)
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        store.add(np.zeros((28, 28), np.float32), 2)
    """)
    assert done.returncode == 0, done.stderr
    stored, message = done.stdout.splitlines()
    assert 0 < int(stored) < 100 and "could not be written to disk" in message
    store = DrawingStore(path)
    assert store.counts().tolist() == [0, int(stored), 1, 0, 0, 0, 0, 0, 0, 0] and store.notice is None


def test_a_writer_killed_mid_write_leaves_every_committed_drawing(tmp_path):
    path = tmp_path / "drawings.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import numpy as np
        from digitdnn.storage.drawings import DrawingStore
        store = DrawingStore({str(path)!r})
        png = b"\\x89PNG\\r\\n\\x1a\\n" + bytes(20000)
        while True:
            print(store.add(np.random.rand(28, 28).astype(np.float32), 5, image_png=png), flush=True)
    """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    committed = []
    for line in writer.stdout:
        committed.append(int(line))
        if len(committed) == 200:
            writer.send_signal(signal.SIGKILL)
            break
    writer.wait(timeout=30)
    writer.stdout.close()
    store = DrawingStore(path)
    assert store.notice is None
    ids = {d.id for d in store.recent(limit=10**6)}
    assert set(committed) <= ids and store.count() == len(ids) >= 200
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
