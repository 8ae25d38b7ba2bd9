"""The class store in PostgreSQL (storage/class_store.py): every part on one database, shared by the page replicas."""
from __future__ import annotations

from digitdnn.server import settings
from digitdnn.storage.class_store import ClassStore
from digitdnn.storage.pg.classroom import PgChallenges, PgLessons
from digitdnn.storage.pg.database import PgDatabase, without_password
from digitdnn.storage.pg.drawings import PgDrawingStore
from digitdnn.storage.pg.keys import PgKeyGuard
from digitdnn.storage.pg.models import PgShelf
from digitdnn.storage.pg.rates import PgRateLimiter


def open_pg_store(url: str) -> ClassStore:
    """The class store in the database at `url` (postgresql://...); nothing connects before the first use. Saved
    models are opened as files in the cache folder ($DIGITDNN_CACHE_DIR/models)."""
    db = PgDatabase(url)
    return ClassStore(lambda: PgDrawingStore(db), PgShelf(db, settings.cache_dir() / "models"), PgKeyGuard(db),
                      lambda name, limits, window: PgRateLimiter(db, name, limits, window),
                      f"PostgreSQL at {without_password(url)}", lessons=PgLessons(db), challenges=PgChallenges(db),
                      close=db.close)
