"""How well the network names drawings: to_mnist against whole-canvas resizing, and to_mnist's speed.

    python -m benchmarks.drawings [--quick] [--model PATH] [--count N]

Prints one table: plain MNIST test accuracy of the model; the MNIST test digits
(all 10,000; --quick: 1,000) re-drawn as a canvas shows them (solid ink, 30%-85% of a 280x280 canvas high,
anywhere on it, pen 8-35 px) through to_mnist and through whole-canvas
resizing; the stroke drawings of tests/data through both; the 28x28 stroke
widths against MNIST's own; and the median time of to_mnist on a 280x280
RGBA canvas. Then the pen digits of the writers that no model trains on
(digitdnn.data.pendigits.split_by_writer), drawn as the canvas draws them (round
brush, pen 8-35 px, 30%-85% of the canvas, anywhere): named overall, per digit
and per lab, the commonest mistakes, confidently wrong (top probability >= 0.9
and wrong) as a share of all digits, and the expected calibration error, "not sure" at several thresholds; the
same digits with foreign styles added (digitdnn.data.pen_styles: crossed zeros,
long-flag ones, barred sevens, curved-tail nines...), a stand-in for writers
taught elsewhere; and each style family alone.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitdnn.imaging.brush import CANVAS
from digitdnn.imaging.distort import resize_whole_canvas
from digitdnn.imaging.preprocess import grow, ink_map, stroke_width, to_mnist
from digitdnn.training.calibration import UNSURE_BELOW, expected_calibration_error
from testkit.strokes import load_drawings

STROKE_DRAWINGS = Path(__file__).resolve().parent.parent / "tests" / "data" / "stroke_drawings.npz"


def redraw_mnist(digit: np.ndarray, rng: np.random.Generator, canvas=CANVAS) -> np.ndarray:
    """An MNIST digit as a person would leave it on the canvas: solid white ink on black (or transparent) RGBA.

    The digit is cut to its box, enlarged to 30%-85% of the canvas height
    (smooth enlargement, then thresholded: no grey), its pen changed to a random
    width of 8-35 px (at most a quarter of its height; thinned to no less than 40% of
    its own width so that no part vanishes), and put anywhere fully
    on the canvas. One in four has a transparent background.
    """
    width, height = canvas
    crop = _cut_to_ink(digit).astype(np.float32) / 255.0
    target_height = rng.uniform(0.3, 0.85) * height
    scale = min(target_height / crop.shape[0], 0.95 * width / crop.shape[1])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    smooth = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BICUBIC))
    solid = (smooth >= 0.5).astype(np.float32)
    width_now = stroke_width(solid)
    pen = max(min(rng.uniform(8, 35) * min(canvas) / 280, target_height / 4), 0.4 * width_now)
    solid = np.pad(solid, round(pen))
    drawn = grow(solid, round((pen - width_now) / 2))
    drawn = _cut_to_ink(drawn)
    scale_down = min(1.0, (height - 2) / drawn.shape[0], (width - 2) / drawn.shape[1])
    if scale_down < 1.0:
        shrunk = Image.fromarray(drawn).resize((max(1, int(drawn.shape[1] * scale_down)),
                                                max(1, int(drawn.shape[0] * scale_down))), Image.Resampling.BOX)
        drawn = (np.asarray(shrunk) >= 0.5).astype(np.float32)
    top = rng.integers(0, height - drawn.shape[0] + 1)
    left = rng.integers(0, width - drawn.shape[1] + 1)
    ink = np.zeros((height, width), dtype=bool)
    ink[top:top + drawn.shape[0], left:left + drawn.shape[1]] = drawn > 0
    transparent = rng.uniform() < 0.25
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[ink] = 255
    if not transparent:
        rgba[:, :, 3] = 255
    return rgba


def _cut_to_ink(image: np.ndarray) -> np.ndarray:
    """The image cut to the box of its non-zero pixels."""
    rows = np.flatnonzero(image.max(axis=1))
    cols = np.flatnonzero(image.max(axis=0))
    return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def whole_canvas_input(image: np.ndarray) -> np.ndarray:
    """What most drawing demos feed the network: the whole canvas's ink, area-resized to 28x28."""
    return resize_whole_canvas(ink_map(image))


