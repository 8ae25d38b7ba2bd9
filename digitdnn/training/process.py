"""digitdnn.training.loop.train in a child process: when the run ends, all of its TensorFlow memory goes with it.

Same arguments and callbacks as `train`; the run's inputs go to the child's stdin, its reports and weights come
back on its stdout, and closing its stdin asks it to stop. The child runs at a lower CPU priority (NICENESS), and
one that dies fails its run, never the server. The run ends calibrated (`train_calibrated`, which a training worker
uses too): a temperature fitted on the calibration writers' drawings (digitdnn.data.calibration_drawings, read or
drawn while it trains) is folded into the weights it returns. Design notes: docs/design-notes.md
"""
from __future__ import annotations

import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING

from digitdnn.config import TrainConfig

if TYPE_CHECKING:
    import numpy as np

    from digitdnn.data.mnist import MnistData
    from digitdnn.model import Classifier
    from digitdnn.training.history import EpochReport, TrainResult

POLL_SECONDS = 0.1      # how often the parent checks should_stop while waiting for news from the child
EXIT_SECONDS = 10.0     # how long an ending child may take to exit before it is killed
NICENESS = 10           # the child yields the CPU to the server, so that pages stay quick while others train
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
_LOG = logging.getLogger(__name__)


class RunAbandoned(RuntimeError):
    """train_in_child ended its child because `abandoned()` said nobody wants the result."""


def train_in_child(
    cfg: TrainConfig,
    data: MnistData,
    on_epoch_end: Callable[[EpochReport, Classifier], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int, float], None] | None = None,
    abandoned: Callable[[], bool] | None = None,
    initial: Classifier | None = None,
) -> TrainResult:
    """Like digitdnn.training.loop.train(cfg, data, ..., initial=...), run in a child process; returns a TrainResult
    here, its classifier calibrated (see _calibrated).

    The classifiers given to on_epoch_end and returned carry the child's weights (numpy copies).
    When `abandoned()` (polled with should_stop) is True, nobody wants the result: the child is
    killed at once, freeing its CPU and memory, and RunAbandoned is raised.
    Raises RuntimeError with the child's message if training failed there or the child died.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    child = subprocess.Popen([sys.executable, "-m", "digitdnn.training.process"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=env)
    to_child, from_child = child.stdin, child.stdout
    assert to_child is not None and from_child is not None  # both are pipes
    news: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_messages, args=(from_child, news), name="digitdnn-train-reader",
                              daemon=True)
    reader.start()
    rebuild = partial(_classifier, cfg)
    try:
        initial_layers = None if initial is None else initial.layers
        pickle.dump((cfg, data, initial_layers), to_child, protocol=pickle.HIGHEST_PROTOCOL)
        to_child.flush()
        while True:
            if should_stop is not None and not to_child.closed and should_stop():
                to_child.close()  # the child's signal to stop after its current chunk
            if abandoned is not None and abandoned():
                child.kill()
                raise RunAbandoned("the training process was ended: nobody waits for its result")
            try:
                kind, *payload = news.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if kind == "progress" and on_progress is not None:
                on_progress(*payload)
            elif kind == "epoch" and on_epoch_end is not None:
                report, layers, metadata = payload
                on_epoch_end(report, rebuild(layers, metadata))
            elif kind == "done":
                from digitdnn.training.history import TrainResult

                history, layers, metadata = payload
                return TrainResult(rebuild(layers, metadata), history)
            elif kind == "error":
                raise RuntimeError(payload[0])
            elif kind == "gone":
                child.wait(EXIT_SECONDS)
                raise RuntimeError(f"the training process ended unexpectedly (exit code {child.returncode})")
    except BrokenPipeError:
        child.wait(EXIT_SECONDS)
        raise RuntimeError(f"the training process ended unexpectedly (exit code {child.returncode})") from None
    finally:
        _end(child, to_child, from_child)


def _read_messages(stream: IO[bytes], news: queue.Queue) -> None:
    """Put every message the child writes into `news`, then ("gone",) when its stdout closes."""
    try:
        while True:
            news.put(pickle.load(stream))
    except EOFError:  # the child closed its stdout: it has ended
        pass
    except (OSError, pickle.UnpicklingError):
        _LOG.warning("the training process's messages could not be read", exc_info=True)
    news.put(("gone",))


def _end(child: subprocess.Popen, to_child: IO[bytes], from_child: IO[bytes]) -> None:
    """Let the child end (closing its stdin asks it to), killing it if it takes longer than EXIT_SECONDS."""
    if not to_child.closed:
        try:
            to_child.close()
        except OSError:
            pass
    try:
        child.wait(EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    from_child.close()


def _classifier(cfg: TrainConfig, layers: list[tuple[np.ndarray, np.ndarray, str]], metadata: dict) -> Classifier:
    """The child's weights as a Classifier here: numpy arrays only, no Keras model (see Classifier.from_layers)."""
    from digitdnn.model import Classifier

    return Classifier.from_layers(layers, cfg, metadata)


