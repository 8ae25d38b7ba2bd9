"""How well photos of digits written on paper are named: the photo steps against the drawing's steps alone.

    python -m benchmarks.photos [--count N] [--seed S] [--model PATH]

Photographs (testkit.paper_photos: dark ink on light paper, a strong lighting gradient, a shadow
along one edge, a warm tint, noise, JPEG) the pen digits of writers no model trains on
(digitdnn.data.pendigits.split_by_writer), N of them drawn at random with seed S, and prints the share
named right through digitdnn.imaging.photo (lighting flattened, ink by contrast, edge marks and specks
dropped) and through to_mnist alone, how many had no digit found, the commonest mistakes, and the
median time from JPEG bytes to the 28x28 input.
"""
from __future__ import annotations

import argparse
import os
import time
from collections import Counter

import numpy as np

from digitdnn.data.pendigits import load_pen_digits, split_by_writer
from digitdnn.imaging.photo import photo_to_mnist, read_photo
from digitdnn.imaging.preprocess import to_mnist
from testkit.paper_photos import paper_photo


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.photos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500, help="photos to make and name (default 500)")
    parser.add_argument("--seed", type=int, default=7, help="which digits, and how each is photographed")
    parser.add_argument("--model", default=None, help="the model that names them (default: assets/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from digitdnn.storage.models import load_classifier

    classifier = load_classifier(args.model)
    pen = load_pen_digits()
    _, held_out = split_by_writer(pen)
    rng = np.random.default_rng(args.seed)
    chosen = rng.choice(held_out, args.count, replace=False)
    named = {"photo steps": 0, "to_mnist alone": 0}
    missed, mistakes, seconds = 0, Counter(), []
    for index in chosen:
        label = int(pen.label[index])
        data = paper_photo(pen.strokes(int(index)), rng)
        started = time.perf_counter()
        x = photo_to_mnist(read_photo(data))
        seconds.append(time.perf_counter() - started)
        for way, image in (("photo steps", x), ("to_mnist alone", to_mnist(read_photo(data)))):
            said = None if image is None else int(np.argmax(classifier.predict_proba(image)[0]))
            named[way] += said == label
            if way == "photo steps" and said != label:
                missed += said is None
                mistakes[f"{label} as {said if said is not None else 'no digit'}"] += 1
    writers = len(set(pen.writer[chosen].tolist()))
    print(f"{args.count} photos of pen digits by {writers} held-out writers (seed {args.seed})")
    for way, right in named.items():
        print(f"  named right, {way:<15} {right / args.count:7.1%}  ({right})")
    print(f"  no digit found: {missed}; mistakes: {', '.join(f'{k} x{n}' for k, n in mistakes.most_common(5)) or '-'}")
    print(f"  photo (JPEG bytes) to 28x28: {np.median(seconds) * 1000:.1f} ms median")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
