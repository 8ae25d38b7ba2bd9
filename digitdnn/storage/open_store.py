"""Opening the class store (storage/class_store.py): PostgreSQL when a database URL is given or set, else the local
backend (a SQLite file, a models folder, this process's memory)."""
from __future__ import annotations

from pathlib import Path

from digitdnn.server import settings
from digitdnn.storage.class_store import ClassStore


def open_class_store(database_url: str | None = None, *, drawings_path: Path | None = None,
                     models_dir: Path | None = None) -> ClassStore:
    """The class store at `database_url` (postgresql://...), else at $DIGITDNN_DATABASE_URL, else the local
    one: the drawings file `drawings_path` ($DIGITDNN_DRAWINGS_DB) and the models folder `models_dir`
    ($DIGITDNN_MODELS_DIR); the lesson and the challenge in classroom.sqlite beside the drawings file."""
    url = database_url or settings.database_url()
    if url:
        from digitdnn.storage.pg.store import open_pg_store

        return open_pg_store(url)
    return _open_local_store(drawings_path or settings.drawings_db_path(), models_dir or settings.models_dir())


def _open_local_store(drawings_path: Path, models_dir: Path) -> ClassStore:
    from digitdnn.server.key_guard import KeyGuard
    from digitdnn.server.rate_limit import RateLimiter
    from digitdnn.storage.classroom_sqlite import FILE_NAME, ClassroomFile, SqliteChallenges, SqliteLessons
    from digitdnn.storage.drawings import DrawingStore
    from digitdnn.storage.model_shelf import FolderShelf

    classroom = ClassroomFile(drawings_path.with_name(FILE_NAME))
    return ClassStore(lambda: DrawingStore(drawings_path), FolderShelf(models_dir), KeyGuard(),
                      lambda _name, limits, window: RateLimiter(limits, window_seconds=window),
                      f"the SQLite file {drawings_path} and the folder {models_dir}",
                      lessons=SqliteLessons(classroom), challenges=SqliteChallenges(classroom))
