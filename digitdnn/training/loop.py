"""The training loop: compiled chunks of mini-batch steps, per-epoch reports, stop and divergence.

Its own loop rather than `model.fit`, to be fast (one XLA-compiled call per chunk of steps, dropout
and augmentation inside it), stoppable between chunks, and reproducible from `cfg.seed` alone while
runs train side by side. Design notes: docs/design-notes.md
"""
from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from digitdnn.config import TrainConfig
from digitdnn.model import N_PIXELS, Classifier, build_model, load_layers
from digitdnn.training.augment import augment_batch, random_parameters
from digitdnn.training.history import EpochReport, History, TrainResult

MAX_CHUNK_BATCHES = 50        # steps per compiled call at most (should_stop is polled between calls)
CHUNK_TARGET_SECONDS = 0.2    # chunks shrink so that big networks still poll about this often
EVAL_BATCH = 5000             # test images per evaluation call
EXPLODED_LOSS = 1e3           # a mean cross-entropy above this (chance is 2.3) counts as diverged
SEEDS_PER_EPOCH = 8  # dropout seeds (epoch, layer) -> 8 * epoch + the layer's place (< 8: four Dense, four Dropout)
AUGMENTED_SHARE = 0.5         # with cfg.augment, this share of every batch is distorted, the rest kept clean


def make_optimizer(cfg: TrainConfig, total_steps: int | None = None) -> keras.optimizers.Optimizer:
    """The Keras optimizer named by `cfg.optimizer`, at `cfg.learning_rate`; with `cfg.schedule` "cosine" the rate
    falls along a half cosine to 0 over `total_steps` (the run's batches), then stays there."""
    lr = cfg.learning_rate
    if cfg.schedule == "cosine":
        if not total_steps:
            raise ValueError("a cosine schedule needs the run's number of steps")
        lr = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=total_steps)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(lr)
    if cfg.optimizer == "momentum":
        return keras.optimizers.SGD(lr, momentum=cfg.momentum)
    if cfg.optimizer == "nesterov":
        return keras.optimizers.SGD(lr, momentum=cfg.momentum, nesterov=True)
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    if cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


@dataclass
class _EpochOutcome:
    loss_sum: float = 0.0      # summed cross-entropy of the examples trained
    correct: float = 0.0       # examples predicted right while training
    batches_done: int = 0
    batches_total: int = 0
    stopped: bool = False      # should_stop said so
    diverged: bool = False     # a chunk's loss was NaN, infinite or exploded


