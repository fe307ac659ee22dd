"""Latents for `sample`: seeded draws, truncation, slerp paths, class grids, labels."""

from __future__ import annotations

import numpy as np
import pytest

from gantrain.errors import ConfigError
from gantrain.generation import (
    class_grid,
    draw_latents,
    interpolation_path,
    label_cycle,
    seed_latents,
    slerp,
)


def test_latents_without_truncation_are_the_plain_seeded_normals() -> None:
    expected = np.random.default_rng(7).standard_normal((5, 3), dtype=np.float32)
    np.testing.assert_array_equal(draw_latents(7, 5, 3), expected)


def test_truncation_bounds_every_component_and_is_seeded() -> None:
    z = draw_latents(0, 500, 16, truncation=0.5)
    assert z.dtype == np.float32 and z.shape == (500, 16)
    assert np.abs(z).max() <= 0.5
    np.testing.assert_array_equal(z, draw_latents(0, 500, 16, truncation=0.5))
    assert z.std() < 0.35  # much narrower than N(0, 1)
    with pytest.raises(ConfigError, match="truncation=0"):
        draw_latents(0, 2, 2, truncation=0.0)


def test_slerp_ends_at_its_endpoints_and_keeps_typical_norms() -> None:
    a, b = draw_latents(0, 2, 128)
    path = slerp(a, b, np.linspace(0, 1, 9))
    np.testing.assert_allclose(path[0], a, atol=1e-5)
    np.testing.assert_allclose(path[-1], b, atol=1e-5)
    norms = np.linalg.norm(path, axis=1)
    low, high = sorted([np.linalg.norm(a), np.linalg.norm(b)])
    assert (norms >= low - 1e-3).all() and (norms <= high + 1e-3).all()
    # A straight line would dip to ~|a|/sqrt(2) in the middle for near-orthogonal latents.
    assert np.linalg.norm((a + b) / 2) < 0.8 * norms[4]
    # Consecutive points are equally spaced in angle.
    unit = path / norms[:, None]
    angles = np.arccos(np.clip((unit[1:] * unit[:-1]).sum(1), -1, 1))
    np.testing.assert_allclose(angles, angles[0], rtol=1e-3)


def test_slerp_of_parallel_latents_is_a_line() -> None:
    a = np.ones(4, np.float32)
    np.testing.assert_allclose(slerp(a, 3 * a, [0.5])[0], 2 * a, rtol=1e-6)


def test_interpolation_path_goes_through_every_seed() -> None:
    keys = seed_latents([3, 1, 4], 8, None)
    np.testing.assert_array_equal(keys[0], draw_latents(3, 1, 8)[0])
    path = interpolation_path(keys, steps=5)
    assert path.shape == (11, 8)
    for index, key in zip((0, 5, 10), keys, strict=True):
        np.testing.assert_allclose(path[index], key, atol=1e-5)
    with pytest.raises(ConfigError, match="at least two seeds"):
        interpolation_path(keys[:1], 5)


def test_label_cycle() -> None:
    assert label_cycle(None, 0) is None
    assert label_cycle(None, 3) == [0, 1, 2]
    assert label_cycle(2, 3) == [2]
    assert label_cycle([2, 0], 3) == [2, 0]
    with pytest.raises(ConfigError, match="unconditional"):
        label_cycle(1, 0)
    with pytest.raises(ConfigError, match=r"classes \[5\] do not exist"):
        label_cycle([0, 5], 3)
    with pytest.raises(ConfigError, match="give a class"):
        label_cycle("cat", 3)


def test_class_grid_has_a_row_per_class_and_a_latent_per_column() -> None:
    row = draw_latents(0, 4, 6)
    z, labels = class_grid(row, [7, 2])
    assert labels.tolist() == [7, 7, 7, 7, 2, 2, 2, 2] and labels.dtype == np.int32
    np.testing.assert_array_equal(z[:4], row)
    np.testing.assert_array_equal(z[4:], row)
