"""Memory over many training runs in one process, as a classroom server sees them.

    python -m benchmarks.soak [--runs 50] [--quick]

Runs training after training through `TrainingJob` and a shared `TrainingQueue`, the way the page
does (each run in a child process; --in-process trains in this process's threads instead, which
shows what TensorFlow keeps of every run): each on a small slice of MNIST, with settings that change
from run to run (widths, depths, optimizers, dropout, augmentation); every third run is abandoned
part-way (its page "closes") and every fifth stopped. Like a session, only the results of the last
few runs are kept. The process's resident memory (RSS) is read after the warm-up run and after the
last one: the growth between the two must stay under 200 MB. --quick runs 8 runs on a smaller slice.
"""
from __future__ import annotations

import argparse
import gc
import resource
import threading
from pathlib import Path

from benchmarks.report import Report, Row, format_table
from digitdnn.config import TrainConfig
from testkit.waiting import wait_until

TARGET_GROWTH_MB = 200.0
KEPT_RESULTS = 3                      # a session keeps its runs; the soak keeps the last few, like a short lesson
SLICE, QUICK_SLICE = (2000, 500), (1000, 200)
SETTINGS = [
    TrainConfig(hidden_units=(32,), optimizer="adam", learning_rate=0.002, batch_size=100, epochs=2),
    TrainConfig(hidden_units=(128, 64), optimizer="nesterov", learning_rate=0.05, batch_size=64, epochs=2),
    TrainConfig(hidden_units=(300, 100), optimizer="sgd", learning_rate=0.05, batch_size=50, epochs=2, dropout=0.2),
    TrainConfig(hidden_units=(64, 64, 32), activation="tanh", optimizer="rmsprop", learning_rate=0.001,
                batch_size=128, epochs=2, l2=1e-4),
    TrainConfig(hidden_units=(100,), activation="elu", optimizer="momentum", learning_rate=0.02, batch_size=32,
                epochs=2, augment=True),
]


def rss_mb() -> tuple[float, float]:
    """(resident memory now, peak resident memory) of this process in MB, from /proc/self/status."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def one_run(index: int, data, queue, separate_process: bool = True):
    """Train run `index` to its end (completed, stopped or abandoned) and return its job."""
    from digitdnn.training.jobs import TrainingJob

    cfg = SETTINGS[index % len(SETTINGS)].replace(seed=index)
    page_open = threading.Event()
    page_open.set()
    long_run = index % 3 == 2 or index % 5 == 4
    job = TrainingJob(cfg.replace(epochs=50) if long_run else cfg, data, name=f"run {index}", queue=queue,
                      still_wanted=page_open.is_set, abandon_after=0.2, separate_process=separate_process).start()
    if long_run:
        wait_until(lambda: job.progress().epoch >= 1 or job.progress().done, 600, interval=0.01,
                   message=f"run {index}'s first epoch")
        if index % 3 == 2:
            page_open.clear()   # the tab closed: the job gives up on its own
        else:
            job.stop()
    if not job.join(timeout=600):
        raise RuntimeError(f"run {index} did not end")
    return job


def soak(runs: int, quick: bool, separate_process: bool = True) -> dict:
    """Run the soak; returns the memory figures in MB and the runs' statuses."""
    from digitdnn.data.mnist import load_mnist
    from digitdnn.training.queue import TrainingQueue

    data = load_mnist().head(*(QUICK_SLICE if quick else SLICE))
    queue = TrainingQueue(1)
    kept, statuses = [], []
    start, _ = rss_mb()
    after_warm_up = None
    for index in range(runs):
        job = one_run(index, data, queue, separate_process)
        statuses.append("abandoned" if job.abandoned else job.progress().status)
        kept = (kept + [job.progress().result])[-KEPT_RESULTS:]
        del job
        if index == 0:
            gc.collect()
            after_warm_up, _ = rss_mb()
    kept.clear()
    gc.collect()
    end, peak = rss_mb()
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"start": start, "after_warm_up": after_warm_up, "end": end, "peak": peak, "child_peak": child_peak,
            "growth": end - after_warm_up, "statuses": statuses}


def run(quick: bool = False, model_path=None, runs: int | None = None, separate_process: bool = True) -> Report:
    """The soak as rows of the benchmarks' table (model_path is not used: the soak trains its own)."""
    runs = runs or (8 if quick else 50)
    figures = soak(runs, quick, separate_process)
    counts = {s: figures["statuses"].count(s) for s in sorted(set(figures["statuses"]))}
    rows = [Row.measure(f"soak: RSS growth over {runs} training runs", "MB", figures["growth"], TARGET_GROWTH_MB)]
    where = "each in a child process" if separate_process else "in this process's threads"
    notes = [f"{runs} runs on {'{},{}'.format(*(QUICK_SLICE if quick else SLICE))} images, one at a time, {where} "
             f"({', '.join(f'{n} {s}' for s, n in counts.items())}); RSS {figures['start']:.0f} MB at start, "
             f"{figures['after_warm_up']:.0f} MB after the first run, {figures['end']:.0f} MB after the last, "
             f"peak {figures['peak']:.0f} MB (largest training child: {figures['child_peak']:.0f} MB); growth counted "
             f"from after the first run (TensorFlow's one-off set-up)"]
    return Report(rows, notes)


def main(argv=None) -> Report:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="training runs (default 50, --quick 8)")
    parser.add_argument("--quick", action="store_true", help="fewer runs on a smaller slice")
    parser.add_argument("--in-process", action="store_true", help="train in threads of this process, not in children")
    args = parser.parse_args(argv)
    report = run(args.quick, runs=args.runs, separate_process=not args.in_process)
    print(format_table(report))
    return report


if __name__ == "__main__":
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    raise SystemExit(0 if all(row.passed for row in main().rows) else 1)
