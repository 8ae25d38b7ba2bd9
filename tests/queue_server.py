"""A throwaway Redis server for the training-queue tests (digitdnn/cluster/redis.py; not named redis.py, which would
hide the redis package from the tests): in a temporary folder, on a free loopback port, with a password, as
`digitdnn cluster` runs it."""
import secrets
import tempfile
from pathlib import Path

import pytest

from testkit.server import free_port


def start_redis():
    """A started RedisServer in a new temporary folder; the test skips (saying why) without redis-server."""
    from digitdnn.cluster.children import ClusterUnavailable
    from digitdnn.cluster.redis import RedisServer, redis_server_bin

    try:
        redis_server_bin()
    except ClusterUnavailable as exc:
        pytest.skip(f"no Redis here: {exc}")
    server = RedisServer(Path(tempfile.mkdtemp(prefix="digitdnn-redis-")), free_port(), secrets.token_urlsafe(12))
    server.start()
    return server
