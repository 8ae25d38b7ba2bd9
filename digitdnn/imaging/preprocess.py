"""A drawing (canvas RGBA, RGB or grey uint8) -> a 28x28 image made the way MNIST digits were made.

Steps, as NIST digits became MNIST: find the ink, crop to it, bring the pen
width to MNIST's, scale the longer side to a 20 px box keeping the aspect
ratio, and place it in 28x28 with its centre of mass at the centre.
Design notes: docs/design-notes.md
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

MNIST_SIZE = 28                # side of an MNIST image
DIGIT_BOX = 20                 # MNIST digits fit a 20x20 box, keeping their aspect ratio, grey edges and all;
DIGIT_EXTENT = 19.5            # so the longer side of the ink's box becomes 19.5 px: its edges fall between pixels
MNIST_CENTRE = 14.0            # centre of mass of MNIST digits, in pixel indices (row and column)
PEN_RANGE = (2.5, 3.0)         # 28x28 pens (stroke_width) outside this go to its nearest end; MNIST's: 1.7-3.6
MIN_CONTRAST = 0.15            # ink fainter than this (fraction of full scale) is not a drawing
INK_LEVEL = 0.5                # ink level that bounds the digit's box
NOISE_FLOOR = 0.1              # ink levels below this fraction of the contrast are background
OVERSAMPLE = 4                 # working resolution for pen-width changes: 4 pixels per MNIST pixel
MIN_EXTENT_IN_WIDTHS = 3.0     # ink whose box is shorter than this many pen widths is a dot ...
MAX_DOT_OF_CANVAS = 0.5        # ... unless it spans this much of the canvas (a scribble over everything)
MIN_EXTENT_OF_CANVAS = 0.04    # ink whose box is shorter than this fraction of the canvas is a speck
MAX_THINNING = 3.0             # never thin a pen to less than a third of its width
MAX_INK_SHARE = 0.5            # ink over more of the canvas than this is not a digit (drawn digits: at most ~0.35)


@dataclass(frozen=True)
class PreprocessSteps:
    """The intermediate images of one drawing, for showing what the network sees and why."""

    ink: np.ndarray                       # H x W float32 in [0, 1]: how much ink each canvas pixel holds
    box: tuple[int, int, int, int]        # (top, left, bottom, right) of the ink, canvas pixels, bottom/right exclusive
    cropped: np.ndarray                   # ink[top:bottom, left:right]
    scaled: np.ndarray                    # (20, 20): pen normalised, longer side filling the box, centred
    centred: np.ndarray                   # (28, 28) float32 in [0, 1], white on black: the network's input
    stroke_width: float                   # measured pen width of the drawing, canvas pixels


def to_mnist(image: np.ndarray) -> np.ndarray | None:
    """Return the drawing as a (28, 28) float32 MNIST image in [0, 1], or None when no digit is drawn."""
    steps = preprocess_steps(image)
    return None if steps is None else steps.centred


def preprocess_steps(image: np.ndarray) -> PreprocessSteps | None:
    """Run the MNIST steps on a drawing and keep every intermediate image; None when no digit is drawn.

    Args:
        image: uint8 array, (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, any polarity.
    Returns:
        PreprocessSteps, or None for a blank canvas, faint ink, or a dot too small to be a digit.
    """
    ink = ink_map(image)
    if ink is None:
        return None
    box = ink_box(ink)
    if box is None:
        return None
    top, left, bottom, right = box
    cropped = ink[top:bottom, left:right]
    width = stroke_width(cropped)
    if _is_dot(ink.shape, box, width):
        return None
    work = normalise_pen(cropped, width)
    scaled, centred = fit_mnist_box(work)
    return PreprocessSteps(ink, box, cropped, scaled, centred, width)


def _is_dot(shape: tuple[int, int], box: tuple[int, int, int, int], width: float) -> bool:
    """Ink whose box is too small to be a digit: a few pen widths across (a click), or a speck."""
    top, left, bottom, right = box
    extent = max(bottom - top, right - left)
    canvas_side = max(shape)
    is_dot = extent < MIN_EXTENT_IN_WIDTHS * width and extent < MAX_DOT_OF_CANVAS * canvas_side
    return is_dot or extent < MIN_EXTENT_OF_CANVAS * canvas_side


def drawing_problem(image: np.ndarray, background: tuple[int, ...] | None = None) -> str | None:
    """Why a drawing with ink on it cannot be a digit, as a sentence to show; None if it may be one (or is blank).

    Args:
        image: the canvas, as for preprocess_steps.
        background: the canvas's background colour (grey, RGB or RGBA values; the page passes
            (0, 0, 0)) when it is known; None estimates it from the border like to_mnist, which then
            cannot tell a canvas filled from edge to edge from a blank one.
    Returns:
        "That is a dot, not a digit: ..." for a click or speck (preprocess_steps gives None for it),
        "The ink covers most of the canvas: ..." when more than MAX_INK_SHARE of it is ink (drawn
        digits cover at most about a third), else None: blank, faint or plausible drawings, small
        ones included, are left to preprocess_steps.
    """
    ink = ink_map(image, background)
    if ink is None:
        return None
    if float((ink >= INK_LEVEL).mean()) > MAX_INK_SHARE:
        return "The ink covers most of the canvas: press Clear and draw one digit."
    box = ink_box(ink)
    if box is None:
        return None
    top, left, bottom, right = box
    if _is_dot(ink.shape, box, stroke_width(ink[top:bottom, left:right])):
        return "That is a dot, not a digit: draw the whole digit, larger."
    return None


def ink_map(image: np.ndarray, background: tuple[int, ...] | None = None) -> np.ndarray | None:
    """Ink per pixel in [0, 1]: distance to the background colour (alpha included); None if there is no contrast.

    The background is `background` when given (one value per channel; an RGB colour for an
    RGBA image is compared with the premultiplied colour, so a transparent pixel counts as
    black), else the median of the image border, so white on black, black on white, coloured
    ink and transparent backgrounds all work. Alpha premultiplies the colour, so a transparent
    pixel is the same whatever colour it stores.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    if min(image.shape[:2]) < 2:
        return None
    planes = [image[:, :, c] for c in range(image.shape[2])]
    if len(planes) == 4:
        alpha = planes[3].astype(np.uint16)
        planes[:3] = [(plane * alpha + 127) // 255 for plane in planes[:3]]
    if background is not None:
        planes = planes[:len(background)]
        if len(planes) != len(background):
            raise ValueError(f"background {background!r} does not match an image with {image.shape[2]} channels")
    distances = []
    for index, plane in enumerate(planes):
        if background is None:
            border = np.concatenate([plane[0], plane[-1], plane[1:-1, 0], plane[1:-1, -1]])
            level = int(np.median(border))
        else:
            level = int(background[index])
        distances.append(np.abs(plane.astype(np.int16) - level))
    distance = np.maximum.reduce(distances).astype(np.float32) / 255.0
    contrast = float(distance.max())
    if contrast < MIN_CONTRAST:
        return None
    floor = NOISE_FLOOR * contrast
    return np.clip((distance - floor) / (contrast - floor), 0.0, 1.0)


def ink_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the pixels with at least INK_LEVEL ink; None if there are none."""
    solid = ink >= INK_LEVEL
    rows = np.flatnonzero(solid.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(solid.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _inked_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """ink_box of an image already known to hold ink (the steps after the empty-canvas check)."""
    box = ink_box(ink)
    if box is None:
        raise ValueError("no ink left to place")
    return box


def stroke_width(ink: np.ndarray) -> float:
    """Mean pen width in pixels: ink area over half its outline length.

    A stroke of length L and width w has area L*w and outline about 2L, so the
    ratio is w. The outline is the total variation of the ink (isotropic
    forward differences), which is not fooled by anti-aliased edges, so the same
    number is measured on a canvas and on a grey MNIST digit.
    """
    padded = np.pad(np.asarray(ink, dtype=np.float32), 1)
    dx = padded[1:, 1:] - padded[1:, :-1]
    dy = padded[1:, 1:] - padded[:-1, 1:]
    outline = float(np.sqrt(dx * dx + dy * dy).sum())
    return 0.0 if outline == 0.0 else 2.0 * float(padded.sum()) / outline


def normalise_pen(cropped: np.ndarray, width: float) -> np.ndarray:
    """Resample the cropped ink to OVERSAMPLE x the MNIST scale and thicken or thin its pen to MNIST's.

    Two passes: the first from the canvas measurement, the second re-measured
    at the working scale, where the drawing has MNIST's proportions (the width
    measure reads low for a pen that is thick next to its strokes' length:
    round ends and crossings, so a thick pen is under-thinned at first).
    """
    extent = max(cropped.shape)
    target = _pen_for_mnist(extent, width)
    scale = OVERSAMPLE * DIGIT_EXTENT / max(extent - width + target, 1.0)
    height, breadth = cropped.shape
    work = _resize(cropped, (max(1, round(breadth * scale)), max(1, round(height * scale))))
    work = np.clip(work / max(float(work.max()), 1e-3), 0.0, 1.0)  # a hairline shrunk to grey gets full ink
    width = max(width * scale, 1.0)
    for second_pass in (False, True):
        if second_pass:
            top, left, bottom, right = _inked_box(work)
            width = stroke_width(work)
            target = _pen_for_mnist(max(bottom - top, right - left), width)
        else:
            target *= scale
        steps = (target - width) / 2
        work = np.pad(work, max(math.ceil(steps), 0) + 1)
        grown = grow(work, steps)
        if grown.max() >= INK_LEVEL:
            work = grown
    return work


def _pen_for_mnist(extent: float, width: float) -> float:
    """The pen width to draw with so that the 28x28 pen lies in PEN_RANGE (unchanged if it already does).

    The pen w becomes w * DIGIT_EXTENT / box once the box is scaled, and the box
    grows or shrinks with the pen: box = extent - width + w. A pen is thinned to
    no less than 1 / MAX_THINNING of its width.
    """
    now = width * DIGIT_EXTENT / max(extent, 1e-6)
    wanted = min(max(now, PEN_RANGE[0]), PEN_RANGE[1])
    target = wanted * (extent - width) / (DIGIT_EXTENT - wanted)
    return max(target, width / MAX_THINNING)


def fit_mnist_box(work: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale the ink's box so its longer side is DIGIT_BOX, and centre its mass in 28x28.

    Returns (scaled, centred): the digit centred in a DIGIT_BOX x DIGIT_BOX
    image, and the 28x28 image resampled straight from `work` with the
    sub-pixel offset that puts the centre of mass on MNIST_CENTRE.
    """
    top, left, bottom, right = _inked_box(work)
    extent = max(bottom - top, right - left)
    step = extent / DIGIT_EXTENT  # working pixels per MNIST pixel
    side = DIGIT_BOX * step
    scaled = _window(work, (left + right - side) / 2, (top + bottom - side) / 2, side, DIGIT_BOX)
    rows, cols = np.indices(work.shape, dtype=np.float32)
    mass = float(work.sum())
    centre_row = float((rows * work).sum()) / mass + 0.5  # continuous coordinates: pixel i spans [i, i + 1)
    centre_col = float((cols * work).sum()) / mass + 0.5
    x0 = centre_col - (MNIST_CENTRE + 0.5) * step
    y0 = centre_row - (MNIST_CENTRE + 0.5) * step
    return scaled, _window(work, x0, y0, MNIST_SIZE * step, MNIST_SIZE)