class _Trainer:
    """One model, its optimizer, the data as tensors, and the compiled chunk and evaluation functions."""

    def __init__(self, model: keras.Model, cfg: TrainConfig, data):
        self.model = model
        self.cfg = cfg
        self.x_train = tf.constant(data.x_train)
        self.y_train = tf.constant(data.y_train, tf.int32)
        self.x_test, self.y_test = data.x_test, np.asarray(data.y_test, np.int32)
        self.n_train = len(data.x_train)
        self.batch_size = min(cfg.batch_size, self.n_train)
        self.optimizer = make_optimizer(cfg, cfg.epochs * math.ceil(self.n_train / self.batch_size))
        self.optimizer.build(model.trainable_variables)
        *self.body, self.output = [layer for layer in model.layers
                                   if isinstance(layer, (keras.layers.Dense, keras.layers.Dropout))]
        self.dropout_seed = int(np.random.SeedSequence([cfg.seed, 2]).generate_state(1)[0] % 2**30)
        self.shuffle_rng = np.random.default_rng(cfg.seed)
        self.augment_rng = np.random.default_rng([cfg.seed, 1])
        self.chunk = 1  # batches in the next compiled call: one until the speed is known
        self.compiled = False
        # Partials, not bound methods: TensorFlow counts traces per code object and would warn of
        # "excessive retracing" once a few trainings (each with its own model) have run.
        self.train_chunk = tf.function(functools.partial(_Trainer._train_chunk, self), jit_compile=True)
        self.evaluate_batch = tf.function(functools.partial(_Trainer._evaluate_batch, self), reduce_retracing=True)

    def _logits(self, images, step_seed=None):
        """The pre-softmax outputs (cross-entropy from logits is exact where softmax saturates).

        With `step_seed` (training), each Dropout layer drops units by a stateless mask drawn from it.
        """
        h = tf.reshape(images, [-1, N_PIXELS])
        for index, layer in enumerate(self.body):
            if isinstance(layer, keras.layers.Dropout):
                if step_seed is not None and layer.rate > 0:
                    h = _dropout(h, layer.rate, step_seed + tf.constant([index, 0]))
            else:
                h = layer(h)
        return tf.matmul(h, self.output.kernel) + self.output.bias

    def _train_chunk(self, batches, sizes, start, count, epoch, distortions=None):
        """Run `count` steps on batches[start:start+count] (index rows padded to the batch size).

        `distortions` (n_batches, share, N_PARAMETERS) are the augmentation's random numbers for
        the first `share` images of each batch, or None without augmentation. Returns the summed
        cross-entropy and the number of correct predictions over the real (unpadded) examples.
        """
        variables = self.model.trainable_variables
        batch_size = tf.shape(batches)[1]

        def step(i, loss_sum, correct_sum):
            rows = batches[i]
            mask = tf.cast(tf.range(batch_size) < sizes[i], tf.float32)
            images = tf.cast(tf.gather(self.x_train, rows), tf.float32) / 255.0
            labels = tf.gather(self.y_train, rows)
            if distortions is not None:  # rows are in random order, so the first ones are a random share
                share = distortions.shape[1]
                images = tf.concat([augment_batch(images[:share], distortions[i]), images[share:]], axis=0)
            with tf.GradientTape() as tape:
                logits = self._logits(images, tf.stack([self.dropout_seed + SEEDS_PER_EPOCH * epoch, i]))
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits) * mask
                loss = tf.reduce_sum(losses) / tf.cast(sizes[i], tf.float32)
                if self.model.losses:
                    loss += tf.add_n(self.model.losses)
            self.optimizer.apply(tape.gradient(loss, variables), variables)
            hits = tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), labels), tf.float32)
            return i + 1, loss_sum + tf.reduce_sum(losses), correct_sum + tf.reduce_sum(hits * mask)

        # An explicit while_loop: XLA would recompile a `for i in tf.range(...)` for every new bound.
        _, loss_sum, correct_sum = tf.while_loop(
            lambda i, *_: i < start + count, step, (start, tf.constant(0.0), tf.constant(0.0))
        )
        return loss_sum, correct_sum

    def _evaluate_batch(self, images, labels):
        logits = self._logits(tf.cast(images, tf.float32) / 255.0)
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), labels), tf.float32))
        return loss, correct

    def _epoch_batches(self) -> tuple[np.ndarray, np.ndarray]:
        """A shuffled epoch as (n_batches, batch_size) index rows (the last padded) and their real sizes."""
        n, size = self.n_train, self.batch_size
        n_batches = math.ceil(n / size)
        order = np.zeros(n_batches * size, np.int32)
        order[:n] = self.shuffle_rng.permutation(n)
        sizes = np.full(n_batches, size, np.int32)
        sizes[-1] = n - (n_batches - 1) * size
        return order.reshape(n_batches, size), sizes

    def run_epoch(self, epoch: int, should_stop, on_progress) -> _EpochOutcome:
        """Train one epoch in compiled chunks, polling should_stop (and reporting progress) after each."""
        batches, sizes = self._epoch_batches()
        n_batches = len(sizes)
        distortions = None
        if self.cfg.augment:
            share = math.ceil(AUGMENTED_SHARE * self.batch_size)
            numbers = random_parameters(self.augment_rng, n_batches * share)
            distortions = tf.constant(numbers.reshape(n_batches, share, -1))
        batches, sizes = tf.constant(batches), tf.constant(sizes)
        outcome = _EpochOutcome(batches_total=n_batches)
        while outcome.batches_done < n_batches:
            count = min(self.chunk, n_batches - outcome.batches_done)
            started = time.perf_counter()
            loss, correct = self.train_chunk(batches, sizes, tf.constant(outcome.batches_done), tf.constant(count),
                                             tf.constant(epoch), distortions)
            loss, correct = float(loss), float(correct)
            if self.compiled:  # adapt the chunk to the speed measured (the first call includes compiling)
                per_batch = (time.perf_counter() - started) / count
                self.chunk = int(np.clip(CHUNK_TARGET_SECONDS / max(per_batch, 1e-9), 1, MAX_CHUNK_BATCHES))
            self.compiled = True
            outcome.batches_done += count
            if not _healthy(loss / (count * self.batch_size)):
                outcome.diverged = True
                break
            outcome.loss_sum += loss
            outcome.correct += correct
            if on_progress is not None:
                on_progress(epoch, outcome.batches_done / n_batches)
            if should_stop is not None and should_stop():
                outcome.stopped = True
                break
        return outcome

    def evaluate(self) -> tuple[float, float]:
        """(accuracy, mean cross-entropy) on the test set."""
        loss = correct = 0.0
        for start in range(0, len(self.y_test), EVAL_BATCH):
            end = start + EVAL_BATCH
            batch_loss, batch_correct = self.evaluate_batch(self.x_test[start:end], self.y_test[start:end])
            loss += float(batch_loss)
            correct += float(batch_correct)
        return correct / len(self.y_test), loss / len(self.y_test)


def _dropout(h, rate: float, seed):
    """`h` with each unit zeroed with probability `rate` (the rest scaled by 1/(1-rate)), by a stateless mask."""
    keep = tf.random.stateless_uniform(tf.shape(h), seed=seed, alg="threefry") >= rate
    return tf.where(keep, h / (1.0 - rate), 0.0)


