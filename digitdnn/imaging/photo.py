"""A photo of a digit written on paper (dark ink, light paper, uneven light) -> the ink alone, for the MNIST steps.

Steps: the photo in grey at a working size; the paper's brightness everywhere (a grey closing, which
fills in strokes thinner than its window, then smoothed), which the photo is divided by so the paper
comes out evenly white however it was lit; ink found by contrast (Otsu's threshold on the darkness,
never below MIN_INK_DARKNESS); then only the ink that belongs to the digit: marks touching the photo's
edge (shadows, the paper's edge, the table) and specks are dropped. The kept ink, white on black, goes
through `preprocess_steps` like a drawing.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

from digitdnn.imaging.preprocess import PreprocessSteps, preprocess_steps

MAX_PHOTO_BYTES = 12 * 2**20    # a phone's JPEG is 2-6 MB
MAX_PHOTO_PIXELS = 50_000_000   # a JPEG (decoded at a reduced size) up to this: a 48 MP phone photo fits
MAX_OTHER_PIXELS = 16_000_000   # a PNG (decoded whole, 4 bytes a pixel) up to this; a decompression bomb is refused
PIXEL_LIMITS = {"PNG": MAX_OTHER_PIXELS, "JPEG": MAX_PHOTO_PIXELS, "MPO": MAX_PHOTO_PIXELS}  # MPO: JPEG, 2+ pictures
WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I")  # how Pillow opens a 16-bit grey PNG
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
WORK_SIDE = 480                 # the photo is worked on with its longer side this long (or shorter)
LIGHT_BLOCKS = 40               # the lighting is estimated on a grid this many blocks along the longer side
MIN_INK_DARKNESS = 0.2          # ink is at least this much darker than the paper around it (1 = black)
SPECK_SHARE = 0.05              # a mark smaller than this share of the largest one is a speck
NEAR_DIGIT = 0.5                # marks further from the largest than this many times its size are not the digit


_UNREADABLE = "The file could not be read as a PNG or JPEG image."


class PhotoError(ValueError):
    """The file cannot be read as a photo (too large, not a PNG or JPEG image); the message says so plainly."""


@dataclass(frozen=True)
class PhotoSteps:
    """The intermediate images of one photo, for showing how the ink was found."""

    grey: np.ndarray                 # (h, w) float32 in [0, 1]: the photo in grey at the working size
    paper: np.ndarray                # (h, w) float32: the paper's brightness estimated everywhere (the lighting)
    flattened: np.ndarray            # (h, w) float32 in [0, 1]: grey / paper, the paper evenly white
    threshold: float                 # darkness (1 - flattened) from which a pixel is ink
    ink: np.ndarray                  # (h, w) uint8, white on black: the digit's ink alone
    drawing: PreprocessSteps | None  # the MNIST steps on `ink`; None when no digit was found
    problem: str | None              # why no digit was found, as a sentence to show; None when one was


def read_photo(data: bytes, max_bytes: int = MAX_PHOTO_BYTES) -> np.ndarray:
    """A PNG or JPEG file's bytes as an upright (EXIF orientation applied) RGB uint8 array, at most about
    2 x WORK_SIDE on its longer side; PhotoError with a plain message if too large or not such an image.

    A 16-bit PNG is read in 8 bits; an MPO (a JPEG holding more pictures, as some phones save) as its first
    picture. Sizes are checked from the file's header, before anything is decoded."""
    if len(data) > max_bytes:
        raise PhotoError(f"The file is {len(data) / 2**20:.1f} MB; photos up to {max_bytes // 2**20} MB are accepted.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in PIXEL_LIMITS:
                raise PhotoError("That is not a PNG or JPEG image.")
            too_large = _size_problem(image.format, image.width, image.height)
            if too_large:
                raise PhotoError(too_large)
            image.draft("RGB", (2 * WORK_SIDE, 2 * WORK_SIDE))  # JPEG: decode at a reduced size, much faster
            upright = _eight_bit(ImageOps.exif_transpose(image))
            upright.thumbnail((2 * WORK_SIDE, 2 * WORK_SIDE), Image.Resampling.BOX)
            return np.asarray(_on_white(upright))
    except PhotoError:
        raise
    except Image.DecompressionBombError:  # larger than Pillow opens at all
        raise PhotoError(_size_from_header(data)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):  # ValueError: e.g. a text chunk too large
        raise PhotoError(_UNREADABLE) from None


def _size_problem(file_format: str, width: int, height: int) -> str | None:
    """Why a picture of this format and size is refused (more pixels than PIXEL_LIMITS allows), or None."""
    limit = PIXEL_LIMITS.get(file_format, MAX_OTHER_PIXELS)
    if width * height <= limit:
        return None
    return f"The image is {width} x {height} pixels; at most {limit // 1_000_000} million are accepted."


def _size_from_header(data: bytes) -> str:
    """What to say about a picture Image.open refused as a decompression bomb (before telling its size): its size,
    read from the PNG or JPEG header alone by the same reader that Image.open used, no pixel decoded."""
    if data.startswith(PNG_SIGNATURE):
        reader: type[ImageFile.ImageFile] = PngImagePlugin.PngImageFile
    elif data.startswith(JPEG_SIGNATURE):
        reader = JpegImagePlugin.JpegImageFile
    else:
        return "That is not a PNG or JPEG image."
    try:
        with reader(io.BytesIO(data)) as header:
            return _size_problem(header.format or "", header.width, header.height) or _UNREADABLE
    except (OSError, SyntaxError, ValueError, EOFError):  # Image.open read this header, so this is not expected
        return _UNREADABLE


def _eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit (or 32-bit) grey picture as 8-bit grey ("L"), its top 8 bits; other pictures as they are.

    Pillow's own conversion clips such values at 255 (a white page) and it cannot shrink them in steps."""
    if image.mode not in WIDE_GREY_MODES:
        return image
    values = np.asarray(image)
    grey = (np.clip(values, 0, 65535).astype(np.uint16) >> 8).astype(np.uint8)
    transparent = image.info.get("transparency")
    if isinstance(transparent, int):
        grey[values == transparent] = 255  # a transparent grey level is white paper, as in _on_white
    return Image.fromarray(grey)


def photo_to_mnist(image: np.ndarray) -> np.ndarray | None:
    """A photo of a digit on paper as a (28, 28) float32 MNIST image in [0, 1], or None when no digit is found."""
    drawing = photo_steps(image).drawing
    return None if drawing is None else drawing.centred


def photo_steps(image: np.ndarray) -> PhotoSteps:
    """Find the digit's ink in a photo of paper and run the MNIST steps on it, keeping every intermediate image.

    Args:
        image: uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA (transparency counts as white paper), any size.
    Returns:
        PhotoSteps; its `drawing` is None (and `problem` says why) when no digit is found.
    """
    grey = _grey(image)
    paper = paper_brightness(grey)
    flattened = np.clip(grey / np.maximum(paper, 1e-3), 0.0, 1.0)
    darkness = 1.0 - flattened
    threshold = max(otsu_threshold(darkness), MIN_INK_DARKNESS)
    kept = digit_marks(darkness >= threshold)
    if not kept.any():
        nothing_found = ("No writing found away from the photo's edges: photograph one digit, dark on light paper, "
                         "with paper all around it.")
        return PhotoSteps(grey, paper, flattened, threshold, np.zeros(grey.shape, np.uint8), None, nothing_found)
    ink = _ink(darkness, kept, threshold)
    drawing = preprocess_steps(ink)
    problem = None if drawing is not None else "The writing found is too small to be a digit: come closer."
    return PhotoSteps(grey, paper, flattened, threshold, ink, drawing, problem)


def _on_white(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid over white paper."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return image.convert("RGB")


def _grey(image: np.ndarray) -> np.ndarray:
    """The photo's luma in [0, 1], float32, with its longer side at most WORK_SIDE."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected a uint8 (H, W), (H, W, 3) or (H, W, 4) image, got {image.dtype} {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    picture = _on_white(Image.fromarray(image)).convert("L")
    picture.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    return np.asarray(picture, dtype=np.float32) / 255.0


def paper_brightness(grey: np.ndarray) -> np.ndarray:
    """How bright the paper is at every pixel: the brightest pixel of each block (ink is darker than the paper
    beside it), a closing over 3 x 3 blocks (fills in strokes up to about two blocks wide), then smoothed (a 3 x 3
    mean, and bilinear from blocks to pixels)."""
    h, w = grey.shape
    block = max(2, round(max(h, w) / LIGHT_BLOCKS))
    rows, cols = -(-h // block), -(-w // block)
    padded = np.pad(grey, ((0, rows * block - h), (0, cols * block - w)), mode="edge")
    blocks = padded.reshape(rows, block, cols, block).max(axis=(1, 3))
    closed = _mean3(_min3(_max3(blocks)))
    return np.asarray(Image.fromarray(closed).resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)


def _max3(a: np.ndarray) -> np.ndarray:
    p = np.pad(a, 1, mode="edge")
    rows = np.maximum(np.maximum(p[:-2], p[1:-1]), p[2:])
    return np.maximum(np.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def _min3(a: np.ndarray) -> np.ndarray:
    return -_max3(-a)


def _mean3(a: np.ndarray) -> np.ndarray:
    p = np.pad(a, 1, mode="edge")
    rows = (p[:-2] + p[1:-1] + p[2:]) / 3
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / 3


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of values in [0, 1]: the level that best splits them into two groups (largest
    between-group variance), in the middle of the gap when a range of levels splits them alike."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts).astype(np.float64)
    total = weight[-1]
    mass = np.cumsum(counts * centres)
    below, above = weight[:-1], total - weight[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mass[-1] * below - total * mass[:-1]) ** 2 / (below * above)
    between[~np.isfinite(between)] = -1.0
    first = last = int(np.argmax(between))
    while last + 1 < len(between) and between[last + 1] >= between[first] * (1 - 1e-9):
        last += 1  # empty bins between the groups split them equally well: take the middle of that gap
    return float(edges[first + 1] + edges[last + 1]) / 2


def digit_marks(ink: np.ndarray) -> np.ndarray:
    """The ink pixels that make the digit: marks (8-connected) not touching the photo's edge, not specks (under
    SPECK_SHARE of the largest mark) and near the largest mark (within NEAR_DIGIT times its size)."""
    labels, count = label_marks(ink)
    if count == 0:
        return np.zeros_like(ink, dtype=bool)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    areas[0] = 0
    areas[edge] = 0
    if areas.max() == 0:
        return np.zeros_like(ink, dtype=bool)
    boxes = _boxes(labels, count)
    largest = int(np.argmax(areas))
    top, left, bottom, right = boxes[largest]
    reach = NEAR_DIGIT * max(bottom - top, right - left)
    near = ((boxes[:, 0] < bottom + reach) & (boxes[:, 2] > top - reach)
            & (boxes[:, 1] < right + reach) & (boxes[:, 3] > left - reach))
    keep = (areas >= SPECK_SHARE * areas[largest]) & near
    keep[0] = False
    return keep[labels]


def label_marks(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Number the 8-connected regions of a boolean mask: (labels int32, 0 outside every region, and the count).

    Works on runs (a row's consecutive True pixels): runs of neighbouring rows that touch are joined
    (union-find), so the Python loop is over runs, not pixels."""
    h, w = mask.shape
    edges = np.diff(np.pad(np.asarray(mask, dtype=np.int8), ((0, 0), (1, 1))), axis=1)
    run_rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # exclusive; paired with starts (both in row-major order)
    parent = list(range(len(starts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = np.searchsorted(run_rows, np.arange(h + 1))
    for row in range(1, h):
        above, above_end = first[row - 1], first[row]
        for run in range(first[row], first[row + 1]):
            while above < above_end and ends[above] < starts[run]:  # ends before this run's left neighbour
                above += 1
            touching = above
            while touching < above_end and starts[touching] <= ends[run]:  # starts by this run's right neighbour
                parent[root(touching)] = root(run)
                touching += 1
    roots = np.array([root(i) for i in range(len(starts))], dtype=np.int64)
    unique, numbered = np.unique(roots, return_inverse=True)
    labels = np.zeros((h, w), np.int32)
    for run_row, start, end, number in zip(run_rows, starts, ends, numbered + 1, strict=True):
        labels[run_row, start:end] = number
    return labels, len(unique)


def _boxes(labels: np.ndarray, count: int) -> np.ndarray:
    """(count + 1, 4) int boxes (top, left, bottom, right; bottom/right exclusive) per label; row 0 unused."""
    rows, cols = np.nonzero(labels)
    which = labels[rows, cols]
    boxes = np.zeros((count + 1, 4), np.int64)
    boxes[:, 0] = boxes[:, 1] = np.iinfo(np.int64).max
    np.minimum.at(boxes[:, 0], which, rows)
    np.minimum.at(boxes[:, 1], which, cols)
    np.maximum.at(boxes[:, 2], which, rows + 1)
    np.maximum.at(boxes[:, 3], which, cols + 1)
    return boxes


def _ink(darkness: np.ndarray, kept: np.ndarray, threshold: float) -> np.ndarray:
    """The kept marks as uint8 ink, white on black, with their soft edges: darkness from half the threshold up to
    the marks' typical darkness (90th percentile) mapped to 0-255, only at and next to the kept pixels."""
    near = _max3(kept.astype(np.float32)) > 0
    floor = threshold / 2
    full = max(float(np.percentile(darkness[kept], 90)), threshold)
    ink = np.clip((darkness - floor) / (full - floor), 0.0, 1.0) * near
    return np.round(ink * 255).astype(np.uint8)