def _window(ink: np.ndarray, x0: float, y0: float, side: float, size: int) -> np.ndarray:
    """Resample the square window of `ink` at (x0, y0) with `side` pixels (zero outside the image) to size x size."""
    height, width = ink.shape
    pad = max(0, math.ceil(max(-x0, -y0, x0 + side - width, y0 + side - height)))
    padded = np.pad(ink, pad)
    return _resize(padded, (size, size), (x0 + pad, y0 + pad, x0 + pad + side, y0 + pad + side))


def _resize(ink: np.ndarray, size: tuple[int, int], box=None) -> np.ndarray:
    """Area-average resample of a float ink image to size (width, height), optionally from a sub-box."""
    image = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32))
    resized = image.resize(size, Image.Resampling.BOX, box=box)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def grow(ink: np.ndarray, pixels: float) -> np.ndarray:
    """Thicken (pixels > 0) or thin (pixels < 0) ink strokes by `pixels` on each side: grey dilation or erosion.

    Alternating 3x3 squares and crosses make an octagon, a close cousin of a disc;
    a fraction of a pixel blends the last step in.
    """
    op = np.maximum if pixels > 0 else np.minimum
    whole, fraction = divmod(abs(pixels), 1.0)
    previous = ink
    for step in range(int(whole) + (fraction > 0)):
        previous = ink
        p = np.pad(ink, 1)
        centre = p[1:-1, 1:-1]
        if step % 2:
            ink = op(op(op(centre, p[:-2, 1:-1]), op(p[2:, 1:-1], p[1:-1, :-2])), p[1:-1, 2:])
        else:
            rows = op(op(p[:-2], p[1:-1]), p[2:])
            ink = op(op(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])
    return ink if fraction == 0 else previous + fraction * (ink - previous)