def _healthy(mean_loss: float) -> bool:
    return math.isfinite(mean_loss) and mean_loss <= EXPLODED_LOSS


def _check_data(data) -> None:
    for name in ("x_train", "x_test"):
        x = getattr(data, name)
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"data.{name} must be uint8 images (N, 28, 28), got {x.dtype} {x.shape}")
        if len(x) == 0:
            raise ValueError(f"data.{name} is empty")
    if len(data.y_train) != len(data.x_train) or len(data.y_test) != len(data.x_test):
        raise ValueError("each image set needs exactly one label per image")


def _check_matches(initial: Classifier, cfg: TrainConfig) -> None:
    """ValueError unless `initial`'s hidden layers are those `cfg` builds."""
    hidden = initial.layers[:-1]
    units = tuple(w.shape[1] for w, _, _ in hidden)
    activations = {activation for _, _, activation in hidden}
    if units != cfg.hidden_units or activations != {cfg.activation}:
        raise ValueError(f"the starting model has hidden layers {units} ({', '.join(sorted(activations))}); "
                         f"the config asks for {cfg.hidden_units} ({cfg.activation})")


def _metadata(cfg: TrainConfig, report: EpochReport | None) -> dict:
    meta: dict[str, object] = {"config": cfg.to_dict()}
    if report is not None:
        meta.update(epoch=report.epoch, test_accuracy=report.test_accuracy)
    return meta


def train(
    cfg: TrainConfig,
    data=None,
    on_epoch_end: Callable | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int, float], None] | None = None,
    initial: Classifier | None = None,
) -> TrainResult:
    """Train a new network for `cfg` on MNIST (`data`, or `load_mnist()` when None). Prints nothing.

    Args:
        initial: a warm start: training continues from this classifier's weights (its layers
            must match `cfg.hidden_units` and `cfg.activation`; ValueError otherwise) and
            `history.initial_test_accuracy` records their test accuracy before the first step.
        on_epoch_end: called as on_epoch_end(report, classifier) after every epoch, with a
            Classifier snapshot of the weights at that moment.
        should_stop: polled between compiled chunks (at least every 50 batches, and about every
            0.2 s); True ends the run keeping the weights trained so far (status "stopped").
        on_progress: called as on_progress(epoch, fraction_of_epoch) at each poll.

    Returns:
        TrainResult(classifier, history). A NaN, infinite or exploded (> EXPLODED_LOSS) loss ends
        the run with status "diverged" and the weights of the last healthy epoch (or the initial ones).
    """
    if data is None:
        from digitdnn.data.mnist import load_mnist

        data = load_mnist()
    _check_data(data)
    model = build_model(cfg)
    if initial is not None:
        _check_matches(initial, cfg)
        load_layers(model, initial.layers)
    trainer = _Trainer(model, cfg, data)
    history = History(config=cfg)
    if initial is not None:
        history.initial_test_accuracy = trainer.evaluate()[0]
    healthy = Classifier.snapshot(model, _metadata(cfg, None))  # weights to fall back on if training diverges

    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        outcome = trainer.run_epoch(epoch, should_stop, on_progress)
        seconds = time.perf_counter() - started
        if outcome.stopped and outcome.batches_done < outcome.batches_total:
            history.status = "stopped"
            history.message = (f"stopped during epoch {epoch}, after {outcome.batches_done} of "
                               f"{outcome.batches_total} batches")
            break
        if not outcome.diverged:
            eval_started = time.perf_counter()
            test_accuracy, test_loss = trainer.evaluate()
            outcome.diverged = not _healthy(test_loss)
        if outcome.diverged:
            load_layers(model, healthy.layers)
            kept = f"the weights after epoch {epoch - 1}" if epoch > 1 else "the initial weights"
            history.status = "diverged"
            history.message = (f"diverged in epoch {epoch}: the loss became NaN, infinite or huge "
                               f"(try a smaller learning rate); kept {kept}")
            break
        report = EpochReport(epoch, cfg.epochs, outcome.correct / trainer.n_train, outcome.loss_sum / trainer.n_train,
                             test_accuracy, test_loss, seconds, time.perf_counter() - eval_started)
        history.epochs.append(report)
        healthy = Classifier.snapshot(model, _metadata(cfg, report))
        if on_epoch_end is not None:
            on_epoch_end(report, healthy)
        if outcome.stopped and epoch < cfg.epochs:  # a stop after the last batch of the run changes nothing
            history.status = "stopped"
            history.message = f"stopped after epoch {epoch} of {cfg.epochs}"
            break
    else:
        history.status = "completed"
        history.message = f"completed {cfg.epochs} epoch{'' if cfg.epochs == 1 else 's'}"
    last = history.epochs[-1] if history.epochs else None
    return TrainResult(Classifier(model, _metadata(cfg, last)), history)
