"""A throwaway Redis server for the training-queue tests (digitdnn/cluster/redis.py; not named redis.py, which would
hide the redis package from the tests): in a temporary folder, on a free loopback port, with a password, as
`digitdnn cluster` runs it; and `digitdnn worker` subprocesses serving it."""
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from testkit import ROOT
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


def start_worker(url: str, name: str, log: Path, env: dict[str, str | None]) -> subprocess.Popen:
    """`digitdnn worker --queue-url url --name name` as a subprocess, its output appended to `log`; its environment
    is this process's with `env` on top (a value None removes that variable)."""
    merged = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    for key, value in env.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "digitdnn", "worker", "--queue-url", url, "--name", name],
                                env=merged, stdout=out, stderr=subprocess.STDOUT)


def stop_worker(process: subprocess.Popen) -> None:
    """Stop a worker from start_worker as an operator would (SIGTERM: its run stops keeping its weights), killing it
    if it has not ended within 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
