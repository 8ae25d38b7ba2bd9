"""`digitdnn train`, `evaluate` and `predict`: make a model on MNIST, measure it, name the digits in image files."""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from digitdnn.cli.console import StopOnInterrupt, UsageError, positive_int, print_epoch, say
from digitdnn.config import ACTIVATIONS, OPTIMIZERS, SCHEDULES, TrainConfig
from digitdnn.data.mnist import load_mnist
from digitdnn.evaluation import evaluate


def add_model_commands(commands) -> None:
    """The `train`, `evaluate` and `predict` subcommands."""
    train = commands.add_parser("train", help="train a network and save it", description=(
        "Train a fully connected network on MNIST, printing one line per epoch; Ctrl-C stops and still saves."))
    _add_config_flags(train)
    train.add_argument("--out", type=Path, help="where to save the model (default runs/model-<timestamp>.keras)")
    train.add_argument("--limit", type=positive_int, metavar="N_TRAIN", help="train on the first N_TRAIN images")
    train.add_argument("--test-limit", type=positive_int, metavar="N_TEST", help="test on the first N_TEST images")
    train.add_argument("--pen-digits", type=int, default=0, metavar="COPIES",
                       help="also train on the training writers' pen digits, each drawn COPIES times as the canvas "
                            "would, with other hands and foreign styles (default 0: MNIST only)")
    train.add_argument("--calibrate", action="store_true",
                       help="fit a temperature on the calibration writers' pen digits, so that probabilities are "
                            "honest on unfamiliar handwriting (predictions do not change)")
    train.add_argument("--tensorboard", type=Path, metavar="DIR",
                       help="write per-epoch accuracy and loss for TensorBoard to DIR/train and DIR/test")
    train.set_defaults(run=run_train)

    evaluate_command = commands.add_parser("evaluate", help="test accuracy of a saved model, per digit",
                                           description="Test accuracy of a saved model on the 10,000 MNIST test "
                                                       "images.")
    evaluate_command.add_argument("--model", type=Path,
                                  help="a saved .keras model (default: the bundled default model)")
    evaluate_command.set_defaults(run=run_evaluate)

    predict = commands.add_parser("predict", help="name the digit drawn in image files",
                                  description="Name the digit in each PNG/JPEG drawing (any size, either polarity).")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.add_argument("--model", type=Path, help="a saved .keras model (default: the bundled default model)")
    predict.set_defaults(run=run_predict)


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


# ---- train -----------------------------------------------------------------------------------------

def run_train(args: argparse.Namespace) -> int:
    """Train with the given hyperparameters, print each epoch, save the model and its model card."""
    try:
        cfg = config_from_args(args)
    except ValueError as error:
        raise UsageError(error) from None
    if args.pen_digits < 0:
        raise UsageError(f"--pen-digits must be 0 or more, got {args.pen_digits}")
    out = args.out or Path("runs") / f"model-{time.strftime('%Y%m%d-%H%M%S')}.keras"
    data = load_mnist().head(args.limit, args.test_limit)
    recipe: dict[str, object] = {}
    if args.pen_digits:
        from digitdnn.data.pen_training import mnist_with_pen_digits, pen_digits_record
        from digitdnn.data.pendigits import load_pen_digits

        say(f"drawing the training writers' pen digits {args.pen_digits} times each...")
        pen = load_pen_digits()
        data = mnist_with_pen_digits(data, copies=args.pen_digits, seed=cfg.seed, pen=pen,
                                     progress=lambda done: say(f"  {done:.0%}") if done else None)
        recipe["pen_digits"] = pen_digits_record(pen, args.pen_digits)

    from digitdnn.storage.model_card import ModelCard
    from digitdnn.storage.models import save_classifier
    from digitdnn.training.loop import train

    print(f"training 784-{_units(cfg).replace(',', '-')}-10 ({cfg.activation}, {cfg.optimizer}, "
          f"learning rate {cfg.learning_rate}, batch {cfg.batch_size}) on {len(data.x_train)} images, "
          f"testing on {len(data.x_test)}", flush=True)
    scalars = _TensorBoardScalars(args.tensorboard) if args.tensorboard else None

    def on_epoch_end(report, classifier) -> None:
        print_epoch(report)
        if scalars is not None:
            scalars.write(report)

    with StopOnInterrupt() as stop:
        result = train(cfg, data, on_epoch_end=on_epoch_end, should_stop=stop)
    history = result.history
    classifier = result.classifier
    if args.calibrate:
        from digitdnn.data.calibration_drawings import calibrate

        classifier, temperature = calibrate(classifier)
        recipe["temperature"] = temperature
        print(f"temperature {temperature:.2f}, fitted on the calibration writers' pen digits")
    # Measured on the weights kept: a run stopped mid-epoch has moved on from its last epoch's report.
    accuracy = evaluate(classifier, data.x_test, data.y_test).accuracy
    card = ModelCard.of_run(history, command=args.command_line, test_accuracy=accuracy,
                            data_fingerprint=data.fingerprint(), data_source=data.source, **recipe)
    saved = save_classifier(classifier, out, metadata=card)
    print(f"test accuracy {accuracy:.4f} on {len(data.x_test)} images")
    print(f"status: {history.status}" + (f" ({history.message})" if history.message else ""))
    print(f"saved {saved}")
    return 0


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


# ---- evaluate and predict ---------------------------------------------------------------------------

def run_evaluate(args: argparse.Namespace) -> int:
    """Print a model's test accuracy overall and per digit."""
    from digitdnn.storage.models import load_classifier

    classifier = load_classifier(args.model)
    data = load_mnist()
    result = evaluate(classifier, data.x_test, data.y_test)
    print(f"model: {args.model or 'default model'}")
    print(f"test accuracy {result.accuracy:.4f} ({result.correct}/{len(result.labels)})")
    print("digit  images  accuracy")
    for digit, (count, accuracy) in enumerate(zip(result.digit_counts(), result.digit_accuracy(), strict=True)):
        print(f"{digit:>5}  {int(count):>6}  {accuracy:>8.4f}")
    return 0


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
