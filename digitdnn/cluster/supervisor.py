"""`digitdnn cluster`: PostgreSQL, N page replicas and HAProxy on this machine, with M training workers and their
Redis when asked, kept running until stopped.

Start order: the database (initialised into the state folder the first time); with workers, Redis on a free
loopback port (its password kept in the state folder) and the workers w1..wM (`digitdnn worker`, each with the
queue's and the database's URL); the replicas on free loopback ports (each a `digitdnn serve` page server with the
database's URL, the queue's URL when there are workers, its name and the shared cookie secret), then the proxy; each
is waited for until it answers. Then the watch: a replica, the proxy, Redis or a worker that dies is restarted
after a back-off (digitdnn/cluster/children.py); PostgreSQL that crashed is started again, PostgreSQL stopped
cleanly by someone else is reported and left to them. SIGTERM or Ctrl-C stops the proxy and the replicas, the
workers, Redis, then the database. No URL with its password is ever printed: cluster.env (mode 0600) holds them.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from digitdnn.cluster.children import Child, ClusterUnavailable, answers_health
from digitdnn.cluster.haproxy import haproxy_command, haproxy_config
from digitdnn.cluster.postgres import PostgresServer, PostgresUnavailable, postgres_bin
from digitdnn.cluster.redis import RedisServer, redis_server_bin
from digitdnn.cluster.state import StateDir
from digitdnn.server.serve import streamlit_command
from digitdnn.server.settings import DATABASE_URL_ENV, QUEUE_URL_ENV, REPLICA_ENV

START_SECONDS = 180.0        # how long the start of every part together may take
WATCH_SECONDS = 1.0          # how often the watch looks at the children
DATABASE_RETRY_SECONDS = 10.0
COOKIE_SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"


class Stopping(Exception):
    """SIGTERM or Ctrl-C came while the cluster was starting."""


def run_cluster(folder: Path, replicas: int, port: int, address: str, report: Callable[[str], None],
                announce: Callable[[str], None], workers: int = 0) -> None:
    """Start the cluster from `folder` (with `workers` training workers and Redis, or none: the replicas train
    their own runs), call `announce` with the page's address, keep it running until SIGTERM or Ctrl-C, then stop
    every part. ClusterUnavailable (a sentence) when a part cannot start."""
    stop = threading.Event()
    with _stop_on_signals(stop):
        cluster = Cluster(StateDir(folder), replicas, port, address, report, stop, workers)
        cluster.state.lock()
        try:
            cluster.start()
            announce(cluster.url)
            cluster.watch()
        except Stopping:
            pass
        except PostgresUnavailable as error:
            raise ClusterUnavailable(str(error)) from None
        finally:
            cluster.stop()
            cluster.state.unlock()


class Cluster:
    """The parts of one cluster and what it knows about them."""

    def __init__(self, state: StateDir, replicas: int, port: int, address: str, report: Callable[[str], None],
                 stop: threading.Event, workers: int = 0):
        self.state, self.replica_count, self.port, self.address = state, replicas, port, address
        self.report, self.stopping, self.worker_count = report, stop, workers
        self.database: PostgresServer | None = None
        self.queue: tuple[RedisServer, Child] | None = None  # Redis and the Child that runs it, with workers
        self.workers: list[Child] = []
        self.replicas: list[tuple[Child, int]] = []
        self.proxy: Child | None = None
        self.database_was_running = True
        self.database_retry_at = 0.0

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        proxy_command = haproxy_command(self.state.haproxy_config)  # every program found before anything starts
        postgres_bin()
        if self.worker_count:
            redis_server_bin()
        database = PostgresServer(self.state.postgres, _free_port())
        self._end_left_overs(database)
        _check_port_free(self.address, self.port)
        self.report(f"starting PostgreSQL in {self.state.postgres}")
        self.database = database
        database_url = database.start()
        urls = {DATABASE_URL_ENV: database_url}
        if self.worker_count:
            urls[QUEUE_URL_ENV] = self._start_queue({**os.environ, **urls})
        env = {**os.environ, **urls, COOKIE_SECRET_ENV: self.state.cookie_secret()}
        for number in range(1, self.replica_count + 1):
            name, replica_port = f"r{number}", _free_port()
            child = Child(name, streamlit_command(replica_port, "127.0.0.1"), self.state.log(name),
                          {**env, REPLICA_ENV: name})
            self.replicas.append((child, replica_port))
            child.start()
        self.report(f"starting the page replicas, {self.replica_count} of them (their logs: {self.state.logs})")
        self._wait_until(lambda: all(answers_health(_local(port)) for _, port in self.replicas), "the replicas")
        self.state.haproxy_config.write_text(haproxy_config(
            [(child.name, replica_port) for child, replica_port in self.replicas], self.port, self.address))
        self.proxy = Child("haproxy", proxy_command, self.state.log("haproxy"))
        self.proxy.start()
        self._wait_until(lambda: answers_health(self._proxy_url()), "the proxy")
        self.state.write_env(urls)
        self._write_record()

    def _start_queue(self, env: dict[str, str]) -> str:
        """Start Redis and the workers (`env` holds the database's URL and gets the queue's); the queue's URL."""
        redis = RedisServer(self.state.redis, _free_port(), self.state.redis_password())
        self.report(f"starting Redis on 127.0.0.1 port {redis.port} (persistence off; its log: "
                    f"{self.state.log('redis')})")
        server = Child("redis", redis.command(redis.write_config()), self.state.log("redis"))
        self.queue = (redis, server)
        server.start()
        self._wait_until(redis.running, "Redis")
        env = {**env, QUEUE_URL_ENV: redis.url}
        for number in range(1, self.worker_count + 1):
            name = f"w{number}"
            self.workers.append(Child(name, worker_command(name), self.state.log(name), env))
            self.workers[-1].start()
        self.report(f"starting the training workers, {self.worker_count} of them (their logs: {self.state.logs})")
        return redis.url

    def watch(self) -> None:
        """Until stopped: restart what died, report the database's ups and downs."""
        while not self.stopping.wait(WATCH_SECONDS):
            for child in self._children():
                line = child.revive()
                if line:
                    self.report(line)
                    self._write_record()
            self._watch_database()

    def stop(self) -> None:
        """Stop every part that runs: the proxy and the replicas (all at once), the workers (all at once: each ends
        its run first, or is killed after STOP_SECONDS), Redis, then PostgreSQL (fast)."""
        children = self._children()
        if children or self.database:
            self.report("stopping the cluster")
        for group in (self._page_children(), self.workers, [self.queue[1]] if self.queue else []):
            for child in group:
                child.terminate()
            for child in group:
                child.stop()
        if self.database is not None:
            self.database.stop("fast")
        if children or self.database:
            self.report("the cluster stopped")

    def _page_children(self) -> list[Child]:
        return ([self.proxy] if self.proxy else []) + [child for child, _ in self.replicas]

    def _children(self) -> list[Child]:
        return ([self.queue[1]] if self.queue else []) + self.workers + self._page_children()

    def _proxy_url(self) -> str:
        return _local(self.port) if self.address in ("0.0.0.0", "::") else self.url.rstrip("/")

    def _wait_until(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not ready():
            if self.stopping.is_set():
                raise Stopping
            for child in self._children():
                status = child.exit_status()
                if status is not None:
                    raise ClusterUnavailable(f"{child.name} stopped while starting (exit status {status}): see "
                                             f"{child.log_path}.")
            if time.monotonic() > deadline:
                raise ClusterUnavailable(f"{what} did not answer within {START_SECONDS:g} s: see the logs in "
                                         f"{self.state.logs}.")
            time.sleep(0.2)

    def _watch_database(self) -> None:
        assert self.database is not None
        state = postmaster_state(self.database)
        if state == "crashed":
            self.database_was_running = False
            if time.monotonic() >= self.database_retry_at:
                self._restart_database()
            return
        running = state == "running"
        if running != self.database_was_running:
            self.report("PostgreSQL is running again" if running else
                        "PostgreSQL was stopped: the replicas cannot store anything until it is started again")
            self.database_was_running = running

    def _restart_database(self) -> None:
        assert self.database is not None
        self.report("PostgreSQL crashed: starting it again")
        try:
            self.database.start()
        except PostgresUnavailable as error:
            self.report(f"PostgreSQL did not start: {error} (trying again in {DATABASE_RETRY_SECONDS:g} s)")
            self.database_retry_at = time.monotonic() + DATABASE_RETRY_SECONDS

    def _end_left_overs(self, database: PostgresServer) -> None:
        """End what a cluster killed without stopping (SIGKILL, a power cut of the supervisor alone) left running from
        this folder: its proxy (which, having dropped root, no longer ends with it) and PostgreSQL."""
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            pid = int(json.loads(self.state.record_file.read_text())["proxy"]["pid"])
            if str(self.state.haproxy_config).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 5
                while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
        if postmaster_state(database) == "running":
            database.stop("fast")

    def _write_record(self) -> None:
        assert self.database is not None and self.proxy is not None
        self.state.write_record({
            "supervisor": os.getpid(),
            "proxy": {"url": self.url, "port": self.port, "pid": self.proxy.pid},
            "replicas": {child.name: {"port": port, "pid": child.pid} for child, port in self.replicas},
            "postgres": {"port": self.database.port, "folder": str(self.database.folder)},
            **({"redis": {"port": self.queue[0].port, "pid": self.queue[1].pid},
                "workers": {child.name: {"pid": child.pid} for child in self.workers}} if self.queue else {}),
        })


def worker_command(name: str) -> list[str]:
    """`digitdnn worker --name NAME` with this Python; the queue's and the database's URLs go in its environment
    (DIGITDNN_QUEUE_URL, DIGITDNN_DATABASE_URL), never on its command line, which every user of the machine sees."""
    return [sys.executable, "-m", "digitdnn", "worker", "--name", name]


def postmaster_state(database: PostgresServer) -> str:
    """"running"; "stopped" (cleanly: no postmaster.pid); "crashed" (postmaster.pid names a process that is gone)."""
    try:
        pid = int((database.data / "postmaster.pid").read_text().split()[0])
    except FileNotFoundError:
        return "stopped"
    except (IndexError, ValueError):
        return "running"  # being written: PostgreSQL is starting
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "crashed"
    except PermissionError:
        pass
    return "running"


def _local(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _check_port_free(address: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as error:
            raise ClusterUnavailable(f"the proxy cannot listen on {address} port {port} ({error.strerror}): choose "
                                     "another --port or --address.") from None


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While active, SIGTERM and Ctrl-C (SIGINT) set `stop` instead of ending the process at once."""
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