def accuracy(classifier, images: list[np.ndarray | None], labels: np.ndarray) -> float:
    """Share named correctly; an image that preprocessing refused (None) counts as wrong."""
    kept = [i for i, image in enumerate(images) if image is not None]
    if not kept:
        return 0.0
    predicted = classifier.predict(np.stack([images[i] for i in kept]))
    return float((predicted == labels[kept]).sum()) / len(labels)


def median_ms(function, argument, repeats: int) -> float:
    """Median wall time of function(argument) in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(argument)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def widths(images) -> str:
    """Median (5th-95th percentile) stroke width of 28x28 images."""
    measured = [stroke_width(image) for image in images if image is not None]
    low, mid, high = np.percentile(measured, [5, 50, 95])
    return f"{mid:.2f} ({low:.2f}-{high:.2f})"


CONFIDENT = 0.9          # a wrong answer at least this sure counts as "confidently wrong"
PEN_SEED = 999           # the held-out writers are drawn with this seed, the same every run
NOT_SURE_SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9)


def not_sure_lines(probabilities: np.ndarray, wrong: np.ndarray) -> list[str]:
    """How many answers each "not sure" threshold flags: of all digits, and of the wrong answers."""
    top = probabilities.max(axis=1)
    cells = [f"< {threshold:.0%}: {(top < threshold).mean():.1%} / "
             f"{(top[wrong] < threshold).mean() if wrong.any() else 0:.0%}" for threshold in NOT_SURE_SWEEP]
    return ["'not sure' at other thresholds (of all / of the wrong): " + "  ".join(cells)]


def pen_digit_report(classifier, x: np.ndarray, y: np.ndarray, labs: np.ndarray) -> list[str]:
    """Lines describing how `classifier` names pen digits x (uint8 or floats, (N, 28, 28)) of labels y."""
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x
    probabilities = classifier.predict_proba(x)
    predicted = probabilities.argmax(axis=1)
    wrong = predicted != y
    confident_wrong = float((wrong & (probabilities.max(axis=1) >= CONFIDENT)).mean())
    per_digit = "  ".join(f"{d}: {(predicted[y == d] == d).mean():.1%}" for d in np.unique(y))
    per_lab = "  ".join(f"{lab}: {(predicted[labs == lab] == y[labs == lab]).mean():.1%}" for lab in np.unique(labs))
    pairs, counts = np.unique(np.stack([y[wrong], predicted[wrong]], axis=1), axis=0, return_counts=True)
    commonest = sorted(zip(map(tuple, pairs), counts, strict=True), key=lambda pair: -pair[1])[:6]
    top = "  ".join(f"{a}->{b}: {n}" for (a, b), n in commonest)
    unsure = probabilities.max(axis=1) < UNSURE_BELOW
    return [f"named {1 - wrong.mean():.2%} of {len(y)} (target >= 97%), zeros {(predicted[y == 0] == 0).mean():.1%} "
            f"(target >= 95%), ones {(predicted[y == 1] == 1).mean():.1%} (target >= 97%), confidently wrong "
            f"{confident_wrong:.2%} of all (target <= 0.5%), "
            f"calibration error {expected_calibration_error(probabilities, y):.3f}",
            f"  'not sure' (top probability < {UNSURE_BELOW:.0%}): {unsure.mean():.1%} of all digits (target <= 6%), "
            f"{unsure[wrong].mean() if wrong.any() else 0:.0%} of the wrong answers (target >= 50%)",
            *("  " + line for line in not_sure_lines(probabilities, wrong)),
            f"  per digit: {per_digit}", f"  per lab: {per_lab}", f"  commonest mistakes: {top}"]


def style_family_line(classifier, x: np.ndarray, y: np.ndarray, name: str) -> str:
    """One row: how `classifier` names digits all written in one style (named, not sure, confidently wrong)."""
    probabilities = classifier.predict_proba(x.astype(np.float32) / 255.0)
    wrong = probabilities.argmax(axis=1) != y
    top = probabilities.max(axis=1)
    return (f"  {name:18} {len(y):>5}  named {1 - wrong.mean():7.2%}  not sure {(top < UNSURE_BELOW).mean():6.1%}  "
            f"confidently wrong {(wrong & (top >= CONFIDENT)).mean():6.2%}")


def pen_digit_lines(classifier, quick: bool) -> list[str]:
    """The held-out writers' pen digits, as written and with foreign styles, through to_mnist and the model; then
    each style family on its own (every held-out digit of its label written in that style)."""
    from digitdnn.data.pen_styles import STYLES
    from digitdnn.data.pen_training import draw_pen_digits
    from digitdnn.data.pendigits import load_pen_digits, split_by_writer

    pen = load_pen_digits()
    _, held = split_by_writer(pen)
    if quick:
        held = held[::10]
    writers = len(np.unique(pen.writer[held]))
    lines = []
    for title, styles in (("as written", False), ("with foreign styles (digitdnn.data.pen_styles.STYLES, "
                                                   "each for its share)", True)):
        x, y, drawn = draw_pen_digits(pen, held, seed=PEN_SEED, distort=False, styles=styles)
        refused = len(held) - len(drawn)
        lines.append(f"pen digits of {writers} held-out writers, {title}"
                     f"{f' ({refused} refused by to_mnist, left out)' if refused else ''}:")
        lines += ["  " + line for line in pen_digit_report(classifier, x, y, pen.lab[drawn])]
    lines.append("each style family alone (every held-out digit of its label written in it):")
    for style in STYLES:
        of_label = held[pen.label[held] == style.label]
        x, y, _ = draw_pen_digits(pen, of_label, seed=PEN_SEED, distort=False, styles=style)
        lines.append(style_family_line(classifier, x, y, style.name))
    return lines


def main(argv=None) -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description="Drawing accuracy and speed of to_mnist.")
    parser.add_argument("--quick", action="store_true", help="1,000 re-drawn digits and fewer timing runs")
    parser.add_argument("--count", type=int, default=None, help="re-drawn MNIST test digits (default: all 10,000)")
    parser.add_argument("--model", default=None, help="model file (default: the default model in digitdnn/assets/)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from digitdnn import load_classifier, load_mnist

    classifier = load_classifier(args.model)
    data = load_mnist()
    count = args.count or (1000 if args.quick else len(data.y_test))
    rng = np.random.default_rng(args.seed)
    picked = rng.choice(len(data.y_test), size=min(count, len(data.y_test)), replace=False)
    digits, labels = data.x_test[picked], data.y_test[picked]
    plain = accuracy(classifier, list(digits.astype(np.float32) / 255.0), labels)
    canvases = [redraw_mnist(digit, rng) for digit in digits]
    redrawn = [to_mnist(c) for c in canvases]
    redrawn_naive = [whole_canvas_input(c) for c in canvases]
    drawings = load_drawings(STROKE_DRAWINGS)
    stroke_labels = np.array([d.label for d in drawings])
    rendered = [d.render() for d in drawings]
    drawn = [to_mnist(r) for r in rendered]
    drawn_naive = [whole_canvas_input(r) for r in rendered]
    speed = median_ms(to_mnist, rendered[0], 100 if args.quick else 500)

    redrawn_accuracy = accuracy(classifier, redrawn, labels)
    drawn_accuracy = accuracy(classifier, drawn, stroke_labels)
    rows = [
        ("MNIST test digits, as they are", len(labels), f"{plain:.2%}", "", ""),
        ("re-drawn MNIST digits on a 280x280 canvas", len(labels), f"{redrawn_accuracy:.2%}",
         f"{accuracy(classifier, redrawn_naive, labels):.2%}",
         f"{100 * (plain - redrawn_accuracy):.2f} points below MNIST (target <= 1.0)"),
        ("stroke drawings (tests/data)", len(drawings), f"{drawn_accuracy:.2%}",
         f"{accuracy(classifier, drawn_naive, stroke_labels):.2%}", "target >= 97%"),
    ]
    print(f"model: {args.model or 'default (digitdnn/assets/)'}")
    print(f"{'':44} {'images':>6}  {'to_mnist':>9}  {'whole-canvas resize':>19}")
    for name, n, ours, naive, note in rows:
        print(f"{name:44} {n:>6}  {ours:>9}  {naive:>19}  {note}")
    print(f"stroke width in 28x28 px, median (5%-95%): MNIST {widths(list(digits.astype(np.float32) / 255.0))}, "
          f"re-drawn {widths(redrawn)}, strokes {widths(drawn)}")
    print(f"to_mnist on a 280x280 RGBA canvas: {speed:.2f} ms median")
    print("\n".join(pen_digit_lines(classifier, args.quick)))


if __name__ == "__main__":
    main()
