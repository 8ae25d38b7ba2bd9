"""The class's drawings in PostgreSQL: what only a database server does (stops, restarts, refuses, collates, is
shared by several page servers). The contract both backends keep is tests/test_drawing_store.py."""
import shutil
import threading
import time

import numpy as np
import pytest
from postgres import start_postgres

from digitdnn.storage.drawings import DrawingStoreError
from digitdnn.storage.pg.database import PgDatabase
from digitdnn.storage.pg.drawings import PgDrawingStore


def image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


@pytest.fixture
def open_store():
    """open_store(url): a PgDrawingStore with a pool of its own, as one page server has; closed after the test."""
    opened = []

    def make(url: str) -> PgDrawingStore:
        opened.append(PgDrawingStore(PgDatabase(url)))
        return opened[-1]

    yield make
    for store in opened:
        store.db.close()


def test_a_stopped_database_is_a_plain_sentence_and_the_same_store_works_once_it_is_back(open_store):
    server = start_postgres()  # its own server: the session's shared one keeps running
    try:
        store = open_store(server.url)
        store.add(image(0), 1)
        server.stop("fast")
        asked = time.monotonic()
        with pytest.raises(DrawingStoreError) as down:
            store.add(image(1), 2)
        assert time.monotonic() - asked < 5
        message = str(down.value)
        assert message.startswith("The class database cannot be reached just now") and "\n" not in message
        assert (server.folder / "password").read_text().strip() not in message
        again = time.monotonic()
        with pytest.raises(DrawingStoreError):   # while it is down, at once: no page waits for a timeout
            store.count()
        assert time.monotonic() - again < 0.5

        server.start()
        deadline, stored = time.monotonic() + 20, None
        while stored is None and time.monotonic() < deadline:
            try:
                stored = store.add(image(2), 3)
            except DrawingStoreError:
                time.sleep(0.2)
        assert stored is not None, "the store did not work again within 20 s of the database's restart"
        assert store.counts().tolist() == [0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    finally:
        server.stop("immediate")
        shutil.rmtree(server.folder, ignore_errors=True)


def test_an_import_the_database_refuses_halfway_adds_nothing(open_store, postgres_server, postgres_url, tmp_path):
    store = open_store(postgres_url)
    store.add(image(0), 1)
    postgres_server.psql(postgres_url.rsplit("/", 1)[1],
                         "ALTER TABLE drawings ADD CONSTRAINT no_sevens CHECK (label <> 7)")
    np.savez(tmp_path / "class.npz", x=np.stack([image(i) for i in range(3)]), y=np.array([2, 3, 7]))
    with pytest.raises(DrawingStoreError, match=r"^The class database refused the drawings \(.*no_sevens"):
        store.import_npz(tmp_path / "class.npz")
    assert store.count() == 1


def test_a_database_without_the_table_is_a_drawing_store_error(open_store, postgres_server, postgres_url):
    store = open_store(postgres_url)
    store.add(image(0), 1)
    postgres_server.psql(postgres_url.rsplit("/", 1)[1], "DROP TABLE drawings")
    with pytest.raises(DrawingStoreError, match="refused the drawings"):
        store.recent()


def test_tabs_are_ordered_by_bytes_whatever_the_databases_collation(open_store, postgres_server):
    postgres_server.psql("postgres", "DROP DATABASE IF EXISTS drawings_en_us WITH (FORCE)")
    postgres_server.psql("postgres", "CREATE DATABASE drawings_en_us TEMPLATE template0 LOCALE_PROVIDER icu "
                                     "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    store = open_store(postgres_server.url.rsplit("/", 1)[0] + "/drawings_en_us")
    for session in ["é", "a", "Z", "B"]:
        store.add(image(0), 1, session=session)
    assert [t.session for t in store.tabs()] == ["B", "Z", "a", "é"]   # en-US alone would say a, B, é, Z


def test_page_servers_with_pools_of_their_own_share_every_drawing(open_store, postgres_url):
    servers = [open_store(postgres_url) for _ in range(3)]
    errors = []

    def write(store, seed):
        try:
            for i in range(20):
                store.add(image(seed), i % 10, session=f"s{seed}")
        except Exception as exc:  # noqa: BLE001 - any error is the failure this test looks for
            errors.append(repr(exc))

    threads = [threading.Thread(target=write, args=(servers[seed % 3], seed)) for seed in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [s.count() for s in servers] == [12 * 20] * 3
    assert len(servers[1].tabs()) == 12 and servers[2].delete_tab("s0") == 20 and servers[0].count() == 12 * 20 - 20
