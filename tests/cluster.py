"""`digitdnn cluster` for the tests: started as a subprocess in a temporary folder under /tmp (PostgreSQL's user must
reach it; pytest's own tmp_path is private to root), waited for until the proxy answers, stopped at the end.

    with running_cluster(replicas=2, workers=1, DIGITDNN_DEFAULT_MODEL=...) as cluster:
        cluster.proxy_url, cluster.replicas, cluster.database_url, cluster.queue_url
        cluster.kill_replica("r1"); cluster.wait_replica_restarted("r1", old_pid)
        cluster.kill_part("w1"); cluster.wait_part_restarted("w1", old_pid)    (a worker, or "redis")
        cluster.stop_postgres(); ...; cluster.start_postgres()
"""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from app_session import TEST_DATA_LIMIT

from testkit import ROOT
from testkit.server import free_port
from testkit.waiting import wait_until


def missing_programs(workers: bool = False) -> str | None:
    """Why a cluster (with workers: `workers` true) cannot start here (HAProxy, PostgreSQL or Redis not installed),
    or None."""
    from digitdnn.cluster.postgres import PostgresUnavailable, postgres_bin

    if shutil.which("haproxy") is None:
        return "HAProxy is not installed (apt-get install haproxy)"
    if workers and shutil.which("redis-server") is None:
        return "Redis is not installed (apt-get install redis-server)"
    try:
        postgres_bin()
    except PostgresUnavailable as error:
        return str(error)
    return None


