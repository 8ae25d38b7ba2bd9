"""The canvas's picture as the browser sends it (a PNG data URL), read without trusting it, and as it is stored.

A browser can send any data URL as the canvas's picture; decoding one whole is what costs memory (a 0.45 MB PNG
can say 9000 x 9000 pixels, 324 MB as RGBA). So the size is read from the PNG's header first (its IHDR chunk:
the first 24 bytes, 32 characters of base64) and the picture decoded only when it is the canvas the page asked
for: square, its side the canvas's times a device pixel ratio between 1 and MAX_PIXEL_RATIO (the canvas
component sends its own pixels, 1:1, whatever the screen's ratio), the data URL at most MAX_DATA_URL_CHARS long.
"""
from __future__ import annotations

import base64
import binascii
import io
import struct

import numpy as np
from PIL import Image

from digitdnn.imaging.photo import PNG_SIGNATURE

CANVAS_SIZE = 280                 # the page's canvas, in CSS pixels: MNIST's 28 x 28 times ten
DATA_URL_PREFIX = "data:image/png;base64,"
MAX_DATA_URL_CHARS = 2_000_000    # a drawing on a 420 px canvas is tens of KB; random noise on it under 1 MB
MAX_PIXEL_RATIO = 4               # a screen's device pixel ratio is 1 to 3 (4 on a few); the canvas sends 1:1
UNREADABLE = "This drawing could not be read; clear the canvas and draw again."  # what the page says of a refusal
_HEADER_CHARS = 32                # base64 of the signature, IHDR's length and type, width and height (24 bytes)


class CanvasImageError(ValueError):
    """The canvas's picture is refused: not a PNG data URL, too long, or not the size the page asked for; the
    message says why (for the server's log: what the client sent is never shown to students)."""


def png_size(data_url: str) -> tuple[int, int]:
    """(width, height) from a PNG data URL's header, decoding 24 bytes of it; CanvasImageError if it is not a PNG
    data URL."""
    if not isinstance(data_url, str) or not data_url.startswith(DATA_URL_PREFIX):
        raise CanvasImageError("not a PNG data URL")
    try:
        header = base64.b64decode(data_url[len(DATA_URL_PREFIX):][:_HEADER_CHARS], validate=True)
    except (binascii.Error, ValueError):
        raise CanvasImageError("not base64") from None
    if len(header) < 24 or not header.startswith(PNG_SIGNATURE) or header[12:16] != b"IHDR":
        raise CanvasImageError("not a PNG (no IHDR chunk first)")
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def size_problem(width: int, height: int, size: int, max_ratio: float = MAX_PIXEL_RATIO) -> str | None:
    """Why a picture of width x height cannot be a size x size canvas at a device pixel ratio from 1 to
    `max_ratio`, or None."""
    if width != height or not size <= width <= size * max_ratio:
        return f"{width} x {height} pixels where {size} x {size} (up to {max_ratio} times that) was asked for"
    return None


def read_canvas_png(data_url: str, size: int, max_chars: int = MAX_DATA_URL_CHARS) -> np.ndarray:
    """The canvas's picture (a PNG data URL) as RGBA uint8 (size, size, 4), checked before it is decoded (see the
    module's docstring) and scaled to size x size if it came larger; CanvasImageError when refused."""
    if isinstance(data_url, str) and len(data_url) > max_chars:
        raise CanvasImageError(f"a data URL of {len(data_url):,} characters (at most {max_chars:,})")
    problem = size_problem(*png_size(data_url), size)
    if problem:
        raise CanvasImageError(problem)
    try:
        data = base64.b64decode(data_url[len(DATA_URL_PREFIX):], validate=True)
        with Image.open(io.BytesIO(data), formats=["PNG"]) as opened:
            picture = opened.convert("RGBA")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise CanvasImageError(f"an unreadable PNG ({type(exc).__name__})") from None
    if picture.size != (size, size):
        picture = picture.resize((size, size), Image.Resampling.BOX)
    return np.asarray(picture)


def stored_picture(image: np.ndarray, side: int = CANVAS_SIZE) -> Image.Image:
    """A drawing as the class's store keeps it: greyscale, composited on black (a transparent pixel is black
    whatever colour it hides), shrunk to fit side x side if larger. `image`: uint8 (H, W) grey, (H, W, 3) RGB or
    (H, W, 4) RGBA."""
    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim == 3:
        colour = pixels[..., :3].astype(np.uint16)
        if pixels.shape[-1] == 4:
            colour = (colour * pixels[..., 3:4] + 127) // 255
        pixels = (colour @ np.array([299, 587, 114]) // 1000).astype(np.uint8)  # ITU-R 601 luma, as Pillow's "L"
    picture = Image.fromarray(pixels)
    if max(picture.size) > side:
        picture.thumbnail((side, side), Image.Resampling.BOX)
    return picture
