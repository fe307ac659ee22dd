"""Reading image files for the `classify` and `detect` commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gantrain.errors import DatasetError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def list_images(path: str | Path, setting: str = "image") -> list[Path]:
    """`path` itself, or the image files directly inside the folder `path` (sorted)."""
    path = Path(path).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not found:
            raise DatasetError(
                f"{setting}={path}: the folder holds no image files ({', '.join(SUFFIXES)})."
            )
        return found
    if not path.exists():
        raise DatasetError(f"{setting}={path}: no such file or folder; give an image or a folder.")
    return [path]


def read_rgb(path: Path, setting: str = "image") -> np.ndarray:
    """An image file as uint8 (H, W, 3) RGB (grayscale and alpha are converted)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise DatasetError(
            f"{setting}={path}: not a readable image ({type(error).__name__}: {error})."
        ) from error


def to_uint8_rgb(images: np.ndarray) -> np.ndarray:
    """Generated images float32 (N, H, W, 1|3) in [-1, 1] -> uint8 (N, H, W, 3)."""
    from gantrain.logging.images import to_uint8

    pixels = to_uint8(images)
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
