"""Latents and labels for `gantrain sample`: seeded draws, truncation, class grids, slerp paths.

Everything here is NumPy and deterministic given its seeds: the same command draws the same
latents on any machine. Latents are float32 (N, latent_dim); labels int32 (N,).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from omegaconf import ListConfig

from gantrain.errors import ConfigError

# Redraws of out-of-range components before giving up (each redraw keeps a component with
# probability P(|z| <= t); even t = 0.05 keeps 4% per draw, so 1000 draws never run out).
_MAX_REDRAWS = 1000


def draw_latents(
    seed: int, count: int, latent_dim: int, truncation: float | None = None
) -> np.ndarray:
    """Latents float32 (count, latent_dim) from N(0, 1), seeded by `seed`.

    `truncation` t > 0: the truncation trick (Brock et al. 2019, BigGAN): components with
    |z| > t are redrawn until they fall inside, trading variety for fidelity. None: no
    truncation (the same numbers as before this option existed).
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((count, latent_dim), dtype=np.float32)
    if truncation is None:
        return z
    if truncation <= 0:
        raise ConfigError(f"truncation={truncation}: must be positive (or null for none).")
    for _ in range(_MAX_REDRAWS):
        outside = np.abs(z) > truncation
        if not outside.any():
            return z
        z[outside] = rng.standard_normal(int(outside.sum()), dtype=np.float32)
    raise ConfigError(f"truncation={truncation}: too small to draw latents; use 0.1 or more.")


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation between latents a and b (latent_dim,) at fractions t in [0, 1].

    Follows the great circle between the two directions while interpolating the norm, so every
    point has a norm typical of the prior; a straight line would pass through the low-norm
    middle of the Gaussian, where the generator saw no latents. Returns (len(t), latent_dim).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.atleast_1d(np.asarray(t, np.float64))[:, None]
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = np.clip(np.dot(a / na, b / nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if omega < 1e-6:  # (anti)parallel directions: the circle is undefined, a line is exact
        return ((1 - t) * a + t * b).astype(np.float32)
    direction = (np.sin((1 - t) * omega) * a / na + np.sin(t * omega) * b / nb) / np.sin(omega)
    norm = (1 - t) * na + t * nb
    return (direction * norm).astype(np.float32)


def interpolation_path(keys: np.ndarray, steps: int) -> np.ndarray:
    """Latents (steps * (K - 1) + 1, latent_dim) through the K key latents (K, latent_dim).

    `steps` frames go from one key to the next; the last frame is the last key.
    """
    if len(keys) < 2:
        raise ConfigError("seeds: give at least two seeds to interpolate between.")
    if steps < 1:
        raise ConfigError(f"steps={steps}: must be at least 1.")
    fractions = np.arange(steps) / steps
    parts = [slerp(keys[i], keys[i + 1], fractions) for i in range(len(keys) - 1)]
    return np.concatenate([*parts, keys[-1:].astype(np.float32)])


def seed_latents(seeds: Sequence[int], latent_dim: int, truncation: float | None) -> np.ndarray:
    """The first latent `sample seed=S` would draw, for each seed S: (len(seeds), latent_dim)."""
    return np.stack([draw_latents(int(s), 1, latent_dim, truncation)[0] for s in seeds])


def label_cycle(value: Any, num_classes: int) -> list[int] | None:
    """Classes from the `labels=` option: None (unconditional), all classes, one, or a list.

    None on a conditional model: every class in turn; an int: that class; a list: those.
    """
    if not num_classes:
        if value is not None:
            raise ConfigError(f"labels={value}: this run's generator is unconditional; remove it.")
        return None
    if value is None:
        cycle = list(range(num_classes))
    elif isinstance(value, int) and not isinstance(value, bool):
        cycle = [value]
    elif (
        isinstance(value, list | tuple | ListConfig)
        and len(value)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        cycle = [int(v) for v in value]
    else:
        raise ConfigError(f"labels={value}: give a class (labels=3) or a list (labels=[0,1]).")
    bad = [v for v in cycle if not 0 <= v < num_classes]
    if bad:
        raise ConfigError(
            f"labels={value}: classes {bad} do not exist; this model has 0..{num_classes - 1}."
        )
    return cycle


def class_grid(latents: np.ndarray, classes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of a grid with one row per class and the same latent down each column.

    latents (C, latent_dim) -> z (len(classes) * C, latent_dim), labels int32, row-major.
    """
    z = np.tile(latents, (len(classes), 1))
    labels = np.repeat(np.asarray(classes, np.int32), len(latents))
    return z, labels
