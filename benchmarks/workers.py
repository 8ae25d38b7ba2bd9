"""Training on workers: a class's worth of runs queued at once through Redis, drained by one `digitdnn worker` and
then by two, in one run; then students drawing through `digitdnn cluster` while runs train on its workers, against
the same with the runs training inside the page replicas (benchmarks/students_cluster.py).

    python -m benchmarks.workers [--quick] [--runs 20] [--epochs 3] [--workers 1 2] [--no-students]

The drain: a Redis of its own (digitdnn/cluster/redis.py, in a temporary folder, behind a password) and, for each
worker count, that many `digitdnn worker` processes (one training thread each, their default); --runs runs of the
page's default preset (--epochs each, all of MNIST) submitted at once through QueueLink.submit, one session each, as
that many students pressing Train at the same moment, kept wanted as their pages would keep them, until each has
said it is done. The drain time runs from the first submit to the last run's done event; the target is on the
ratio of the last worker count's time to the first's (2 workers vs 1: at most 0.6 on 2 cores).
--quick: 4 runs of the Tiny preset, 1 epoch, on a 2,000-image slice, no students, and no target (each run is mostly
the work-horse's TensorFlow import).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.report import Report, Row, format_table
from digitdnn.cluster.redis import RedisServer
from digitdnn.config import TrainConfig
from digitdnn.presets import DEFAULT_PRESET, PRESETS
from digitdnn.training.queue_link import QueueLink
from digitdnn.training.run_data import RunData
from digitdnn.training.run_events import Done, Failed, read_event
from digitdnn.training.run_request import RunRequest
from testkit import ROOT
from testkit.server import free_port
from testkit.waiting import wait_until

RUNS, EPOCHS = 20, 3
QUICK_RUNS, QUICK_LIMIT = 4, (2000, 500)
TARGET_RATIO = 0.6           # the last worker count's drain time over the first's (2 workers vs 1, on 2 cores)
POLL_SECONDS = 0.5           # how often each run is polled (and kept wanted: a page does it every 0.25 s)
DRAIN_TIMEOUT = 3600.0
STUDENTS, TRAINERS, STUDENT_WORKERS = 20, 3, 2


@dataclass
class Drain:
    """What one worker count did with the runs: seconds from the first submit to the last done event, and each
    run's outcome."""

    workers: int
    seconds: float = 0.0
    completed: int = 0
    problems: list[str] = field(default_factory=list)   # runs that failed, stopped, diverged or never ended
    run_seconds: list[float] = field(default_factory=list)  # each run's first event to its done event
    waiting_seen: int = 0    # the most runs seen waiting in the queue at once


def requests(count: int, cfg: TrainConfig, limit: tuple[int, int | None] | None) -> list[RunRequest]:
    """`count` runs of `cfg` on MNIST (`limit`: a slice), each from a session of its own."""
    return [RunRequest(run=uuid.uuid4().hex, name=f"Run {index + 1}", session=f"benchmark-{index + 1}", config=cfg,
                       data=RunData(base="mnist", limit=limit), warm_start=False, max_seconds=DRAIN_TIMEOUT)
            for index in range(count)]


