"""The class store (storage/class_store.py): open_class_store picks the local backend or PostgreSQL, and the
PostgreSQL one (storage/pg/store.py) has every part on one database, which it names without the password."""
from digitdnn.server.key_guard import Outcome
from digitdnn.storage.open_store import open_class_store


def test_without_a_database_url_the_class_is_kept_on_this_machine(tmp_path, monkeypatch):
    from digitdnn.storage.model_shelf import FolderShelf

    monkeypatch.delenv("DIGITDNN_DATABASE_URL", raising=False)
    store = open_class_store(drawings_path=tmp_path / "drawings.sqlite", models_dir=tmp_path / "models")
    assert isinstance(store.models, FolderShelf) and "SQLite" in store.where


def test_the_postgresql_store_keeps_every_part_in_one_database(postgres_url, tmp_path, monkeypatch, clf):
    import psycopg

    from digitdnn.storage.pg.drawings import PgDrawingStore
    from digitdnn.storage.pg.keys import PgKeyGuard
    from digitdnn.storage.pg.models import PgShelf
    from digitdnn.storage.pg.rates import PgRateLimiter

    monkeypatch.setenv("DIGITDNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DIGITDNN_DATABASE_URL", postgres_url)
    store = open_class_store()
    info = psycopg.conninfo.conninfo_to_dict(postgres_url)
    assert store.where == f"PostgreSQL at {info['host']}:{info['port']}/{info['dbname']}"
    assert info["password"] not in store.where
    assert isinstance(store.drawings, PgDrawingStore) and isinstance(store.models, PgShelf)
    assert isinstance(store.keys, PgKeyGuard) and store.drawings.count() == 0
    limiter = store.limiter("drawings", {"tab": 1}, 60)
    assert isinstance(limiter, PgRateLimiter)
    assert [limiter.take({"tab": "a"}) for _ in range(2)] == [None, "tab"]
    assert store.keys.check(False, "10.0.0.7").outcome is Outcome.WRONG
    store.models.save(clf, "shared", None)
    assert store.models.open("shared").parent == tmp_path / "cache" / "models"
    with psycopg.connect(postgres_url) as connection:
        counts = [connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("rate_events", "key_backoff", "models")]
    assert counts == [1, 2, 1]