def _calibrated(result: TrainResult, drawings: Future) -> TrainResult:
    """The run with a temperature fitted on the calibration drawings (`drawings`' result) folded into its classifier
    (metadata "temperature"; the same predictions, honest probabilities). A run that diverged or finished no epoch is
    returned as it is, and so is one whose calibration failed (logged)."""
    history = result.history
    if history.status == "diverged" or history.test_accuracy is None:
        return result
    try:
        from digitdnn.data.calibration_drawings import calibrate

        classifier, _ = calibrate(result.classifier, drawings=drawings.result())
    except Exception:
        _LOG.warning("the run is kept uncalibrated: no temperature could be fitted", exc_info=True)
        return result
    return result._replace(classifier=classifier)


def train_calibrated(
    cfg: TrainConfig,
    data: MnistData,
    *,
    initial: Classifier | None = None,
    on_epoch_end: Callable[[EpochReport, Classifier], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """digitdnn.training.loop.train(cfg, data, ...) in this process, then calibrated (see _calibrated) on the
    calibration drawings, which are read (or drawn) in a thread while it trains: what a training process does (the
    child here, a training worker's run). A run that returns without needing them leaves that thread to finish, or to
    end with its process."""
    from digitdnn.data.calibration_drawings import calibration_drawings
    from digitdnn.training.loop import train

    pool = ThreadPoolExecutor(1, "digitdnn-calibration")
    try:
        drawings = pool.submit(calibration_drawings)  # while it trains
        result = train(cfg, data, initial=initial, on_epoch_end=on_epoch_end, should_stop=should_stop,
                       on_progress=on_progress)
        return _calibrated(result, drawings)
    finally:
        pool.shutdown(wait=False)  # a run that failed, stopped or diverged does not wait for the drawings


def _child_main() -> None:
    """The child: read (cfg, data, initial layers or None) from stdin, train, calibrate, write ("progress", epoch,
    fraction), ("epoch", report, layers, metadata) and at the end ("done", history, layers, metadata) or ("error",
    message) to stdout."""
    messages = os.fdopen(os.dup(sys.stdout.fileno()), "wb")  # the message channel: our original stdout
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr, not into the messages
    stop = threading.Event()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s (training process %(process)d): %(message)s")
    if hasattr(os, "nice"):
        os.nice(NICENESS)

    def send(*message) -> None:
        pickle.dump(message, messages, protocol=pickle.HIGHEST_PROTOCOL)
        messages.flush()

    def wait_for_stop() -> None:
        sys.stdin.buffer.read()  # returns when the parent closes our stdin (or dies)
        stop.set()

    try:
        cfg, data, initial_layers = pickle.load(sys.stdin.buffer)
        threading.Thread(target=wait_for_stop, daemon=True).start()
        result = train_calibrated(
            cfg,
            data,
            initial=None if initial_layers is None else _classifier(cfg, initial_layers, {}),
            on_epoch_end=lambda report, clf: send("epoch", report, clf.layers, clf.metadata),
            should_stop=stop.is_set,
            on_progress=lambda epoch, fraction: send("progress", epoch, fraction),
        )
        send("done", result.history, result.classifier.layers, result.classifier.metadata)
    except BaseException as exc:  # reported to the parent as the run's error; its traceback goes to our stderr
        if isinstance(exc, Exception):
            _LOG.exception("training failed")
        try:
            send("error", str(exc) or type(exc).__name__)
        except OSError:  # the parent has gone
            pass
    finally:
        try:
            messages.close()
        except OSError:  # the parent has gone
            pass


if __name__ == "__main__":
    _child_main()
    sys.stderr.flush()
    os._exit(0)  # not a normal shutdown: the thread still reading stdin would make it fail
