"""The stroke drawings in tests/data: what they cover, that they are the templates' expansion, and that
the default model names at least 97% of them through to_mnist."""
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from digitdnn.imaging.preprocess import to_mnist
from testkit.strokes import (
    DRAWING_COUNT,
    DRAWING_SEED,
    expand,
    load_drawings,
    load_templates,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def drawings():
    return load_drawings(DATA / "stroke_drawings.npz")


def test_every_digit_in_several_styles(drawings):
    assert len(drawings) >= 300
    styles = defaultdict(set)
    for drawing in drawings:
        styles[drawing.label].add(drawing.style)
    assert sorted(styles) == list(range(10))
    assert all(len(s) >= 4 for s in styles.values()), {k: len(v) for k, v in styles.items()}
    counts = np.bincount([d.label for d in drawings], minlength=10)
    assert counts.min() >= 25, counts


def test_sizes_places_and_pens_vary(drawings):
    boxes = np.array([np.ptp(np.concatenate(d.strokes), axis=0) for d in drawings])
    heights = boxes[:, 1] / 280
    assert heights.min() < 0.4 and heights.max() > 0.75
    brushes = np.array([d.brush for d in drawings])
    assert brushes.min() < 10 and brushes.max() > 30
    assert 0.1 < np.mean([d.transparent for d in drawings]) < 0.4


def test_stored_drawings_are_the_templates_expansion(drawings):
    """Edit the templates, then regenerate: python -m testkit.strokes tests/data/stroke_templates.json
    tests/data/stroke_drawings.npz"""
    expected = expand(load_templates(DATA / "stroke_templates.json"), DRAWING_COUNT, DRAWING_SEED)
    assert len(expected) == len(drawings)
    for stored, fresh in zip(drawings, expected, strict=True):
        assert (stored.label, stored.style, stored.transparent) == (fresh.label, fresh.style, fresh.transparent)
        assert stored.brush == pytest.approx(fresh.brush, abs=1e-3)
        for a, b in zip(stored.strokes, fresh.strokes, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-2)


def test_default_model_names_the_drawings(drawings):
    from digitdnn import load_classifier

    classifier = load_classifier()
    images = [to_mnist(d.render()) for d in drawings]
    assert all(image is not None for image in images)
    predicted = classifier.predict(np.stack(images))
    labels = np.array([d.label for d in drawings])
    wrong = defaultdict(int)
    for drawing, guess in zip(drawings, predicted, strict=True):
        if guess != drawing.label:
            wrong[f"{drawing.label}/{drawing.style}->{guess}"] += 1
    named = (predicted == labels).mean()
    assert named >= 0.97, f"named {named:.1%} of {len(labels)}; mistakes: {dict(wrong)}"
