"""The Redis layout of the training runs that workers train (`digitdnn worker`), and the calls of both sides.

A page submits a run: its request (run_request.RunRequest as JSON) and, for a warm start, its starting weights go
into keys of their own, and an RQ job that carries nothing but the run's id goes onto the queue QUEUE (JSON
serializer: nothing is ever unpickled). A worker's job (digitdnn.workers.task.run_training, TASK) reads the request,
trains, and tells the page how it goes through the run's keys; the page polls them. Keys, all under
`digitdnn:run:<run id>:` (the RQ job's id is the run's id):

    request      the RunRequest JSON (REQUEST_TTL)          start        starting weights, npz (START_TTL)
    wanted       the page still waits (WANTED_TTL, refreshed by each poll; gone: the worker drops the run)
    stop         why the page asked the run to stop         beat         the worker is alive (BEAT_TTL, every 2 s)
    news         its events, a list of run_events JSON lines (NEWS_TTL)
    progress     the latest run_events.progress line        weights:<n>  epoch n's weights (EPOCH_WEIGHTS_TTL)
    result       the final weights (RESULT_TTL)

and `digitdnn:waiting` (sorted set: runs not yet started -> submit time), `digitdnn:session:<sid>` (a session's
latest run). One Lua script admits a run atomically: at most one live run per session, at most `max_waiting` runs
waiting (runs whose page has gone are dropped from the count first).

The page's client (page=True) never retries and fails at once for FAIL_FAST_SECONDS after a failure, so that a page
never hangs on a queue that is down; every failure is QueueUnavailable, a plain sentence. The worker's client
(page=False) keeps redis-py's retries.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from digitdnn.training.run_request import RUN_ID, RunRequest

QUEUE = "digitdnn-training"
TASK = "digitdnn.workers.task.run_training"
RUN_PREFIX = "digitdnn:run:"
WAITING_KEY = "digitdnn:waiting"
SESSION_PREFIX = "digitdnn:session:"

REQUEST_TTL = 24 * 3600
START_TTL = 3600
WANTED_TTL = 10
BEAT_TTL = 10
BEAT_SECONDS = 2.0
NEWS_TTL = 3600
EPOCH_WEIGHTS_TTL = 120
RESULT_TTL = 600
JOB_MARGIN_SECONDS = 600  # a job may run this long past its time limit (loading, calibration) before RQ ends it
FAIL_FAST_SECONDS = 2.0   # after a failure the page's client fails at once for this long
MAX_REASON_CHARS = 300
UNAVAILABLE = "Training is unavailable just now: try again in a minute."
BUSY = "A run of yours is still training or waiting: stop it before starting another."
T = TypeVar("T")

# KEYS[1] waiting zset, KEYS[2] the session's key; ARGV: run id, now, max waiting, session ttl, run prefix,
# RQ job-key prefix, wanted ttl. Returns 'ok', 'busy' or 'full'.
_ADMIT = """
local stale = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', ARGV[5] .. id .. ':wanted') == 0 then table.insert(stale, id) end
end
for i = 1, #stale, 1000 do
  redis.call('ZREM', KEYS[1], unpack(stale, i, math.min(i + 999, #stale)))
end
local mine = redis.call('GET', KEYS[2])
if mine and redis.call('EXISTS', ARGV[5] .. mine .. ':wanted') == 1 then
  local status = redis.call('HGET', ARGV[6] .. mine, 'status')
  if not status or status == 'queued' or status == 'started' or status == 'deferred' or status == 'scheduled' then
    return 'busy'
  end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[4])
redis.call('SET', ARGV[5] .. ARGV[1] .. ':wanted', '1', 'EX', ARGV[7])
return 'ok'
"""


class QueueUnavailable(RuntimeError):
    """The training queue cannot be reached just now: a plain sentence."""


class RunRefused(ValueError):
    """The queue refused a run (this session has one already, or the queue is full): a plain sentence."""


@dataclass(frozen=True)
class RunPoll:
    """What one poll saw of a run."""

    news: list[bytes]        # the run's events since the cursor, in order (run_events JSON lines)
    progress: str | None     # the latest run_events.progress line, if any
    place: int               # 1-based place in the queue; 0 when not queued (started, finished or gone)
    waiting: int             # jobs queued in all
    beat: bool               # a worker beat for this run in the last BEAT_TTL seconds
    status: str | None       # the RQ job's status (JobStatus value), None when the job is gone
    wanted_keys_exist: bool  # the run's keys are there (False: the queue lost them, e.g. restarted empty)


def run_key(run: str, name: str) -> str:
    """The key `name` of run `run` (32 lowercase hex digits, else ValueError)."""
    if not isinstance(run, str) or not RUN_ID.fullmatch(run):
        raise ValueError("a run id is 32 hexadecimal digits")
    return f"{RUN_PREFIX}{run}:{name}"


class QueueLink:
    """Runs on the training queue at `url`: the page's calls (submit, poll, stop, cancel, ...) and the worker's
    (request, publish, beat, ...). page=True: fail fast (see the module docstring); page=False: keep retrying."""

    def __init__(self, url: str, *, page: bool = True) -> None:
        if page:
            self._attach(Redis.from_url(url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2,
                                        socket_timeout=5), page=True)
        else:
            self._attach(Redis.from_url(url), page=False)

    @classmethod
    def over(cls, connection: Redis) -> QueueLink:
        """A worker-side link over an open connection (the work horse's, from RQ)."""
        link = cls.__new__(cls)
        link._attach(connection, page=False)
        return link

    def _attach(self, connection: Redis, page: bool) -> None:
        self.redis, self.page = connection, page
        self.queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
        self._admit = connection.register_script(_ADMIT)
        self._failed_at: float | None = None

    def _call(self, action: Callable[[], T]) -> T:
        """`action()`, every Redis failure as QueueUnavailable (at once, while the page's client fails fast)."""
        if self.page and self._failed_at is not None and time.monotonic() - self._failed_at < FAIL_FAST_SECONDS:
            raise QueueUnavailable(UNAVAILABLE)
        try:
            result = action()
        except RedisError as exc:
            self._failed_at = time.monotonic()
            raise QueueUnavailable(UNAVAILABLE) from exc
        self._failed_at = None
        return result

    def _get(self, key: str) -> bytes | None:
        return cast("bytes | None", self._call(lambda: self.redis.get(key)))

    # ---- the page's side ----------------------------------------------------------------------------------------

    def submit(self, request: RunRequest, start: bytes | None, max_waiting: int) -> None:
        """Admit the run and queue it; RunRefused when its session has a live run or `max_waiting` runs wait."""
        run = request.run

        def admit_and_enqueue() -> None:
            verdict = self._admit(keys=[WAITING_KEY, SESSION_PREFIX + request.session],
                                  args=[run, time.time(), max_waiting, REQUEST_TTL, RUN_PREFIX,
                                        Job.redis_job_namespace_prefix, WANTED_TTL])
            if verdict == b"busy":
                raise RunRefused(BUSY)
            if verdict == b"full":
                raise RunRefused(f"The training queue is full ({max_waiting} runs waiting): try again in a minute.")
            with self.redis.pipeline() as pipe:
                pipe.set(run_key(run, "request"), request.to_json(), ex=REQUEST_TTL)
                if start is not None:
                    pipe.set(run_key(run, "start"), start, ex=START_TTL)
                pipe.execute()
            self.queue.enqueue(TASK, run, job_id=run, job_timeout=int(request.max_seconds) + JOB_MARGIN_SECONDS,
                               result_ttl=RESULT_TTL, failure_ttl=NEWS_TTL, ttl=REQUEST_TTL,
                               description=f"training run {run}")

        self._call(admit_and_enqueue)

    def poll(self, run: str, cursor: int, still_wanted: bool) -> RunPoll:
        """The run's news from `cursor` (events read so far) on, and its state, in one atomic round trip;
        `still_wanted` refreshes its `wanted` key (the worker drops a run whose key has expired)."""

        def read() -> RunPoll:
            with self.redis.pipeline(transaction=True) as pipe:
                if still_wanted:
                    pipe.set(run_key(run, "wanted"), b"1", ex=WANTED_TTL)
                pipe.lrange(run_key(run, "news"), cursor, -1)
                pipe.get(run_key(run, "progress"))
                pipe.lpos(self.queue.key, run)
                pipe.llen(self.queue.key)
                pipe.exists(run_key(run, "beat"))
                pipe.hget(Job.key_for(run), "status")
                pipe.exists(run_key(run, "request"))
                replies = pipe.execute()
            news, progress, position, waiting, beat, status, request = replies[1:] if still_wanted else replies
            return RunPoll(news=list(news), progress=None if progress is None else progress.decode(),
                           place=0 if position is None else position + 1, waiting=waiting, beat=bool(beat),
                           status=None if status is None else status.decode(), wanted_keys_exist=bool(request))

        return self._call(read)

    def epoch_weights(self, run: str, epoch: int) -> bytes | None:
        """Epoch `epoch`'s weights (weights_wire npz), None once they have expired."""
        return self._get(run_key(run, f"weights:{int(epoch)}"))

    def result_weights(self, run: str) -> bytes | None:
        """The run's final weights (weights_wire npz), None if there are none (or they expired)."""
        return self._get(run_key(run, "result"))

    def stop(self, run: str, reason: str) -> None:
        """Ask the worker to stop the run after its current chunk, keeping its weights so far."""
        self._call(lambda: self.redis.set(run_key(run, "stop"), reason[:MAX_REASON_CHARS], ex=REQUEST_TTL))

    def cancel(self, run: str) -> None:
        """Nobody waits for the run any more: a queued job is cancelled (later runs move up), the run leaves the
        waiting count, and a started one is told to stop."""

        def cancel() -> None:
            if self.redis.lrem(self.queue.key, 0, run):
                try:
                    Job.fetch(run, connection=self.redis, serializer=JSONSerializer).cancel()
                except (NoSuchJobError, InvalidJobOperation):
                    pass
            with self.redis.pipeline() as pipe:
                pipe.zrem(WAITING_KEY, run)
                pipe.delete(run_key(run, "wanted"))
                pipe.set(run_key(run, "stop"), "cancelled", ex=REQUEST_TTL)
                pipe.execute()

        self._call(cancel)

    def workers(self) -> int:
        """How many RQ workers serve QUEUE (a killed one counts until its registration expires)."""
        return self._call(lambda: Worker.count(connection=self.redis, queue=self.queue))

    # ---- the worker's side --------------------------------------------------------------------------------------

    def request(self, run: str) -> RunRequest:
        """The run's request, checked (RunRequest.from_json); ValueError when it is gone or refused."""
        text = self._get(run_key(run, "request"))
        if text is None:
            raise ValueError("The run's settings are gone from the training queue.")
        request = RunRequest.from_json(text)
        if request.run != run:
            raise ValueError("The run's settings belong to another run.")
        return request

    def start_weights(self, run: str) -> bytes | None:
        """The weights a warm start begins from (weights_wire npz), None if there are none."""
        return self._get(run_key(run, "start"))

    def wanted(self, run: str) -> bool:
        """A page still waits for the run (its `wanted` key has not expired)."""
        return bool(self._call(lambda: self.redis.exists(run_key(run, "wanted"))))

    def stop_reason(self, run: str) -> str | None:
        """Why the page asked the run to stop, None while it has not."""
        reason = self._get(run_key(run, "stop"))
        return None if reason is None else reason.decode(errors="replace")

    def beat(self, run: str) -> None:
        """Say that the run's worker is alive (call every BEAT_SECONDS; it lasts BEAT_TTL)."""
        self._call(lambda: self.redis.set(run_key(run, "beat"), b"1", ex=BEAT_TTL))

    def left_waiting(self, run: str) -> None:
        """The run has started: it no longer counts toward the queue's limit."""
        self._call(lambda: self.redis.zrem(WAITING_KEY, run))

    def publish(self, run: str, event: str, weights: bytes | None = None, epoch: int | None = None,
                result: bool = False) -> None:
        """Append `event` to the run's news; `weights` (npz) are stored first, as epoch `epoch`'s and/or as the
        run's result, so that a page reading the event finds them."""

        def push() -> None:
            with self.redis.pipeline(transaction=True) as pipe:
                if weights is not None and epoch is not None:
                    pipe.set(run_key(run, f"weights:{int(epoch)}"), weights, ex=EPOCH_WEIGHTS_TTL)
                if weights is not None and result:
                    pipe.set(run_key(run, "result"), weights, ex=RESULT_TTL)
                pipe.rpush(run_key(run, "news"), event)
                pipe.expire(run_key(run, "news"), NEWS_TTL)
                pipe.execute()

        self._call(push)

    def set_progress(self, run: str, event: str) -> None:
        """Replace the run's latest progress line (run_events.progress)."""
        self._call(lambda: self.redis.set(run_key(run, "progress"), event, ex=NEWS_TTL))
