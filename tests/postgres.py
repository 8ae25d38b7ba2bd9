"""A throwaway PostgreSQL server for the tests (digitdnn/cluster/postgres.py), in a temporary folder under /tmp that
the service user can reach (pytest's own tmp_path is private to root), on a free loopback port."""
import tempfile
from pathlib import Path

import pytest

from testkit.server import free_port


def start_postgres():
    """A started PostgresServer in a new temporary folder; the test skips (saying why) without PostgreSQL."""
    from digitdnn.cluster.postgres import PostgresServer, PostgresUnavailable, postgres_bin

    try:
        postgres_bin()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL here: {exc}")
    folder = Path(tempfile.mkdtemp(prefix="digitdnn-pg-"))
    folder.chmod(0o755)
    server = PostgresServer(folder, free_port())
    server.start()
    return server
