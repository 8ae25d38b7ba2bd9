"""A Redis server of our own, in a folder: the training queue of the workers (digitdnn/training/queue_link.py).

It keeps nothing on disk (no snapshots, no append-only file: a restarted queue is an empty one, and the pages say
that their runs were interrupted), listens on a loopback port (or, without a port, on a Unix socket in the folder)
and asks for a password when one is given. Its configuration file, password included, is readable by its owner
only. `digitdnn cluster` runs `command(...)` as a supervised child; the tests start it with `start`.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from digitdnn.cluster.children import ClusterUnavailable, find_program

INSTALL_HINT = "install Redis (Debian: apt-get install redis-server)"
SOCKET_NAME = "redis.sock"
CONFIG_NAME = "redis.conf"
LOG_NAME = "redis.log"
STOP_SECONDS = 10.0


def redis_server_bin() -> str:
    """The path of `redis-server`, or ClusterUnavailable saying how to install it."""
    return find_program("redis-server", INSTALL_HINT)


@dataclass
class RedisServer:
    """The server configured in `folder`, on 127.0.0.1:`port` (a Unix socket in `folder` when `port` is None),
    with `password` when one is given."""

    folder: Path
    port: int | None = None
    password: str | None = None
    process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def socket(self) -> Path:
        return self.folder / SOCKET_NAME

    @property
    def url(self) -> str:
        """The URL clients connect with (password included: keep it like a key, never print it)."""
        secret = f":{quote(self.password, safe='')}@" if self.password else ""
        if self.port is None:
            return f"unix://{secret}{self.socket}?db=0"
        return f"redis://{secret}127.0.0.1:{self.port}/0"

    def config(self) -> str:
        """The text of redis.conf: no persistence, loopback (or socket) only, the password when there is one."""
        lines = ["# Written by digitdnn at each start: edits are lost.", "daemonize no", 'save ""',
                 "appendonly no", f"dir {self.folder}", 'logfile ""']
        if self.port is None:
            lines += ["port 0", f"unixsocket {self.socket}", "unixsocketperm 700"]
        else:
            lines += [f"port {self.port}", "bind 127.0.0.1"]
        if self.password:
            lines.append(f"requirepass {self.password}")
        return "\n".join(lines) + "\n"

    def write_config(self) -> Path:
        """Write redis.conf into the folder (mode 0600: it holds the password) and return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / CONFIG_NAME
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(self.config())
        return path

    def command(self, conf: Path) -> list[str]:
        """The command line that runs the server with the configuration file `conf` (see write_config)."""
        return [redis_server_bin(), str(conf)]

    def start(self, timeout: float = 30.0) -> str:
        """Start it (output in the folder's redis.log) and wait until it answers; returns `url`."""
        command = self.command(self.write_config())
        with open(self.folder / LOG_NAME, "ab") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self.running():
            if self.process.poll() is not None:
                raise ClusterUnavailable(f"redis-server exited at once (exit status {self.process.returncode}): "
                                         f"see {self.folder / LOG_NAME}.")
            if time.monotonic() > deadline:
                self.stop()
                raise ClusterUnavailable(f"redis-server did not answer within {timeout:g} s: "
                                         f"see {self.folder / LOG_NAME}.")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        """Stop the server that `start` started (SIGTERM, then SIGKILL after STOP_SECONDS); its data goes with it."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def running(self) -> bool:
        """True when the server answers PING (whoever started it)."""
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError
        from redis.retry import Retry

        client = Redis.from_url(self.url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        except RedisError:
            return False
        finally:
            client.close()
