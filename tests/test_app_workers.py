"""The page with $DIGITDNN_QUEUE_URL: Train sends the run to the training workers' queue (here with no worker
serving it), a full queue refuses a run with a notice, and so does a URL that is not a Redis one."""
import pytest
from app_session import open_session, run_until, texts

from digitdnn.config import TrainConfig
from digitdnn.training.run_data import RunData


@pytest.fixture
def page_with_queue(page_env, redis_url, monkeypatch):
    monkeypatch.setenv("DIGITDNN_QUEUE_URL", redis_url)
    return open_session()


@pytest.mark.cluster
def test_train_puts_the_run_in_the_workers_queue(page_with_queue, redis_url):
    from digitdnn.training.queue_link import QUEUE
    from digitdnn.training.remote_run import RemoteRun

    page = page_with_queue
    page.button(key="train").click().run()
    run_until(page, lambda at: "Run 1: waiting: place 1 of 1 in the queue" in texts(at.sidebar), timeout=20)
    assert "no training worker is running" in texts(page.sidebar)
    job = page.session_state["session"].job
    assert isinstance(job, RemoteRun)
    assert job.link.redis.lrange(f"rq:queue:{QUEUE}", 0, -1) == [job.run.encode()]
    page.button(key="stop").click().run()
    run_until(page, lambda at: at.session_state["session"].job is None, timeout=20)
    assert "Run 1: stopped before training began" in texts(page.sidebar)
    assert not job.link.redis.llen(f"rq:queue:{QUEUE}")


@pytest.mark.cluster
def test_a_full_queue_refuses_the_run_with_a_notice(page_env, redis_url, monkeypatch):
    from digitdnn.training.queue_link import QueueLink
    from digitdnn.training.run_request import RunRequest

    monkeypatch.setenv("DIGITDNN_MAX_WAITING_RUNS", "1")
    monkeypatch.setenv("DIGITDNN_QUEUE_URL", redis_url)
    other = RunRequest(run="a" * 32, name="Run 1", session="another tab", config=TrainConfig(epochs=1),
                       data=RunData("mnist", None), warm_start=False, max_seconds=60.0)
    link = QueueLink(redis_url)
    link.submit(other, None, 1)
    link.poll(other.run, 0, True)  # its page is there: the run counts
    page = open_session()
    page.button(key="train").click().run()
    assert "The training queue is full (1 runs waiting): try again in a minute." in texts(page.sidebar)
    assert page.session_state["session"].job is None and page.session_state["session"].run_count == 0


def test_a_queue_url_that_is_not_redis_is_said_plainly(page_env, monkeypatch):
    monkeypatch.setenv("DIGITDNN_QUEUE_URL", "http://user:secret@example.org/")
    page = open_session()
    page.button(key="train").click().run()
    said = texts(page.sidebar)
    assert "Cannot train: DIGITDNN_QUEUE_URL must be a redis://, rediss:// or unix:// URL" in said
    assert "secret" not in said and page.session_state["session"].job is None
