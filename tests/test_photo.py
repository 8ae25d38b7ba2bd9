"""digitdnn.imaging.photo: photos of digits written on paper (uneven light, a shadow at the edge, noise, JPEG) come out
as clean MNIST-format digits; unreadable or oversized files are refused with a plain message."""
import io
import struct
import zlib
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


def paper_with_a_stroke(width: int, height: int) -> np.ndarray:
    """A grey (height, width) uint8 picture: light paper with one dark upright stroke in the middle."""
    picture = np.full((height, width), 225, np.uint8)
    picture[height // 4:3 * height // 4, width // 2 - width // 40:width // 2 + width // 40] = 30
    return picture


def png_bytes(picture: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", **options)
    return buffer.getvalue()


@pytest.mark.parametrize("width, height", [(100, 80), (4000, 3000)])  # the larger is shrunk in steps when read
def test_a_16_bit_grey_png_reads_as_the_same_picture_in_8_bits(width, height):
    grey = paper_with_a_stroke(width, height)
    sixteen_bit = png_bytes(Image.fromarray(grey.astype(np.uint16) * 257))  # 0-255 -> 0-65535
    assert Image.open(io.BytesIO(sixteen_bit)).mode == "I;16"
    np.testing.assert_array_equal(read_photo(sixteen_bit), read_photo(png_bytes(Image.fromarray(grey))))


def test_a_png_whose_text_inflates_to_64_mb_is_refused_plainly():
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "a" * 64 * 2**20, zip=True)  # about 64 KB in the file
    bomb = png_bytes(Image.fromarray(paper_with_a_stroke(100, 80)), pnginfo=text)
    assert len(bomb) < 2**20
    with pytest.raises(PhotoError, match="^The file could not be read as a PNG or JPEG image.$"):
        read_photo(bomb)


def test_an_mpo_jpeg_with_two_pictures_reads_as_its_first():
    first = Image.fromarray(paper_with_a_stroke(640, 480)).convert("RGB")
    second = Image.new("RGB", first.size, "black")
    mpo, jpeg = io.BytesIO(), io.BytesIO()
    first.save(mpo, format="MPO", save_all=True, append_images=[second])  # as some phones save their photos
    first.save(jpeg, format="JPEG")
    assert Image.open(io.BytesIO(mpo.getvalue())).format == "MPO"
    np.testing.assert_array_equal(read_photo(mpo.getvalue()), read_photo(jpeg.getvalue()))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_20000_pixel_square_png_gets_the_size_message():
    side = 20_000  # 400 million pixels: over Pillow's own decompression-bomb limit, a file of about 50 KB
    packer = zlib.compressobj(9)
    row = bytes(1 + side // 8)  # a filter byte and one bit a pixel
    pixels = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grey
    huge = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels)
            + _png_chunk(b"IEND", b""))
    assert len(huge) < 2**20
    with pytest.raises(PhotoError, match="^The image is 20000 x 20000 pixels; at most 16 million are accepted.$"):
        read_photo(huge)


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
