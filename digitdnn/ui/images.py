"""Pictures for the page: small grey images enlarged so that every pixel shows."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

GRID_COLOUR = (70, 70, 70)  # a grey: grids are drawn on grey pictures
BOX_COLOUR = (255, 64, 64)


def to_grey(image: np.ndarray) -> Image.Image:
    """A float image in [0, 1] (white ink on black) as an 8-bit greyscale picture."""
    return Image.fromarray(np.clip(np.round(np.asarray(image) * 255), 0, 255).astype(np.uint8), mode="L")


def enlarge(image: np.ndarray, size: int = 280, grid: bool = True) -> Image.Image:
    """Upscale with nearest neighbour to about `size` px, with a thin grid between the pixels (a grey picture)."""
    h, w = np.asarray(image).shape
    scale = max(1, size // max(h, w))
    big = to_grey(image).resize((w * scale, h * scale), Image.Resampling.NEAREST)
    if grid and scale >= 4:
        draw = ImageDraw.Draw(big)
        for x in range(0, w * scale + 1, scale):
            draw.line([(x, 0), (x, h * scale)], fill=GRID_COLOUR[0])
        for y in range(0, h * scale + 1, scale):
            draw.line([(0, y), (w * scale, y)], fill=GRID_COLOUR[0])
    return big


def png(picture: Image.Image) -> bytes:
    """The picture as PNG bytes (st.image shows bytes as they are, without encoding them again), compressed
    quickly: they go to a browser once, and a stroke's rerun should not wait for zlib's best."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def with_box(image: np.ndarray, box: tuple[int, int, int, int], width: int = 3) -> Image.Image:
    """The image (e.g. the ink mask) with the box (top, left, bottom, right) outlined in red."""
    top, left, bottom, right = box
    picture = to_grey(image).convert("RGB")
    ImageDraw.Draw(picture).rectangle([left, top, max(left, right - 1), max(top, bottom - 1)],
                                      outline=BOX_COLOUR, width=width)
    return picture


def activation_grid(values: np.ndarray) -> np.ndarray:
    """A layer's activations laid out row by row in the smallest square, scaled to [0, 1] (brighter = stronger)."""
    values = np.asarray(values, dtype=np.float32).ravel()
    side = int(np.ceil(np.sqrt(values.size)))
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    grid = np.zeros(side * side, np.float32)
    grid[:values.size] = scaled
    return grid.reshape(side, side)