def start_workers(url: str, count: int, folder: Path) -> list[subprocess.Popen]:
    """`count` `digitdnn worker` processes on the queue at `url` (in their environment, not on their command line),
    their output in folder/bN.log."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", DIGITDNN_QUEUE_URL=url)
    processes = []
    for number in range(1, count + 1):
        with open(folder / f"b{number}.log", "ab") as log:
            processes.append(subprocess.Popen([sys.executable, "-m", "digitdnn", "worker", "--name", f"b{number}"],
                                              cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT))
    return processes


def stop_workers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drain(link: QueueLink, runs: list[RunRequest], cfg: TrainConfig, workers: int) -> Drain:
    """Submit every run at once and poll them all, keeping them wanted, until each has ended (or DRAIN_TIMEOUT)."""
    result = Drain(workers)
    started = time.perf_counter()
    for request in runs:
        link.submit(request, None, max_waiting=len(runs))
    cursors = {request.run: 0 for request in runs}
    first_event: dict[str, float] = {}
    while cursors and time.perf_counter() - started < DRAIN_TIMEOUT:
        for run in list(cursors):
            poll = link.poll(run, cursors[run], still_wanted=True)
            result.waiting_seen = max(result.waiting_seen, poll.waiting)
            cursors[run] += len(poll.news)
            now = time.perf_counter()
            if poll.news:
                first_event.setdefault(run, now)
            ends = [event for event in (read_event(news, cfg) for news in poll.news)
                    if isinstance(event, Done | Failed)]
            if ends:
                del cursors[run]
                end = ends[0]
                if isinstance(end, Done) and end.history.status == "completed":
                    result.completed += 1
                    result.run_seconds.append(now - first_event[run])
                else:
                    result.problems.append(f"{run[:8]}: " + (end.message if isinstance(end, Failed) else
                                                             f"{end.history.status}: {end.history.message}"))
            elif poll.status in (None, "failed", "canceled", "stopped"):
                del cursors[run]
                result.problems.append(f"{run[:8]}: the job is {poll.status or 'gone'} without a done event")
        time.sleep(POLL_SECONDS)
    result.seconds = time.perf_counter() - started
    result.problems += [f"{run[:8]}: not done after {DRAIN_TIMEOUT:g} s" for run in cursors]
    return result


def measure(runs: int, cfg: TrainConfig, limit: tuple[int, int | None] | None,
            worker_counts: list[int]) -> list[Drain]:
    """One Redis; for each worker count, fresh workers drain `runs` new runs."""
    drains = []
    with tempfile.TemporaryDirectory(prefix="digitdnn-workers-bench-") as name:
        folder = Path(name)
        redis = RedisServer(folder / "redis", free_port(), secrets.token_urlsafe(16))
        url = redis.start()
        try:
            link = QueueLink(url, page=False)
            for count in worker_counts:
                workers = start_workers(url, count, folder)
                try:
                    wait_until(lambda: link.workers() >= count, 120, interval=0.5,  # noqa: B023
                               message=lambda: f"{count} workers to register: {_logs(folder)}")  # noqa: B023
                    drains.append(drain(link, requests(runs, cfg, limit), cfg, count))
                finally:
                    stop_workers(workers)
                wait_until(lambda: link.workers() == 0, 60, interval=0.5, message="the workers to leave")
                print(f"  {count} worker(s): {runs} runs in {drains[-1].seconds:.1f} s, {drains[-1].completed} "
                      f"completed", file=sys.stderr, flush=True)
            if any(d.problems for d in drains):
                drains[-1].problems.append(f"the workers' logs end: {_logs(folder)}")
        finally:
            redis.stop()
    return drains


def _logs(folder: Path) -> str:
    return " | ".join(f"{path.name}: {path.read_text(errors='replace')[-300:]}"
                      for path in sorted(folder.glob("b*.log")))


def run(quick: bool = False, model_path: str | None = None, runs: int | None = None, epochs: int | None = None,
        worker_counts: list[int] | None = None, students: bool = True) -> Report:
    """The drain rows (and, unless quick or `students` is false, the students' rows) of the benchmarks' table."""
    runs = runs or (QUICK_RUNS if quick else RUNS)
    preset = "Tiny" if quick else DEFAULT_PRESET
    cfg = dataclasses.replace(PRESETS[preset], epochs=epochs or (1 if quick else EPOCHS))
    limit = QUICK_LIMIT if quick else None
    worker_counts = worker_counts or [1, 2]
    drains = measure(runs, cfg, limit, worker_counts)
    label = f"workers: {runs} runs ({preset.split(':')[0]} preset, {cfg.epochs} epoch{'s' if cfg.epochs > 1 else ''})"
    rows, notes = [], []
    first = drains[0]
    for result in drains:
        failure = (f"{runs - result.completed} of {runs} runs did not complete: {result.problems[0]}"[:300]
                   if result.completed < runs else "")
        plural = "s" if result.workers > 1 else ""
        if result is first:
            rows.append(Row.measure(f"{label} drained by {result.workers} worker{plural}", "s", result.seconds, None,
                                    failure=failure))
        else:
            rows.append(Row.measure(f"{label} drained by {result.workers} worker{plural} vs {first.workers}", "s",
                                    result.seconds, None if quick else TARGET_RATIO, baseline=first.seconds,
                                    failure=failure))
        mean = sum(result.run_seconds) / max(len(result.run_seconds), 1)
        notes.append(f"{result.workers} worker{plural}: {result.completed} of {runs} runs completed in "
                     f"{result.seconds:.1f} s, {mean:.1f} s per run on a worker (its first event to done: TensorFlow "
                     f"imported in the forked work-horse, data, training, calibration), at most "
                     f"{result.waiting_seen} waiting at once")
        notes += result.problems[:5]
    cores = len(os.sched_getaffinity(0))
    notes.append(f"{'a ' + str(QUICK_LIMIT[0]) + '-image slice' if limit else 'all of MNIST'}, one training thread "
                 f"per worker (`digitdnn worker --threads 1`), {cores} cores; each worker count starts fresh workers "
                 f"on the same Redis; load average at the end {os.getloadavg()[0]:.1f}")
    if students and not quick:
        from benchmarks.students_cluster import compare_workers

        more = compare_workers(STUDENT_WORKERS, TRAINERS, STUDENTS, 30.0, 5.0, model_path)
        rows, notes = rows + more.rows, notes + more.notes
    return Report(rows, notes)


def main(argv=None) -> Report:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 Tiny runs of 1 epoch on 2,000 images, no students")
    parser.add_argument("--runs", type=int, help=f"runs submitted at once (default {RUNS})")
    parser.add_argument("--epochs", type=int, help=f"epochs of each run (default {EPOCHS})")
    parser.add_argument("--workers", type=int, nargs="+", help="worker counts, the first the baseline (default 1 2)")
    parser.add_argument("--no-students", action="store_true", help="only the drain, not the students' part")
    parser.add_argument("--model", help="the default model the page replicas open with (students' part)")
    args = parser.parse_args(argv)
    report = run(args.quick, args.model, args.runs, args.epochs, args.workers, students=not args.no_students)
    print(format_table(report))
    return report


if __name__ == "__main__":
    started = time.monotonic()
    report = main()
    print(f"({time.monotonic() - started:.0f} s)")
    raise SystemExit(0 if all(row.passed for row in report.rows) else 1)
