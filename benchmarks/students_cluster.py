"""Students through the proxy: `python -m benchmarks.students`'s class, played against the page server alone and
then against `digitdnn cluster` with 1 and 2 page replicas behind HAProxy, the class's state in PostgreSQL, all in
one run.

    python -m benchmarks.students_cluster [--quick] [--replicas 1 2] [--students 20 40 60 80 100 120] [--seconds 30]
    python -m benchmarks.students_cluster --workers 2 [--trainers 3] [--students 20] [--replicas 1]

The server side (the page server alone; or the replicas, the proxy and PostgreSQL) is pinned to the first core and
the students to the other, so the figures compare one core's worth of page serving with and without the proxy in
front. For each: students held at p95 <= 1 s (pen-up to prediction) and server CPU per digit named, as ratios to
the server alone; for the cluster also each replica's share of the CPU (the proxy spreads new students), and the
proxy's and PostgreSQL's own CPU per digit over the whole ramp.

With --workers M: one step of --students students (default 20) drawing while --trainers students (default 3) keep
pressing Train (the default preset on all of MNIST), through a cluster of --replicas replicas (default 1), first
with the runs training inside the replicas (--workers 0), then with M training workers. The page side stays on the
first core; the workers are moved to the students' cores (niced, as another machine would take the training off
the page's), so the figures say what training costs the students' pen-up to prediction p95 in each case.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchmarks import students
from benchmarks.report import Report, Row, format_table
from benchmarks.students import HELD_P95_SECONDS, Step, Tally, held, load_recording, pinning, ramp
from testkit import ROOT
from testkit.processes import tree_cpu_seconds
from testkit.server import free_port
from testkit.waiting import wait_until


@contextlib.contextmanager
def running_cluster(folder: Path, replicas: int, cpus: set[int] | None, workers: int = 0,
                    **env_vars: str) -> Iterator[dict]:
    """`digitdnn cluster` (with `workers` training workers) in `folder` pinned to `cpus`; yields its cluster.json
    record once the proxy answers."""
    state = folder / "state"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", DIGITDNN_MODELS_DIR=str(folder / "models"), **env_vars)
    command = [sys.executable, "-m", "digitdnn", "cluster", "--replicas", str(replicas), "--port", str(free_port()),
               "--state-dir", str(state), "--workers", str(workers)]
    with open(folder / "cluster.log", "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    try:
        def record() -> dict | None:
            if process.poll() is not None:
                raise RuntimeError(f"digitdnn cluster exited: {(folder / 'cluster.log').read_text()[-2000:]}")
            try:
                found = json.loads((state / "cluster.json").read_text())
                with urllib.request.urlopen(found["proxy"]["url"].rstrip("/") + "/_stcore/health", timeout=2):
                    return found
            except (OSError, ValueError, KeyError):
                return None

        yield wait_until(record, 120, interval=0.5, message="the cluster to start")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def postgres_pid(state: Path) -> int:
    """The postmaster's pid (its backends are its children), from its pid file."""
    return int((state / "postgres" / "data" / "postmaster.pid").read_text().split()[0])


