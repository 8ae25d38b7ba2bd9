"""The cluster's folder (`--state-dir`): what it keeps between starts and what it tells other programs.

    postgres/        the database (digitdnn/cluster/postgres.py), its password and its own log
    redis/           with --workers: Redis's configuration (mode 0600; nothing is stored: persistence is off)
    redis-password   the password Redis asks for (mode 0600), kept so restarts keep it
    logs/NAME.log    each part's output (r1.log, r2.log, ..., haproxy.log, redis.log, w1.log, w2.log, ...)
    cookie-secret    the one Streamlit cookie secret every replica shares (mode 0600), kept so restarts keep it
    haproxy.cfg      the proxy's configuration, written at each start
    cluster.env      DIGITDNN_DATABASE_URL=... and, with --workers, DIGITDNN_QUEUE_URL=... for other programs (the
                     CLI, workers on other machines; mode 0600: both URLs hold a password)
    cluster.json     while it runs: the supervisor's, each replica's, the proxy's, Redis's and each worker's pid and
                     port (no secrets)
    cluster.lock     held while a cluster runs from this folder, so a second one is refused
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
from pathlib import Path
from typing import IO

from digitdnn.cluster.children import ClusterUnavailable
from digitdnn.storage.files import atomic_write


class StateDir:
    """The files of one cluster in `folder` (created readable by every user: PostgreSQL's user must pass through)."""

    def __init__(self, folder: Path):
        self.folder = folder.absolute()
        self._lock: IO[bytes] | None = None

    postgres = property(lambda self: self.folder / "postgres")
    redis = property(lambda self: self.folder / "redis")
    logs = property(lambda self: self.folder / "logs")
    haproxy_config = property(lambda self: self.folder / "haproxy.cfg")
    env_file = property(lambda self: self.folder / "cluster.env")
    record_file = property(lambda self: self.folder / "cluster.json")

    def lock(self) -> None:
        """Create the folder and hold its lock; ClusterUnavailable when another cluster runs from it."""
        self.folder.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._lock = open(self.folder / "cluster.lock", "ab")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise ClusterUnavailable(f"another cluster is running from {self.folder}: stop it first, or choose "
                                     "another --state-dir.") from None

    def unlock(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.record_file.unlink()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def cookie_secret(self) -> str:
        """The replicas' shared cookie secret: made on the first start, read on every later one."""
        return self._secret("cookie-secret")

    def redis_password(self) -> str:
        """The password of the cluster's Redis: made on the first start with workers, read on every later one."""
        return self._secret("redis-password")

    def _secret(self, name: str) -> str:
        path = self.folder / name
        if not path.is_file():
            atomic_write(path, lambda file: file.write(secrets.token_urlsafe(32).encode()), mode=0o600)
        return path.read_text().strip()

    def write_env(self, variables: dict[str, str]) -> None:
        text = "".join(f"{name}={value}\n" for name, value in variables.items())
        atomic_write(self.env_file, lambda file: file.write(text.encode()), mode=0o600)

    def write_record(self, record: dict) -> None:
        text = json.dumps(record, indent=2) + "\n"
        atomic_write(self.record_file, lambda file: file.write(text.encode()), mode=0o644)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

