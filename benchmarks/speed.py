"""How fast the project trains and predicts, against plain Keras and this machine's GEMM speed.

    python -m benchmarks.speed [--quick] [--model PATH]

Prints one table (figure, project, baseline, ratio, target, pass/fail) with every
figure measured in this process and run, so the ratios hold while absolute times
drift with the machine's load:

- a training epoch of 784-300-100-10 on all 60,000 images (Adam at batch 128, and the
  tutorial's SGD 0.01 at batch 50): `digitdnn.train`, evaluation of the test set included,
  against `model.fit` of the same network with default compile settings, and against the
  time its matrix products alone take at this machine's measured float32 GEMM speed;
- one drawing (to_mnist + predict_proba on a 280x280 RGBA canvas) against `model.predict`;
- seconds of training to 98.0% test accuracy with the page's default preset.

Epoch times are medians over epochs 2 and later (the first one includes compiling).
--quick runs on 5,000 training and 1,000 test images, 2 epochs each, in well under a minute.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.drawings import STROKE_DRAWINGS, median_ms
from benchmarks.report import Report, Row, format_table
from digitdnn.config import TrainConfig

ADAM_SETTING = TrainConfig(optimizer="adam", learning_rate=0.001, batch_size=128)
TARGET_ACCURACY = 0.98
TUTORIAL_PRESET = "Tutorial: SGD 0.01, 300-100"
QUICK_SLICE = (5000, 1000)   # training and test images in --quick
GEMM_ROUNDS = 15             # timed rounds of a training step's matrix products (the fastest counts)


def steady_median(seconds: list[float]) -> float:
    """Median of per-epoch times after the first (which includes compiling); the first alone if it is all."""
    return float(np.median(seconds[1:] if len(seconds) > 1 else seconds))


def project_epoch_seconds(history) -> tuple[float, float]:
    """(median seconds of a steady epoch with its test evaluation, median seconds of that evaluation)."""
    totals = [r.seconds + r.eval_seconds for r in history.epochs]
    return steady_median(totals), steady_median([r.eval_seconds for r in history.epochs])


def keras_fit(cfg: TrainConfig, data) -> tuple[float, float]:
    """(median seconds of a steady epoch, final test accuracy) of plain compile + fit of cfg's network."""
    import keras

    from digitdnn.model import build_model
    from digitdnn.training.loop import make_optimizer

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    seconds: list[float] = []
    model = build_model(cfg)
    model.compile(optimizer=make_optimizer(cfg), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train = data.x_train.astype(np.float32) / 255.0
    model.fit(x_train, data.y_train, batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=0,
              callbacks=[EpochTimer()])
    _, accuracy = model.evaluate(data.x_test.astype(np.float32) / 255.0, data.y_test, verbose=0)
    return steady_median(seconds), float(accuracy)


def step_products(batch: int, widths: tuple[int, ...], rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """The float32 matrix products of one training step: per layer, forward (x W) and weight gradient
    (x^T dy), and for every layer but the first (whose input is the images) the input gradient (dy W^T)."""
    products = []
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        x = rng.random((batch, fan_in), dtype=np.float32)
        w = rng.random((fan_in, fan_out), dtype=np.float32)
        dy = rng.random((batch, fan_out), dtype=np.float32)
        products += [(x, w), (np.ascontiguousarray(x.T), dy)]
        if layer > 0:
            products.append((dy, np.ascontiguousarray(w.T)))
    return products


def product_flops(products) -> int:
    """FLOPs of the matrix products (a multiply and an add per term)."""
    return sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in products)


def gemm_flops_per_second(batch: int, widths: tuple[int, ...]) -> float:
    """This machine's float32 GEMM throughput (numpy) on the training step's own shapes: the fastest of
    several rounds, since a shared machine's load only ever slows a round down (the bound stays a bound)."""
    products = step_products(batch, widths, np.random.default_rng(0))
    flops = product_flops(products)
    repeats = max(1, round(2e8 / flops))  # about 0.2 GFLOP per round
    rates = []
    for _ in range(GEMM_ROUNDS):
        started = time.perf_counter()
        for _ in range(repeats):
            for a, b in products:
                np.matmul(a, b)
        rates.append(repeats * flops / (time.perf_counter() - started))
    return max(rates)


def epoch_flops(n_train: int, n_test: int, widths: tuple[int, ...]) -> float:
    """FLOPs of an epoch's matrix products: a training step's (see step_products) for every training
    image, the forward pass for every test image."""
    forward = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    backward = 2 * forward - widths[0] * widths[1]
    return 2.0 * ((forward + backward) * n_train + forward * n_test)


def training_rows(name: str, cfg: TrainConfig, history, data, notes: list[str]) -> list[Row]:
    """The two rows of one training setting: against model.fit, and against the GEMM-bound time."""
    widths = (28 * 28, *cfg.hidden_units, 10)
    epoch, evaluation = project_epoch_seconds(history)
    fit_epoch, fit_accuracy = keras_fit(cfg.replace(epochs=len(history.epochs)), data)
    throughput = gemm_flops_per_second(cfg.batch_size, widths)
    bound = epoch_flops(len(data.y_train), len(data.y_test), widths) / throughput
    notes.append(f"{name}: digitdnn.train epoch {epoch:.3f} s of which test evaluation {evaluation:.3f} s; "
                 f"model.fit epoch {fit_epoch:.3f} s (no evaluation); GEMM {throughput / 1e9:.1f} GFLOP/s "
                 f"at batch {cfg.batch_size}; test accuracy after {len(history.epochs)} epochs: "
                 f"digitdnn {history.epochs[-1].test_accuracy:.2%}, model.fit {fit_accuracy:.2%}")
    return [
        Row.measure(f"{name}: epoch vs model.fit", "s", epoch, 0.5, fit_epoch),
        Row.measure(f"{name}: epoch vs GEMM-bound", "s", epoch, 2.5, bound),
    ]


def augmentation_row(cfg: TrainConfig, plain_history, data) -> Row:
    """An epoch with on-the-fly augmentation against the same epoch without it."""
    from digitdnn.training.loop import train

    augmented_history = train(cfg.replace(augment=True), data).history
    plain, _ = project_epoch_seconds(plain_history)
    augmented, _ = project_epoch_seconds(augmented_history)
    return Row.measure("Adam, batch 128: augmented vs plain epoch", "s", augmented, 1.5, plain)


def time_to_accuracy_row(preset_name: str, history, notes: list[str]) -> Row:
    """Training seconds (evaluations and compiling included) until the test accuracy first reaches the target."""
    elapsed = 0.0
    for report in history.epochs:
        elapsed += report.seconds + report.eval_seconds
        if report.test_accuracy >= TARGET_ACCURACY:
            notes.append(f"{preset_name}: {TARGET_ACCURACY:.1%} reached after {report.epoch} epochs "
                         f"({report.test_accuracy:.2%}, {elapsed:.1f} s)")
            return Row.measure(f"time to {TARGET_ACCURACY:.1%} test accuracy", "s", elapsed, 30.0)
    failure = (f"{preset_name}: {TARGET_ACCURACY:.1%} not reached in its {len(history.epochs)} epochs "
               f"({elapsed:.1f} s); best test accuracy {history.best_test_accuracy:.2%}")
    notes.append(failure)
    return Row.measure(f"time to {TARGET_ACCURACY:.1%} test accuracy", "s", elapsed, 30.0, failure=failure)


def drawing_rows(model_path, quick: bool, notes: list[str]) -> list[Row]:
    """One drawing through to_mnist + predict_proba: its median time, and against model.predict on one image."""
    from digitdnn.imaging.preprocess import to_mnist
    from digitdnn.storage.models import load_classifier
    from testkit.strokes import load_drawings

    classifier = load_classifier(model_path)
    canvas = load_drawings(STROKE_DRAWINGS)[0].render()
    image = to_mnist(canvas)[None]

    def name_drawing(rgba):
        return classifier.predict_proba(to_mnist(rgba))

    def keras_predict(batch):
        return classifier.model.predict(batch, verbose=0)

    name_drawing(canvas)  # warm up both paths
    keras_predict(image)
    ours = median_ms(name_drawing, canvas, 50 if quick else 300)
    theirs = median_ms(keras_predict, image, 10 if quick else 50)
    widths = [w.shape[0] for w, _, _ in classifier.layers] + [10]
    notes.append(f"drawing: model {model_path or 'default (digitdnn/assets/)'} ({'-'.join(map(str, widths))}); "
                 f"to_mnist + predict_proba {ours:.2f} ms, model.predict on the 28x28 image alone {theirs:.1f} ms "
                 f"({theirs / ours:.0f}x slower)")
    return [
        Row.measure("one drawing: to_mnist + predict_proba", "ms", ours, 3.0),
        Row.measure("one drawing vs model.predict (>= 20x faster)", "ms", ours, 0.05, theirs),
    ]


def run(quick: bool = False, model_path=None) -> Report:
    """Measure everything on MNIST (a slice of it with quick); model_path None = the page's default model."""
    import tensorflow as tf

    from digitdnn.data.mnist import load_mnist
    from digitdnn.presets import DEFAULT_PRESET, PRESETS
    from digitdnn.training.loop import train

    data = load_mnist()
    if quick:
        data = data.head(*QUICK_SLICE)
    epochs = 2 if quick else 6
    tutorial = PRESETS[TUTORIAL_PRESET].replace(epochs=epochs)
    page_default = PRESETS[DEFAULT_PRESET]
    if quick:
        page_default = page_default.replace(epochs=epochs)
    tf_threads = tf.config.threading.get_intra_op_parallelism_threads() or len(os.sched_getaffinity(0))
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or os.cpu_count()
    notes = [f"{len(data.y_train):,} training and {len(data.y_test):,} test images; {os.cpu_count()} cores; "
             f"TensorFlow {tf_threads} threads, numpy GEMM (OpenBLAS) {blas_threads} threads; epoch figures are "
             f"medians of epochs 2+; GEMM-bound = the epoch's matrix products (per training image forward, weight "
             f"and input gradients, no input gradient for the first layer: 2.1x forward; per test image "
             f"forward) at numpy's fastest throughput on a training step's own products"]

    adam_history = train(ADAM_SETTING.replace(epochs=epochs), data).history
    rows = training_rows("Adam, batch 128", ADAM_SETTING, adam_history, data, notes)
    rows.append(augmentation_row(ADAM_SETTING.replace(epochs=epochs), adam_history, data))
    tutorial_history = train(tutorial, data).history
    rows += training_rows("SGD 0.01, batch 50", tutorial, tutorial_history, data, notes)
    rows += drawing_rows(model_path, quick, notes)
    default_history = train(page_default, data).history
    rows.append(time_to_accuracy_row(f"page default preset {DEFAULT_PRESET!r}", default_history, notes))
    return Report(rows, notes)


def main(argv=None) -> Report:
    """Run the benchmark, print its table and return it."""
    parser = argparse.ArgumentParser(description="Training and prediction speed against plain Keras.")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SLICE[0]:,} training / {QUICK_SLICE[1]:,} test images, 2 epochs each")
    parser.add_argument("--model", default=None, help="model for the drawing figures (default: digitdnn/assets/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    report = run(quick=args.quick, model_path=args.model)
    print(format_table(report))
    return report


if __name__ == "__main__":
    main()
