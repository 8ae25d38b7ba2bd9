"""The training queue's Redis layout (digitdnn/training/queue_link.py) against a real Redis: admission (one live run
per session, a bounded queue, runs whose page has gone pruned) under racing pages, polling, cancelling, the worker's
side of the keys, and a page client that fails at once while Redis is down and works again when it is back."""
import threading
import time
import uuid

import pytest

from digitdnn.config import TrainConfig
from digitdnn.training.queue_link import (
    BUSY,
    FAIL_FAST_SECONDS,
    UNAVAILABLE,
    WANTED_TTL,
    QueueLink,
    QueueUnavailable,
    RunRefused,
    run_key,
)
from digitdnn.training.run_data import RunData
from digitdnn.training.run_request import RunRequest

pytestmark = pytest.mark.cluster


def request(session: str = "s1", **changes) -> RunRequest:
    fields = dict(run=uuid.uuid4().hex, name="Run 1", session=session, config=TrainConfig(hidden_units=(8,), epochs=1),
                  data=RunData("mnist", (500, 100)), warm_start=False, max_seconds=60.0)
    return RunRequest(**{**fields, **changes})


@pytest.fixture
def link(redis_url) -> QueueLink:
    return QueueLink(redis_url)


def finish(link: QueueLink, run: str) -> None:
    """What a worker leaves behind a finished job (RQ's status), without a worker."""
    link.redis.lrem(link.queue.key, 0, run)
    link.redis.hset(f"rq:job:{run}", "status", "finished")


def test_racing_pages_are_admitted_once_per_session_and_up_to_the_limit(link, redis_url):
    outcomes: dict[str, list[str]] = {}
    lock = threading.Lock()

    def submit(i: int) -> None:
        session = f"s{i % 15}"
        try:
            QueueLink(redis_url).submit(request(session), None, max_waiting=5)  # a page each
            outcome = "ok"
        except RunRefused as refused:
            outcome = "busy" if str(refused) == BUSY else str(refused)
        with lock:
            outcomes.setdefault(session, []).append(outcome)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [outcome for session in outcomes.values() for outcome in session]
    assert flat.count("ok") == 5
    assert all(session.count("ok") <= 1 for session in outcomes.values())
    assert set(flat) <= {"ok", "busy", "The training queue is full (5 runs waiting): try again in a minute."}
    assert link.redis.zcard("digitdnn:waiting") == 5
    assert link.redis.llen(link.queue.key) == 5


def test_a_session_gets_a_second_run_once_its_first_has_ended_or_was_cancelled(link):
    first = request("s1")
    link.submit(first, None, max_waiting=5)
    with pytest.raises(RunRefused, match="still training or waiting"):
        link.submit(request("s1"), None, max_waiting=5)
    link.submit(request("s2"), None, max_waiting=5)  # another session is not held up

    link.cancel(first.run)
    second = request("s1")
    link.submit(second, None, max_waiting=5)

    finish(link, second.run)  # its page still polls (wanted), but the run is over
    link.submit(request("s1"), None, max_waiting=5)


def test_a_full_queue_refuses_until_a_page_has_gone(link):
    runs = [request(f"s{i}") for i in range(3)]
    for run in runs:
        link.submit(run, None, max_waiting=3)
    with pytest.raises(RunRefused, match=r"full \(3 runs waiting\)"):
        link.submit(request("s9"), None, max_waiting=3)

    link.redis.delete(run_key(runs[1].run, "wanted"))  # its page closed: its wanted key expired
    link.submit(request("s9"), None, max_waiting=3)
    assert runs[1].run.encode() not in link.redis.zrange("digitdnn:waiting", 0, -1)

    link.left_waiting(runs[0].run)  # a worker started it: it no longer counts
    link.submit(request("s8"), None, max_waiting=3)


def test_submit_stores_the_request_and_queues_a_job_carrying_only_the_run_id(link):
    asked = request(warm_start=True)
    link.submit(asked, b"start weights", max_waiting=5)

    assert link.request(asked.run) == asked
    assert link.start_weights(asked.run) == b"start weights"
    assert link.wanted(asked.run)
    job = link.queue.fetch_job(asked.run)
    assert (job.func_name, job.args, job.kwargs) == ("digitdnn.workers.task.run_training", [asked.run], {})
    assert b"pickle" not in link.redis.hget(f"rq:job:{asked.run}", "data")