def health(url: str) -> bool:
    """True when `url`/_stcore/health answers 200."""
    from digitdnn.cluster.children import answers_health

    return answers_health(url.rstrip("/"))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class RunningCluster:
    """A `digitdnn cluster` process, its state folder and the output it printed (log_path)."""

    process: subprocess.Popen
    state_dir: Path
    log_path: Path
    started_in: float = 0.0  # seconds from the command's start until the proxy answered
    pids_seen: set[int] = field(default_factory=set)  # of the supervisor and every part it runs, from record()
    postgres_port: int = 0

    def record(self) -> dict:
        """cluster.json: the supervisor's, the proxy's, each replica's and worker's pid and port, PostgreSQL's and
        Redis's port."""
        record = json.loads((self.state_dir / "cluster.json").read_text())
        self.pids_seen.update([record["supervisor"], record["proxy"]["pid"],
                               *(replica["pid"] for replica in record["replicas"].values())])
        if "redis" in record:
            self.pids_seen.update([record["redis"]["pid"], *(w["pid"] for w in record["workers"].values())])
        self.postgres_port = record["postgres"]["port"]
        return record

    @property
    def proxy_url(self) -> str:
        return self.record()["proxy"]["url"]

    @property
    def replicas(self) -> dict[str, int]:
        """Replica name (r1, r2, ...) -> its loopback port."""
        return {name: replica["port"] for name, replica in self.record()["replicas"].items()}

    def replica_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.replicas[name]}"

    def replica_pid(self, name: str) -> int:
        return self.record()["replicas"][name]["pid"]

    @property
    def env(self) -> dict[str, str]:
        """cluster.env's NAME=value lines."""
        lines = (self.state_dir / "cluster.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    @property
    def database_url(self) -> str:
        return self.env["DIGITDNN_DATABASE_URL"]

    @property
    def queue_url(self) -> str:
        return self.env["DIGITDNN_QUEUE_URL"]

    def part_pid(self, name: str) -> int:
        """The pid of worker `name` (w1, w2, ...) or of "redis"."""
        record = self.record()
        return record["redis"]["pid"] if name == "redis" else record["workers"][name]["pid"]

    def kill_part(self, name: str) -> int:
        """SIGKILL worker `name` or "redis" (as a crash would end it); returns the pid it had."""
        pid = self.part_pid(name)
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_part_restarted(self, name: str, old_pid: int, timeout: float = 15) -> int:
        """Wait until worker `name` or "redis" runs under a new pid; returns the new pid."""
        def restarted() -> int | None:
            pid = self.part_pid(name)
            return pid if pid != old_pid and pid_alive(pid) else None

        return wait_until(restarted, timeout, interval=0.2,
                          message=lambda: f"{name} restarted; the cluster said:\n{self.output()[-2000:]}")

    def output(self) -> str:
        return self.log_path.read_text()

    def kill_replica(self, name: str) -> int:
        """SIGKILL replica `name` (as a crash would end it); returns the pid it had."""
        pid = self.replica_pid(name)
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_replica_restarted(self, name: str, old_pid: int, timeout: float = 60) -> int:
        """Wait until replica `name` runs under a new pid and answers its health check; returns the new pid."""
        def restarted() -> int | None:
            pid = self.replica_pid(name)
            return pid if pid != old_pid and health(self.replica_url(name)) else None

        return wait_until(restarted, timeout, interval=0.2,
                          message=lambda: f"replica {name} restarted; the cluster said:\n{self.output()[-2000:]}")

    def postgres(self):
        """The cluster's PostgresServer (same folder and port), to stop and start it behind the cluster's back."""
        from digitdnn.cluster.postgres import PostgresServer

        return PostgresServer(self.state_dir / "postgres", self.postgres_port or self.record()["postgres"]["port"])

    def stop_postgres(self, mode: str = "fast") -> None:
        """Stop PostgreSQL cleanly (the cluster reports it and leaves it stopped until start_postgres)."""
        self.postgres().stop(mode)

    def start_postgres(self) -> None:
        self.postgres().start()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM to the cluster command; its exit status (killed, and -9, if it has not ended within `timeout`)."""
        if self.process.poll() is None:
            with contextlib.suppress(FileNotFoundError):
                self.record()  # the pids of the last replicas, for the test that nothing is left
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def end_left_overs(self) -> None:
        """After a test that killed the cluster command itself: kill what it left running."""
        for pid in self.pids_seen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.postgres_port and self.postgres().running():
            self.postgres().stop("immediate")


def cluster_command(state_dir: Path, replicas: int, port: int, workers: int = 0) -> list[str]:
    return [sys.executable, "-m", "digitdnn", "cluster", "--replicas", str(replicas), "--port", str(port),
            "--state-dir", str(state_dir), *(["--workers", str(workers)] if workers else [])]


@contextlib.contextmanager
def running_cluster(replicas: int = 2, timeout: float = 180, workers: int = 0,
                    **env_vars: str) -> Iterator[RunningCluster]:
    """`digitdnn cluster` with `replicas` page servers and `workers` training workers on a free port, the test data
    limit, private models and drawings, and `env_vars`; skips (saying why) where HAProxy, PostgreSQL or (with
    workers) Redis is missing. Stopped and its folder removed when the with-block ends."""
    reason = missing_programs(workers > 0)
    if reason:
        pytest.skip(f"no cluster here: {reason}")
    folder = Path(tempfile.mkdtemp(prefix="digitdnn-cluster-"))
    folder.chmod(0o755)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", DIGITDNN_DATA_LIMIT=TEST_DATA_LIMIT,
               DIGITDNN_MODELS_DIR=str(folder / "models"), DIGITDNN_DRAWINGS_DB=str(folder / "drawings.sqlite"),
               **env_vars)
    env.pop("DIGITDNN_DATABASE_URL", None)
    env.pop("DIGITDNN_QUEUE_URL", None)
    log_path = folder / "cluster.log"
    start = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cluster_command(folder / "state", replicas, free_port(), workers), cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    cluster = RunningCluster(process, folder / "state", log_path)
    try:
        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"digitdnn cluster exited with {process.returncode}:\n{cluster.output()[-3000:]}")
            return (cluster.state_dir / "cluster.json").is_file() and health(cluster.proxy_url)

        wait_until(ready, timeout, interval=0.2, message=lambda: f"the cluster to start:\n{cluster.output()[-3000:]}")
        cluster.started_in = time.monotonic() - start
        yield cluster
    finally:
        cluster.stop()
        cluster.end_left_overs()
        shutil.rmtree(folder, ignore_errors=True)
