"""`streamlit run app.py` as `make run` runs it, on a free loopback port, for the browser tests and the benchmarks;
wait_healthy polls until it answers, ServerPool shares one server among the test modules with the same settings."""
import contextlib
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testkit import ROOT
from testkit.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int, cpus: set[int] | None = None,
                 **env_vars: str) -> tuple[subprocess.Popen, Path]:
    """`streamlit run app.py` as `make run` runs it, on `port`, with extra environment variables; log in `folder`.
    `cpus`: the cores it (and the processes it starts) may run on, as `taskset` would pin it."""
    env = dict(os.environ, DIGITDNN_MODELS_DIR=str(folder / "models"), TF_CPP_MIN_LOG_LEVEL="2", **env_vars)
    log_path = folder / "streamlit.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    return process, log_path


def stop_server(process: subprocess.Popen, timeout: float = 15) -> None:
    """End the server: terminate, and kill it if it has not gone within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 90) -> None:
    """Return once the server answers its health check; an error with the end of its log if it died or did not
    answer within `timeout` seconds."""
    def log() -> str:
        return f"streamlit on {url}, whose log ends:\n{log_path.read_text()[-3000:]}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode}: {log()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                return response.read().strip() == b"ok"
        except OSError:
            return False

    wait_until(healthy, timeout, interval=0.05, message=log)


@dataclass(frozen=True)
class Server:
    """A running page server: its address, its process and the file its output goes to."""

    url: str
    process: subprocess.Popen
    log_path: Path


@contextlib.contextmanager
def running_server(folder: Path, cpus: set[int] | None = None, timeout: float = 90,
                   **env_vars: str) -> Iterator[Server]:
    """start_server on a free port, waited for until healthy, stopped when the with-block ends."""
    port = free_port()
    process, log_path = start_server(folder, port, cpus, **env_vars)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_healthy(server.url, process, log_path, timeout=timeout)
        yield server
    finally:
        stop_server(process)


@contextlib.contextmanager
def served(folder: Path, **env_vars: str) -> Iterator[str]:
    """A running `streamlit run app.py` (running_server) for the with-block; yields its URL."""
    with running_server(folder, timeout=60, **env_vars) as server:
        yield server.url


class ServerPool(contextlib.ExitStack):
    """Page servers shared by whoever asks for the same settings: each started (served) on its first request, all
    stopped when the with-block ends. A test session starts one server per set of settings, not one per module."""

    def __init__(self, folder: Path, **env_vars: str):
        super().__init__()
        self.folder, self.env_vars = folder, env_vars
        self.urls: dict[tuple[tuple[str, str], ...], str] = {}

    def url(self, **env_vars: str) -> str:
        """The URL of the server with these environment variables (besides the pool's own)."""
        settings = tuple(sorted(env_vars.items()))
        if settings not in self.urls:
            folder = self.folder / f"server-{len(self.urls) + 1}"
            folder.mkdir(parents=True)
            self.urls[settings] = self.enter_context(served(folder, **{**self.env_vars, **env_vars}))
        return self.urls[settings]