def move_to(pid: int, cpus: set[int]) -> None:
    """Pin every thread of process `pid` to `cpus` (the processes it forks later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


def measure(replicas: int, steps: list[int], seconds: float, period: float, model_path: str | None,
            cores: tuple[set[int] | None, set[int] | None], trainings: int = 0, workers: int = 0):
    """One ramp of students (and `trainings` students pressing Train) through the proxy to `replicas` replicas, the
    cluster on cores[0] (its `workers` training workers, if any, moved to cores[1]) and the students on cores[1]:
    (steps, tally, CPU seconds by part over the ramp)."""
    recording = load_recording()
    server_cores, client_cores = cores
    model = {"DIGITDNN_DEFAULT_MODEL": str(model_path)} if model_path else {}
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="digitdnn-cluster-bench-") as name:
        folder = Path(name)
        folder.chmod(0o755)  # PostgreSQL's own user must pass through
        with running_cluster(folder, replicas, server_cores, workers, **model) as record:
            if client_cores:
                os.sched_setaffinity(0, client_cores)
                for worker in record.get("workers", {}).values():
                    move_to(worker["pid"], client_cores)
            pids = {name: r["pid"] for name, r in record["replicas"].items()}
            parts = {**pids, "proxy": record["proxy"]["pid"], "postgres": postgres_pid(folder / "state")}
            before = {part: tree_cpu_seconds(pid) for part, pid in parts.items()}
            url = record["proxy"]["url"].rstrip("/")
            results = asyncio.run(ramp(url, 0, steps, trainings, seconds, period, recording, tally,
                                       lambda _pid: sum(tree_cpu_seconds(pid) for pid in pids.values())))
            used = {part: tree_cpu_seconds(pid) - before[part] for part, pid in parts.items()}
    return results, tally, used


def last_held(results: list[Step]) -> Step:
    """The step with the most students still held at p95 <= 1 s (else the first step)."""
    return ([s for s in results if s.p95 <= HELD_P95_SECONDS] or results[:1])[-1]


def run(quick: bool = False, model_path: str | None = None, replica_counts: list[int] | None = None,
        steps: list[int] | None = None, seconds: float | None = None, period: float = 5.0) -> Report:
    """The page server alone first (the baseline: `benchmarks.students`' ramp, no proxy, no database), then a
    cluster of each replica count; ratios against the baseline."""
    replica_counts = replica_counts or [1, 2]
    steps = steps or ([3] if quick else [20, 40, 60, 80, 100, 120])
    seconds = seconds or (10 if quick else 30)
    cores = pinning()  # before the baseline pins this process to the students' cores
    alone, alone_tally, _ = students.measure(steps, [0], seconds, period, model_path)
    alone_held, alone_step = held(alone, 0), last_held(alone)
    rows = [Row.measure("students, the page server alone: held at p95 <= 1 s", "", float(alone_held), None),
            Row.measure(f"students, the page server alone: its CPU per digit at {alone_step.students} students",
                        "ms", alone_step.cpu_per_digit * 1000, None)]
    notes = [f"alone, {s.students} students: p50 {s.p50 * 1000:.0f} ms, p95 {s.p95 * 1000:.0f} ms, server CPU "
             f"{s.cpu_per_digit * 1000:.0f} ms per digit" for s in alone] + (alone_tally.errors + alone_tally.wrong)[:5]
    for replicas in replica_counts:
        results, tally, used = measure(replicas, steps, seconds, period, model_path, cores)
        label = f"through the proxy, {replicas} replica{'s' if replicas > 1 else ''}"
        digits = max(tally.digits, 1)
        page_cpu = sum(seconds for part, seconds in used.items() if part not in ("proxy", "postgres"))
        step = last_held(results)
        rows.append(Row.measure(f"students {label}: held at p95 <= 1 s (vs alone)", "", float(held(results, 0)),
                                None, baseline=float(max(alone_held, 1))))
        rows.append(Row.measure(f"students {label}: replicas' CPU per digit at {step.students} students (vs alone)",
                                "ms", step.cpu_per_digit * 1000, None, baseline=alone_step.cpu_per_digit * 1000))
        rows.append(Row.measure(f"students {label}: the proxy's CPU per digit (page loads included)", "ms",
                                used["proxy"] / digits * 1000, None))
        rows.append(Row.measure(f"students {label}: errors and wrong digits", "",
                                float(len(tally.errors) + len(tally.wrong)), 0.0))
        shares = ", ".join(f"{part} {seconds / max(page_cpu, 1e-9):.0%}" for part, seconds in used.items()
                           if part not in ("proxy", "postgres"))
        notes.append(f"{replicas} replica(s): {tally.digits} digits named over the ramp; CPU seconds: replicas "
                     f"{page_cpu:.1f} ({shares}), proxy {used['proxy']:.2f}, PostgreSQL {used['postgres']:.2f}")
        notes += [f"{replicas} replica(s), {s.students} students: p50 {s.p50 * 1000:.0f} ms, p95 "
                  f"{s.p95 * 1000:.0f} ms ({s.strokes} strokes, {s.digits} digits), replicas' CPU "
                  f"{s.cpu_per_digit * 1000:.0f} ms per digit" for s in results]
        notes += (tally.errors + tally.wrong)[:5]
    notes.append(f"server side pinned to cores {sorted(cores[0] or [])}, students on {sorted(cores[1] or [])}; "
                 f"a digit every {period:g} s per student; {seconds:g} s measured per step; p95 held within "
                 f"{HELD_P95_SECONDS:g} s")
    return Report(rows, notes)


def compare_workers(workers: int, trainers: int, students_count: int, seconds: float, period: float,
                    model_path: str | None, replicas: int = 1) -> Report:
    """`students_count` students drawing while `trainers` keep training: the runs inside the replicas, then on
    `workers` workers; the p95 pen-up to prediction of each, the workers' within HELD_P95_SECONDS."""
    cores = pinning()
    measured = {count: measure(replicas, [students_count], seconds, period, model_path, cores, trainers, count)
                for count in (0, workers)}
    p95 = {count: (results[0].p95 if results else float("nan")) * 1000
           for count, (results, _, _) in measured.items()}
    label = f"{students_count} students while {trainers} train{'s' if trainers == 1 else ''}"
    on_workers = f"on {workers} worker{'s' if workers > 1 else ''}"
    tally = measured[workers][1]
    idle = "" if tally.epochs_seen else "no run was seen training on the workers"
    rows = [Row.measure(f"{label} inside the replica{'s' if replicas > 1 else ''}: pen-up to prediction p95", "ms",
                        p95[0], None),
            Row.measure(f"{label} {on_workers}: pen-up to prediction p95", "ms", p95[workers],
                        HELD_P95_SECONDS * 1000, failure=idle),
            Row.measure(f"{label}: p95 with the runs on workers vs inside", "ms", p95[workers], None,
                        baseline=p95[0]),
            Row.measure(f"{label} {on_workers}: errors and wrong digits", "",
                        float(len(tally.errors) + len(tally.wrong)), 0.0)]
    notes = []
    for count, (results, counted, _) in measured.items():
        where = on_workers if count else "inside the replicas"
        notes += [f"training {where}, {s.students} students: p50 {s.p50 * 1000:.0f} ms, p95 {s.p95 * 1000:.0f} ms "
                  f"({s.strokes} strokes, {s.digits} digits)" for s in results]
        notes.append(f"training {where}: {counted.runs_started} runs started, {counted.runs_ended} ended, "
                     f"{counted.epochs_seen} epochs seen under way")
        notes += (counted.errors + counted.wrong)[:5]
    notes.append(f"{replicas} replica(s), the proxy, PostgreSQL and Redis pinned to cores {sorted(cores[0] or [])}; "
                 f"the students and the workers on {sorted(cores[1] or [])}; a digit every {period:g} s per "
                 f"student; {seconds:g} s measured")
    return Report(rows, notes)


def main(argv=None) -> Report:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.students_cluster",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 students, 10 s")
    parser.add_argument("--replicas", type=int, nargs="+", help="replica counts to run (default 1 2)")
    parser.add_argument("--students", type=int, nargs="+", help="the ramp's steps (default 20 40 60 80 100 120)")
    parser.add_argument("--seconds", type=float, help="measured per step (default 30)")
    parser.add_argument("--period", type=float, default=5.0, help="seconds from one digit to the next (5)")
    parser.add_argument("--model", help="the default model the replicas open with")
    parser.add_argument("--workers", type=int, help="compare training inside the replicas with training on this many "
                                                    "workers, --trainers students pressing Train")
    parser.add_argument("--trainers", type=int, default=3, help="with --workers: students who keep training (3)")
    args = parser.parse_args(argv)
    if args.workers:
        report = compare_workers(args.workers, args.trainers, (args.students or [20])[0], args.seconds or 30,
                                 args.period, args.model, (args.replicas or [1])[0])
    else:
        report = run(args.quick, args.model, args.replicas, args.students, args.seconds, args.period)
    print(format_table(report))
    return report


if __name__ == "__main__":
    started = time.monotonic()
    report = main()
    print(f"({time.monotonic() - started:.0f} s)")
    raise SystemExit(0 if all(row.passed for row in report.rows) else 1)
