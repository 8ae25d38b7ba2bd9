"""Training data from pen digits: drawn through the canvas and to_mnist, added to MNIST, held-out writers never."""
import numpy as np

from digitdnn.data.pen_training import draw_pen_digits, mnist_with_pen_digits, with_extra_training
from digitdnn.data.pendigits import split_by_writer


def test_drawn_pen_digits_look_like_mnist_inputs(pen):
    indices = np.arange(0, 400, 20)
    x, y, drawn = draw_pen_digits(pen, indices, copies=2, seed=0)
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and len(x) == len(y) == len(drawn)
    assert 36 <= len(x) <= 40
    assert np.array_equal(y, pen.label[drawn])
    # Centred like MNIST: the ink's centre of mass near the middle, a 20 px box.
    rows = (x.astype(float).sum(axis=2) * np.arange(28)).sum(axis=1) / x.astype(float).sum(axis=(1, 2))
    assert np.abs(rows - 13.5).max() < 2.0
    # Two copies of a digit differ (another hand, size, pen), and the same seed repeats them.
    assert not np.array_equal(x[0], x[len(indices)])
    again, _, _ = draw_pen_digits(pen, indices, copies=2, seed=0)
    assert np.array_equal(x, again)


def test_as_written_is_not_distorted(pen):
    first, _, _ = draw_pen_digits(pen, [3], seed=1, distort=False, styles=False)
    other, _, _ = draw_pen_digits(pen, [3], seed=2, distort=False, styles=False)
    # Only size, place and pen differ: after to_mnist the two are close.
    assert np.abs(first.astype(float) - other.astype(float)).mean() < 40


def test_extra_training_joins_the_training_set_only(small_mnist):
    x = np.full((5, 28, 28), 7, np.uint8)
    joined = with_extra_training(small_mnist, x, np.arange(5), "five")
    assert len(joined.x_train) == len(small_mnist.x_train) + 5
    assert np.array_equal(joined.x_train[-5:], x) and list(joined.y_train[-5:]) == [0, 1, 2, 3, 4]
    assert joined.x_test is small_mnist.x_test and "five" in joined.source


def test_mnist_with_pen_digits_draws_training_writers_only_once(small_mnist, pen, monkeypatch, tmp_path):
    import digitdnn.data.pen_training as pen_training

    seen = []
    real = pen_training.draw_pen_digits
    monkeypatch.setattr(pen_training, "draw_pen_digits",
                        lambda p, indices, **kw: seen.append(np.asarray(indices)) or real(p, indices[:30], **kw))
    joined = mnist_with_pen_digits(small_mnist, copies=1, pen=pen, cache_dir=tmp_path)
    train, held = split_by_writer(pen)
    assert np.array_equal(seen[0], train)
    assert not set(pen.writer[seen[0]]) & set(pen.writer[held])
    assert len(joined.x_train) == len(small_mnist.x_train) + 30
    # The drawings are kept: the next call reads them back instead of drawing again.
    again = mnist_with_pen_digits(small_mnist, copies=1, pen=pen, cache_dir=tmp_path)
    assert len(seen) == 1 and np.array_equal(again.x_train, joined.x_train)
    other = mnist_with_pen_digits(small_mnist, copies=2, pen=pen, cache_dir=tmp_path)
    assert len(seen) == 2 and len(other.x_train) > len(joined.x_train)


def test_drawings_that_cannot_be_kept_are_still_used(small_mnist, pen, monkeypatch, tmp_path, caplog):
    import digitdnn.data.pen_training as pen_training

    real = pen_training.draw_pen_digits
    monkeypatch.setattr(pen_training, "draw_pen_digits", lambda p, indices, **kw: real(p, indices[:10], **kw))
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    joined = mnist_with_pen_digits(small_mnist, copies=1, pen=pen, cache_dir=blocked)
    assert len(joined.x_train) == len(small_mnist.x_train) + 10
    assert "could not keep the pen-digit drawings" in caplog.text


def test_one_style_draws_every_digit_of_its_label_in_it(pen):
    from digitdnn.data.pen_styles import STYLES

    crossed = next(style for style in STYLES if style.name == "crossed zero")
    zeros = np.flatnonzero(pen.label == 0)[:5]
    plain, _, _ = draw_pen_digits(pen, zeros, seed=3, distort=False, styles=False)
    styled, _, _ = draw_pen_digits(pen, zeros, seed=3, distort=False, styles=crossed)
    assert all(not np.array_equal(a, b) for a, b in zip(plain, styled, strict=True))


def test_the_model_card_names_the_styles_and_their_shares(pen):
    from digitdnn.data.pen_training import DRAWING_VERSION, pen_digits_record

    record = pen_digits_record(pen, copies=4)
    assert record["styles"]["crossed zero"] == 0.3 and record["drawing_version"] == DRAWING_VERSION
