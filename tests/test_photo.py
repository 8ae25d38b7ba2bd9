"""digitdnn.imaging.photo: photos of digits written on paper (uneven light, a shadow at the edge, noise, JPEG) come out
as clean MNIST-format digits; unreadable or oversized files are refused with a plain message."""
import io
from collections import deque

import numpy as np
import pytest
from PIL import Image

from digitdnn.data.pendigits import load_pen_digits, split_by_writer
from digitdnn.imaging.photo import (
    MAX_OTHER_PIXELS,
    PhotoError,
    label_marks,
    otsu_threshold,
    photo_steps,
    photo_to_mnist,
    read_photo,
)
from digitdnn.imaging.preprocess import to_mnist
from testkit.paper_photos import paper_photo

PHOTOS = 60             # held-out writers' digits photographed (python -m benchmarks.photos: 700, 98.1%)
GOOD_MAJORITY = 0.9


@pytest.fixture(scope="module")
def photos():
    """(label, JPEG bytes) of PHOTOS digits by writers no model trained on, each photographed on paper."""
    pen = load_pen_digits()
    _, held_out = split_by_writer(pen)
    rng = np.random.default_rng(13)
    return [(int(pen.label[i]), paper_photo(pen.strokes(int(i)), rng))
            for i in rng.choice(held_out, PHOTOS, replace=False)]


def share_named(classifier, photos, prepare) -> float:
    """The share of photos whose digit the classifier names when each is made 28x28 by `prepare` (None: missed)."""
    right = 0
    for label, data in photos:
        x = prepare(read_photo(data))
        right += x is not None and int(np.argmax(classifier.predict_proba(x)[0])) == label
    return right / len(photos)


def test_photos_of_paper_are_named_by_the_default_model(photos):
    from digitdnn import load_classifier

    classifier = load_classifier()
    with_flattening = share_named(classifier, photos, photo_to_mnist)
    drawing_steps_only = share_named(classifier, photos, to_mnist)
    print(f"\nphotos named right: {with_flattening:.1%}; with the drawing's steps alone: {drawing_steps_only:.1%}")
    assert with_flattening >= GOOD_MAJORITY
    assert drawing_steps_only < 0.5  # the light and the shadow are what the photo steps are for


def test_the_paper_comes_out_evenly_white_and_the_edge_shadow_is_dropped(photos):
    steps = photo_steps(read_photo(photos[0][1]))
    ink = steps.ink > 0
    paper = ~(_grown(ink, 6))
    border = np.zeros_like(ink)
    border[:8], border[-8:], border[:, :8], border[:, -8:] = True, True, True, True
    inside = paper & ~_grown(border, 70)  # clear of the edge shadow (at most 60 px of 480 deep)
    assert np.percentile(steps.grey[inside], 95) / np.percentile(steps.grey[inside], 5) > 1.3  # lit unevenly
    assert np.percentile(steps.flattened[inside], 5) > 0.85                                   # evened out
    assert not ink[border].any()
    assert steps.drawing is not None and steps.problem is None


def test_blank_paper_has_no_digit_and_says_why():
    rows, cols = np.mgrid[0:300, 0:400]
    paper = (200 - 0.3 * cols - 0.1 * rows).astype(np.uint8)
    steps = photo_steps(paper)
    assert steps.drawing is None and "No writing found" in steps.problem
    assert photo_to_mnist(paper) is None


def test_dark_ink_on_a_transparent_picture_counts_as_paper():
    picture = np.zeros((200, 200, 4), np.uint8)
    picture[40:160, 95:105] = (20, 20, 20, 255)  # a 1: a dark bar on transparency
    x = photo_to_mnist(picture)
    assert x is not None and x[:, 14].max() > 0.9 and x[:, :8].max() < 0.1


def test_marks_are_numbered_as_8_connected_regions_like_a_flood_fill():
    rng = np.random.default_rng(3)
    for density in (0.2, 0.45, 0.6):
        mask = rng.random((40, 50)) < density
        labels, count = label_marks(mask)
        reference, reference_count = _flood_fill(mask)
        assert count == reference_count
        assert ((labels > 0) == mask).all()
        pairs = set(zip(labels[mask].tolist(), reference[mask].tolist(), strict=True))
        assert len(pairs) == count  # the same partition: each label matches exactly one reference region


def test_otsu_splits_two_groups_between_them():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.05, 0.02, 8000), rng.normal(0.6, 0.05, 2000)]).clip(0, 1)
    threshold = otsu_threshold(values)
    assert 0.15 < threshold < 0.45
    assert (values[:8000] < threshold).all() and (values[8000:] >= threshold).all()


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation():
    picture = Image.new("RGB", (400, 300), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", exif=exif.tobytes())
    assert read_photo(buffer.getvalue()).shape[:2] == (400, 300)


@pytest.mark.parametrize("data, message", [
    (b"\xff\xd8" + b"\0" * 100, "could not be read"),
    (b"GIF89a" + b"\0" * 100, "could not be read"),
    (b"x" * (3 * 2**20), "accepted"),
])
def test_files_that_are_not_usable_photos_are_refused_plainly(data, message):
    with pytest.raises(PhotoError, match=message):
        read_photo(data, max_bytes=2 * 2**20)


def test_a_gif_and_a_huge_png_are_refused_before_decoding():
    gif, huge = io.BytesIO(), io.BytesIO()
    Image.new("L", (20, 20)).save(gif, format="GIF")
    Image.new("1", (5000, MAX_OTHER_PIXELS // 5000 + 1)).save(huge, format="PNG")  # a few KB, 16 million pixels
    with pytest.raises(PhotoError, match="not a PNG or JPEG"):
        read_photo(gif.getvalue())
    with pytest.raises(PhotoError, match="million are accepted"):
        read_photo(huge.getvalue())


def _grown(mask: np.ndarray, pixels: int) -> np.ndarray:
    """The mask grown by `pixels` in every direction (a square)."""
    grown = mask.copy()
    for _ in range(pixels):
        padded = np.pad(grown, 1)
        grown = (padded[1:-1, 1:-1] | padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
                 | padded[:-2, :-2] | padded[:-2, 2:] | padded[2:, :-2] | padded[2:, 2:])
    return grown


def _flood_fill(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected regions by breadth-first search, pixel by pixel: the slow, obvious reference."""
    labels = np.zeros(mask.shape, np.int32)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if labels[start]:
            continue
        count += 1
        labels[start] = count
        queue = deque([start])
        while queue:
            r, c = queue.popleft()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1] and mask[rr, cc] and not labels[rr, cc]:
                        labels[rr, cc] = count
                        queue.append((rr, cc))
    return labels, count
