"""`digitdnn cluster`: PostgreSQL, two page replicas, HAProxy, Redis and a training worker started on this machine
(one cluster for the module, tests/cluster.py), and the parts checked without it: the proxy's configuration, a dead
child's back-off, a missing HAProxy or redis-server."""
import asyncio
import shutil
import signal
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cluster import cluster_command, health, missing_programs, pid_alive, running_cluster

from digitdnn.cluster.children import Child
from digitdnn.cluster.haproxy import haproxy_config
from testkit import ROOT
from testkit.server import free_port
from testkit.waiting import wait_until


@pytest.fixture(scope="module")
def cluster(default_model):
    with running_cluster(replicas=2, workers=1, DIGITDNN_DEFAULT_MODEL=str(default_model)) as running:
        yield running


def replica_cookie(url: str) -> str:
    """The DIGITDNN_REPLICA value the proxy gives a new browser (no cookies) on GET `url`."""
    with urllib.request.urlopen(url, timeout=10) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    values = [c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("DIGITDNN_REPLICA=")]
    assert len(values) == 1, cookies
    return values[0]


@pytest.mark.cluster
def test_cluster_env_holds_the_url_of_a_working_database(cluster):
    import psycopg

    env_file = cluster.state_dir / "cluster.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the database's password
    assert stat.S_IMODE((cluster.state_dir / "cookie-secret").stat().st_mode) == 0o600
    with psycopg.connect(cluster.database_url, connect_timeout=10) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == ("digitdnn",)
        connection.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")  # for the new start, last


@pytest.mark.cluster
def test_the_proxy_answers_and_new_browsers_spread_over_the_replicas(cluster):
    assert health(cluster.proxy_url)
    assert sorted(cluster.replicas) == ["r1", "r2"]
    assert all(health(cluster.replica_url(name)) for name in cluster.replicas)
    assert {replica_cookie(cluster.proxy_url) for _ in range(2)} == {"r1", "r2"}


@pytest.mark.cluster
def test_the_page_runs_through_the_proxy_over_its_websocket(cluster):
    from testkit.streamlit_client import PageSession

    async def first_run() -> list[str]:
        session = PageSession(cluster.proxy_url)
        await session.connect()
        try:
            assert await session.wait_for(lambda run: run.finished, 90)
            return session.run.texts
        finally:
            await session.close()

    for _ in range(2):  # one session on each replica
        assert "Train the network" in asyncio.run(first_run())


@pytest.mark.cluster
def test_a_killed_replica_is_restarted_and_healthy_again(cluster):
    old_pid = cluster.kill_replica("r1")
    new_pid = cluster.wait_replica_restarted("r1", old_pid, timeout=60)
    assert new_pid != old_pid and not pid_alive(old_pid)
    assert "r1 exited (killed by SIGKILL)" in cluster.output()
    assert health(cluster.proxy_url)


@pytest.mark.cluster
def test_workers_get_a_redis_of_their_own_behind_a_password(cluster):
    import redis

    url = cluster.queue_url
    password = (cluster.state_dir / "redis-password").read_text().strip()
    assert stat.S_IMODE((cluster.state_dir / "redis-password").stat().st_mode) == 0o600
    assert url.startswith("redis://") and password in url
    record = cluster.record()
    assert f"127.0.0.1:{record['redis']['port']}" in url and sorted(record["workers"]) == ["w1"]
    assert redis.Redis.from_url(url, socket_timeout=5).ping()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    with pytest.raises(redis.AuthenticationError):  # without the password (no retries: they take 4 s)
        redis.Redis(port=record["redis"]["port"], socket_timeout=5, retry=Retry(NoBackoff(), 0)).ping()
    worker = record["workers"]["w1"]["pid"]
    assert password not in Path(f"/proc/{worker}/cmdline").read_text()  # every user of the machine can read it
    assert password not in cluster.output() and password not in (cluster.state_dir / "cluster.json").read_text()
    for replica in cluster.replicas:  # each replica hands its runs to the queue
        environ = Path(f"/proc/{cluster.replica_pid(replica)}/environ").read_bytes().split(b"\0")
        assert f"DIGITDNN_QUEUE_URL={url}".encode() in environ
    assert "starting the training workers, 1 of them" in cluster.output()


@pytest.mark.cluster
def test_the_worker_takes_runs_from_the_queue(cluster):
    from digitdnn.training.queue_link import QueueLink

    link = QueueLink(cluster.queue_url)
    wait_until(lambda: link.workers() >= 1, 30, message="the worker to register with Redis")


@pytest.mark.cluster
def test_a_killed_worker_and_a_killed_redis_are_restarted(cluster):
    import redis

    for part in ("w1", "redis"):
        old_pid = cluster.kill_part(part)
        new_pid = cluster.wait_part_restarted(part, old_pid, timeout=15)
        assert new_pid != old_pid and not pid_alive(old_pid)
        assert f"{part} exited (killed by SIGKILL)" in cluster.output()
    wait_until(lambda: _answers(redis.Redis.from_url(cluster.queue_url, socket_timeout=2)), 15,
               message="Redis to answer again")


