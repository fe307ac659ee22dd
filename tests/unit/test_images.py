"""Sample grids: value mapping, tiling, PNG files."""

from __future__ import annotations

import numpy as np
from PIL import Image

from gantrain.logging.images import make_grid, save_png, to_uint8


def test_to_uint8_maps_range_and_clips() -> None:
    values = np.array([-1.5, -1.0, 0.0, 1.0, 2.0], np.float32)
    np.testing.assert_array_equal(to_uint8(values), [0, 0, 128, 255, 255])


def test_grid_tiles_and_upscales_small_images() -> None:
    images = np.zeros((10, 28, 28, 1), np.float32)
    images[3] = 1.0
    grid = make_grid(images, columns=4, padding=2)
    side = 28 * 2  # 28 px digits are enlarged x2 to stay legible
    assert grid.shape == (3 * (side + 2) + 2, 4 * (side + 2) + 2, 1)
    top, left = 2, 2 + 3 * (side + 2)
    assert (grid[top : top + side, left : left + side] == 255).all()
    assert (grid[top : top + side, 2 : 2 + side] == 128).all()  # image 0 is value 0 -> 128


def test_save_png_round_trips(tmp_path) -> None:
    picture = (np.arange(12 * 8 * 3) % 256).astype(np.uint8).reshape(12, 8, 3)
    path = save_png(picture, tmp_path / "sub" / "grid.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), picture)
    assert not list(tmp_path.glob("sub/.*tmp"))