def test_poll_reads_news_from_the_cursor_and_the_run_state(link):
    asked = request()
    link.submit(asked, None, max_waiting=5)
    link.redis.delete(run_key(asked.run, "wanted"))
    poll = link.poll(asked.run, 0, still_wanted=False)
    assert (poll.news, poll.progress, poll.place, poll.waiting, poll.beat, poll.status, poll.wanted_keys_exist) == \
        ([], None, 1, 1, False, "queued", True)
    assert not link.wanted(asked.run)
    link.poll(asked.run, 0, still_wanted=True)
    assert 0 < link.redis.ttl(run_key(asked.run, "wanted")) <= WANTED_TTL

    link.beat(asked.run)
    link.publish(asked.run, '{"kind": "a"}')
    link.publish(asked.run, '{"kind": "b"}', weights=b"w1", epoch=1)
    link.set_progress(asked.run, '{"kind": "progress"}')
    link.publish(asked.run, '{"kind": "c"}', weights=b"final", result=True)
    poll = link.poll(asked.run, 1, still_wanted=True)
    assert poll.news == [b'{"kind": "b"}', b'{"kind": "c"}']
    assert (poll.progress, poll.beat) == ('{"kind": "progress"}', True)
    assert link.epoch_weights(asked.run, 1) == b"w1"
    assert link.epoch_weights(asked.run, 2) is None
    assert link.result_weights(asked.run) == b"final"

    gone = uuid.uuid4().hex  # a run the queue lost (restarted empty)
    poll = link.poll(gone, 0, still_wanted=True)
    assert (poll.status, poll.wanted_keys_exist, poll.place) == (None, False, 0)


def test_cancel_moves_later_runs_up_and_tells_a_started_run_to_stop(link):
    runs = [request(f"s{i}") for i in range(3)]
    for run in runs:
        link.submit(run, None, max_waiting=5)
    assert [link.poll(run.run, 0, True).place for run in runs] == [1, 2, 3]

    link.cancel(runs[0].run)
    assert [link.poll(run.run, 0, False).place for run in runs] == [0, 1, 2]
    gone = link.poll(runs[0].run, 0, False)
    assert (gone.status, gone.waiting) == ("canceled", 2)
    assert link.stop_reason(runs[0].run) == "cancelled"
    assert not link.wanted(runs[0].run)

    link.redis.lrem(link.queue.key, 0, runs[1].run)  # a worker took it
    link.cancel(runs[1].run)
    assert link.stop_reason(runs[1].run) == "cancelled"
    link.stop(runs[2].run, "stopped: its page asked")
    assert link.stop_reason(runs[2].run) == "stopped: its page asked"


def test_run_ids_are_checked_before_they_make_a_key(link):
    with pytest.raises(ValueError, match="32 hexadecimal"):
        link.poll("../../x", 0, True)
    with pytest.raises(ValueError, match="gone"):
        link.request(uuid.uuid4().hex)


def test_a_page_fails_at_once_while_redis_is_down_and_recovers_when_it_is_back(link, redis_server):
    asked = request()
    link.submit(asked, None, max_waiting=5)
    redis_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(QueueUnavailable, match="^Training is unavailable just now"):
            link.poll(asked.run, 0, True)
        assert time.monotonic() - started < 1.0
    finally:
        redis_server.start()
    failed_at = time.monotonic()
    with pytest.raises(QueueUnavailable) as again:  # back already, but not tried for FAIL_FAST_SECONDS
        link.submit(request("s2"), None, max_waiting=5)
    assert str(again.value) == UNAVAILABLE
    assert time.monotonic() - failed_at < FAIL_FAST_SECONDS
    time.sleep(FAIL_FAST_SECONDS)
    poll = link.poll(asked.run, 0, True)  # the same client works again; the queue restarted empty
    assert (poll.status, poll.wanted_keys_exist) == (None, False)
    link.submit(request("s1"), None, max_waiting=5)