def _answers(client) -> bool:
    import redis

    try:
        return client.ping()
    except redis.ConnectionError:
        return False


@pytest.mark.cluster
def test_sigterm_stops_every_part_and_exits_0(cluster):  # last: it ends the module's cluster
    postgres = cluster.postgres()
    assert postgres.running()
    record = cluster.record()
    parts = [record["redis"]["pid"], record["workers"]["w1"]["pid"]]
    assert all(pid_alive(pid) for pid in parts)
    assert cluster.stop() == 0
    assert [pid for pid in cluster.pids_seen if pid_alive(pid)] == []
    assert [pid for pid in parts if pid_alive(pid)] == []
    assert not postgres.running()
    assert not (cluster.state_dir / "cluster.json").exists()
    assert "the cluster stopped" in cluster.output()


def test_a_missing_haproxy_is_one_sentence_and_nothing_starts(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    done = subprocess.run(cluster_command(tmp_path / "state", 2, free_port()), cwd=ROOT, capture_output=True,
                          text=True, env={"PATH": str(empty), "HOME": str(tmp_path)}, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "digitdnn: error: haproxy was not found: install HAProxy (Debian: apt-get install haproxy)."]
    assert not (tmp_path / "state" / "postgres").exists()


def test_a_port_taken_is_one_sentence_and_nothing_starts(tmp_path):
    import socket

    if missing_programs():
        pytest.skip(f"no cluster here: {missing_programs()}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(cluster_command(tmp_path / "state", 2, port), cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"digitdnn: error: the proxy cannot listen on 127.0.0.1 port {port} (Address already in use): choose "
        "another --port or --address."]
    assert not (tmp_path / "state" / "postgres").exists()


def test_a_negative_worker_count_is_refused(tmp_path):
    done = subprocess.run(cluster_command(tmp_path / "state", 2, free_port(), workers=-1), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --workers: must be 0 or more, got -1" in done.stderr
    assert not (tmp_path / "state").exists()


def test_a_missing_redis_server_is_one_sentence_and_nothing_starts(tmp_path):
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("HAProxy is not installed (apt-get install haproxy)")
    programs = tmp_path / "bin"
    programs.mkdir()
    (programs / "haproxy").symlink_to(haproxy)
    done = subprocess.run(cluster_command(tmp_path / "state", 1, free_port(), workers=1), cwd=ROOT,
                          capture_output=True, text=True, env={"PATH": str(programs), "HOME": str(tmp_path)},
                          timeout=60)
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("digitdnn: error: redis-server was not found: ") and line.endswith(".")
    assert not (tmp_path / "state" / "postgres").exists()


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_haproxy_accepts_the_configuration(tmp_path, address):
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("HAProxy is not installed (apt-get install haproxy)")
    text = haproxy_config([("r1", 9001), ("r2", 9002)], 8501, address)
    assert "cookie DIGITDNN_REPLICA insert nocache" in text
    assert "server r2 127.0.0.1:9002 cookie r2 check" in text
    (tmp_path / "haproxy.cfg").write_text(text)
    checked = subprocess.run([haproxy, "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_child_that_keeps_dying_is_restarted_ever_later(tmp_path):
    now = [0.0]
    child = Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "crasher.log",
                  clock=lambda: now[0])
    child.start()
    delays = []
    for _ in range(4):
        child.process.wait()
        line = child.revive()
        assert line is not None and line.startswith("crasher exited (exit status 3): restarting it in ")
        delays.append(float(line.rsplit(" ", 2)[1]))
        assert child.revive() is None  # not yet
        now[0] += delays[-1]
        assert child.revive() == f"crasher restarted (pid {child.pid})"
    assert delays == [1, 2, 4, 8]
    child.process.wait()
    now[0] += 60  # it ran a minute: the back-off starts again
    assert child.revive().endswith("restarting it in 1 s")



@pytest.mark.cluster
def test_a_new_start_from_the_same_folder_keeps_the_database_and_the_cookie_secret(cluster):  # after the stop
    import psycopg

    assert cluster.process.poll() is not None
    secret = (cluster.state_dir / "cookie-secret").read_text()
    log_path = cluster.state_dir.parent / "second-start.log"
    with open(log_path, "wb") as log:
        again = subprocess.Popen(cluster_command(cluster.state_dir, 1, free_port()), cwd=ROOT, stdout=log,
                                 stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "the page is at" in log_path.read_text() or again.poll() is not None, 120)
        assert again.poll() is None, log_path.read_text()
        assert (cluster.state_dir / "cookie-secret").read_text() == secret
        with psycopg.connect(cluster.database_url, connect_timeout=10) as connection:  # cluster.env: the new port
            assert connection.execute("SELECT n FROM kept").fetchall() == [(7,)]
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(60) == 0
