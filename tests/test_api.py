"""The public API (the names `digitdnn/__init__.py` exports): each stays the function it names after the submodule of
the same name is imported, rather than being shadowed by that module; and the entry points added to it work."""
import numpy as np
import pytest

import digitdnn


def test_public_api_names_stay_functions_after_submodules_load():
    import digitdnn.training.loop  # noqa: F401  (a submodule named like an export would shadow it)

    assert callable(digitdnn.train) and digitdnn.train.__name__ == "train"
    assert digitdnn.to_mnist.__name__ == "to_mnist"
    assert digitdnn.load_classifier.__name__ == "load_classifier"


def test_every_listed_name_is_there_and_nothing_else_is_offered():
    for name in digitdnn.__all__:
        assert getattr(digitdnn, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Store'"):
        digitdnn.Store  # noqa: B018


def test_evaluate_gives_accuracy_and_per_digit_accuracy_on_labelled_images(mnist):
    classifier = digitdnn.load_classifier()
    x, y = mnist.x_test[:500], mnist.y_test[:500]
    result = digitdnn.evaluate(classifier, x, y)
    assert isinstance(result, digitdnn.Evaluation)
    assert result.accuracy == pytest.approx(np.mean(classifier.predict(x.astype(np.float32) / 255) == y))
    assert result.accuracy > 0.95 and result.correct == round(result.accuracy * 500)
    assert result.digit_counts().sum() == 500 and result.digit_accuracy().min() > 0.8
    floats = digitdnn.evaluate(classifier, x.astype(np.float32) / 255, y)  # images already in [0, 1] alike
    assert floats.accuracy == result.accuracy


def test_train_returns_a_train_result(small_mnist):
    cfg = digitdnn.TrainConfig(hidden_units=(16,), optimizer="adam", learning_rate=0.002, epochs=1)
    result = digitdnn.train(cfg, small_mnist.head(1000, 200))
    assert isinstance(result, digitdnn.TrainResult)
    classifier, history = result
    assert classifier is result.classifier and len(history.epochs) == 1
    assert history.epochs[-1].test_accuracy > 0.2  # one short epoch: well above chance (0.1), no more


def test_photo_entry_points_name_a_digit_written_on_paper(mnist):
    from PIL import Image

    paper = Image.fromarray(255 - mnist.x_test[0]).resize((280, 280), Image.LANCZOS)
    photo = Image.new("L", (400, 400), 235)
    photo.paste(paper.point(lambda v: 235 * v // 255), (60, 60))
    path_bytes = _png_bytes(photo)
    image = digitdnn.read_photo(path_bytes)
    assert image.dtype == np.uint8 and image.shape == (400, 400, 3)
    x = digitdnn.photo_to_mnist(image)
    assert x is not None and x.shape == (28, 28)
    assert digitdnn.load_classifier().predict(x)[0] == mnist.y_test[0]
    steps = digitdnn.photo_steps(image)
    assert steps.problem is None and np.array_equal(steps.drawing.centred, x)
    with pytest.raises(digitdnn.PhotoError, match="PNG or JPEG"):
        digitdnn.read_photo(b"GIF89a not a photo")


def _png_bytes(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
