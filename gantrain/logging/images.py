"""Image grids: NHWC float in [-1, 1] -> one uint8 picture, saved as PNG."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from gantrain.atomic import atomic_writer
from gantrain.errors import writing

# A full disk while writing a picture: what the one-line error says about the files.
_KEPT = "free some space and rerun; no picture was left half-written"


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] float -> [0, 255] uint8 (values outside are clipped)."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(
    images: np.ndarray, *, columns: int | None = None, padding: int = 2, min_side: int = 48
) -> np.ndarray:
    """Tile images (N, H, W, C) in [-1, 1] into one (rows*H', columns*W', C) uint8 image.

    Images smaller than `min_side` pixels are enlarged by an integer factor (nearest
    neighbour, no blur), so 28x28 digits stay legible at a glance. Padding is mid-gray.
    """
    images = to_uint8(images)
    count, height, width, channels = images.shape
    scale = max(1, math.ceil(min_side / max(height, width)))
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
        height, width = height * scale, width * scale
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        128,
        np.uint8,
    )
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top : top + height, left : left + width] = images[index]
    return grid


def save_png(picture: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a uint8 (H, W, C) picture as PNG atomically (no half-written file on a crash)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode_image = picture[..., 0] if picture.shape[-1] == 1 else picture
    with writing(path, _KEPT), atomic_writer(path, "wb") as file:
        Image.fromarray(mode_image).save(file, format="PNG")
    return path


def save_gif(
    frames: list[np.ndarray] | np.ndarray, path: str | os.PathLike, *, frame_ms: int = 100
) -> Path:
    """Write uint8 (H, W, C) pictures as an animated GIF that loops forever, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in frames]
    with writing(path, _KEPT), atomic_writer(path, "wb") as file:
        pictures[0].save(
            file, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0
        )
    return path
