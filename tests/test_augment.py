"""Augmentation: the distortions' shape and range, their geometry, randomness, and that digits stay digits."""
import numpy as np
import pytest
import tensorflow as tf

from digitdnn.config import TrainConfig
from digitdnn.training import augment
from digitdnn.training.augment import N_PARAMETERS, augment_batch, augmented_examples
from digitdnn.training.loop import train


def neutral_parameters(count: int) -> np.ndarray:
    """Parameters that leave images unchanged: no thickness change, rotation, scaling, shear, shift or warp."""
    p = np.full((count, N_PARAMETERS), 0.5, np.float32)
    low, high = augment.THICKNESS_RANGE
    p[:, 0] = -low / (high - low)
    small, large = np.log(augment.SCALE_RANGE)
    p[:, 2] = -small / (large - small)
    return p


def distort(images: np.ndarray, parameters: np.ndarray) -> np.ndarray:
    return augment_batch(tf.constant(images, tf.float32), tf.constant(parameters)).numpy()


def centre_of_mass(image: np.ndarray) -> np.ndarray:
    rows, cols = np.mgrid[0:28, 0:28]
    return np.array([(image * rows).sum(), (image * cols).sum()]) / image.sum()


def orientation_degrees(image: np.ndarray) -> float:
    """Angle of the image's principal axis from the horizontal, counter-clockwise as seen on screen."""
    rows, cols = np.mgrid[0:28, 0:28].astype(float)
    r, c = centre_of_mass(image)
    mu_cc = (image * (cols - c) ** 2).sum()
    mu_rr = (image * (rows - r) ** 2).sum()
    mu_rc = (image * (rows - r) * (cols - c)).sum()
    return -np.degrees(0.5 * np.arctan2(2 * mu_rc, mu_cc - mu_rr))


@pytest.fixture(scope="module")
def digits(small_mnist):
    return small_mnist.x_test[:200] / np.float32(255)


def test_shape_dtype_and_range(small_mnist):
    batch = augmented_examples(small_mnist.x_train[:32], seed=0)
    assert batch.shape == (32, 28, 28) and batch.dtype == np.float32
    assert batch.min() >= 0 and batch.max() <= 1
    single = augmented_examples(small_mnist.x_train[0] / 255.0, seed=0)
    assert single.shape == (28, 28)
    # uint8 images are scaled to [0, 1] first, so both forms give the same result
    np.testing.assert_allclose(batch[0], single, atol=1e-5)


def test_same_seed_same_images_otherwise_different(digits):
    first = augmented_examples(digits[:16], seed=5)
    np.testing.assert_array_equal(first, augmented_examples(digits[:16], seed=5))
    assert np.abs(first - augmented_examples(digits[:16], seed=6)).mean() > 0.03
    assert np.abs(augmented_examples(digits[:16]) - augmented_examples(digits[:16])).mean() > 0.03
    assert np.abs(first - digits[:16]).mean() > 0.03  # not the identity


def test_neutral_parameters_change_nothing(digits):
    np.testing.assert_allclose(distort(digits[:20], neutral_parameters(20)), digits[:20], atol=1e-4)


def test_thickness_parameter_thins_and_thickens_strokes(digits):
    images = digits[:20]
    ink = []
    for amount in (0.0, 0.15, 0.2857, 0.6, 1.0):  # THICKNESS_RANGE (-0.4, 1.0) spread over [0, 1]
        p = neutral_parameters(20)
        p[:, 0] = amount
        ink.append(distort(images, p).sum(axis=(1, 2)))
    ink = np.array(ink)
    assert (np.diff(ink, axis=0) > 0).all()  # more ink with every step, for every image
    assert (ink[-1] > 1.5 * ink[2]).all() and (ink[0] < 0.85 * ink[2]).all()


def test_rotation_turns_a_bar_by_up_to_15_degrees():
    bar = np.zeros((1, 28, 28), np.float32)
    bar[0, 13:15, 6:22] = 1.0
    assert orientation_degrees(bar[0]) == pytest.approx(0, abs=0.5)
    angles = []
    for u in (0.0, 1.0):
        p = neutral_parameters(1)
        p[:, 1] = u
        angles.append(orientation_degrees(distort(bar, p)[0]))
    assert sorted(abs(a) for a in angles) == pytest.approx([augment.MAX_ROTATION_DEGREES] * 2, abs=1.5)
    assert angles[0] * angles[1] < 0  # one way, then the other


def test_shift_moves_the_centre_of_mass(digits):
    image = digits[:1]
    p = neutral_parameters(1)
    p[:, 5:7] = 1.0  # largest shift in x and y
    moved = centre_of_mass(distort(image, p)[0]) - centre_of_mass(image[0])
    np.testing.assert_allclose(np.abs(moved), augment.MAX_SHIFT_PIXELS, atol=0.15)


def test_distortions_stay_near_the_centre(digits):
    augmented = augmented_examples(digits, seed=3)
    shifts = [centre_of_mass(a) - centre_of_mass(d) for a, d in zip(augmented, digits, strict=True)]
    assert np.abs(shifts).max() < 4


def test_rejects_images_of_the_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        augmented_examples(np.zeros((3, 28, 29), np.uint8))


def test_augmented_digits_remain_recognisable(small_mnist):
    plain_model = train(TrainConfig(optimizer="adam", learning_rate=0.001, batch_size=32, epochs=3),
                        data=small_mnist).classifier
    images, labels = small_mnist.x_test, small_mnist.y_test
    plain = (plain_model.predict(images / np.float32(255)) == labels).mean()
    distorted = (plain_model.predict(augmented_examples(images, seed=0)) == labels).mean()
    assert plain > 0.85
    assert 0.65 * plain < distorted < plain - 0.05  # harder, but mostly still the same digit


def test_training_with_augmentation_learns(small_mnist):
    cfg = TrainConfig(optimizer="adam", learning_rate=0.001, batch_size=32, epochs=1, augment=True)
    (report,) = train(cfg, data=small_mnist).history.epochs
    assert report.test_accuracy > 0.75
