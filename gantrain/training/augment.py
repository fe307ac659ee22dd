"""DiffAugment (Zhao et al. 2020): differentiable augmentation of every image D sees.

D is trained on T(x) and T(G(z)) and G through D(T(G(z))), with T random color, translation
and cutout. T is differentiable in its input, so G still gets gradients, and applied to real
and fake images alike, so G is not pushed to produce augmented-looking images.

`diff_augment` is a pure function of the images and a (B, NUM_UNIFORMS) tensor of uniforms in
[0, 1) that the train step draws statelessly from (seed, step, phase), so runs are exactly
reproducible and resumable. Images are NHWC in [-1, 1], as the official implementation.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from gantrain.errors import ConfigError

POLICIES = ("color", "translation", "cutout")

# Uniforms per example: brightness, saturation, contrast, translate y/x, cutout y/x.
NUM_UNIFORMS = 7
TRANSLATION_RATIO = 0.125  # shift up to 1/8 of the side
CUTOUT_RATIO = 0.5  # a square of half the side


def check_policy(policy: Sequence[str]) -> tuple[str, ...]:
    """Validate `trainer.augment`; returns it as a tuple."""
    policy = tuple(str(p) for p in policy)
    unknown = [p for p in policy if p not in POLICIES]
    if unknown:
        raise ConfigError(
            f"trainer.augment: unknown DiffAugment policy {', '.join(unknown)}; choose from "
            f"{', '.join(POLICIES)} (e.g. trainer.augment=[color,translation,cutout])."
        )
    return policy


def _per_example(u: tf.Tensor) -> tf.Tensor:
    return tf.reshape(u, [-1, 1, 1, 1])


def color(images: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
    """Brightness +U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5); u: (B, 3)."""
    x = images + _per_example(u[:, 0] - 0.5)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * _per_example(u[:, 1] * 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * _per_example(u[:, 2] + 0.5) + mean


def _integers(u: tf.Tensor, low: int, high: int) -> tf.Tensor:
    """Uniform integers in [low, high] from uniforms in [0, 1)."""
    return low + tf.cast(tf.floor(u * (high - low + 1)), tf.int32)


def translation(images: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
    """Shift each image by integers in [-s, s] (s = side / 8) per axis, zero-filled; u: (B, 2)."""
    height, width = images.shape[1], images.shape[2]
    sy, sx = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
    ty, tx = _integers(u[:, 0], -sy, sy), _integers(u[:, 1], -sx, sx)
    padded = tf.pad(images, [[0, 0], [sy, sy], [sx, sx], [0, 0]])
    # out[b, i, j] = images[b, i + ty[b], j + tx[b]] (zero outside): read the padded copy.
    rows = tf.range(height)[None, :] + (ty + sy)[:, None]
    cols = tf.range(width)[None, :] + (tx + sx)[:, None]
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def cutout(images: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
    """Zero a square of side / 2 at a uniform position (clipped at the border); u: (B, 2)."""
    height, width = images.shape[1], images.shape[2]
    size_y, size_x = int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)
    cy = _integers(u[:, 0], 0, height - size_y % 2) - size_y // 2
    cx = _integers(u[:, 1], 0, width - size_x % 2) - size_x // 2
    rows = tf.range(height)[None, :]
    cols = tf.range(width)[None, :]
    inside_y = (rows >= cy[:, None]) & (rows < cy[:, None] + size_y)
    inside_x = (cols >= cx[:, None]) & (cols < cx[:, None] + size_x)
    inside = inside_y[:, :, None] & inside_x[:, None, :]
    mask = 1.0 - tf.cast(inside, images.dtype)
    return images * mask[..., None]


def diff_augment(images: tf.Tensor, policy: Sequence[str], uniforms: tf.Tensor) -> tf.Tensor:
    """Apply `policy` (a subset of POLICIES, in that order) to images (B, H, W, C).

    `uniforms`: (B, NUM_UNIFORMS) in [0, 1), one row per image. An empty policy returns the
    images unchanged.
    """
    x = images
    if "color" in policy:
        x = color(x, uniforms[:, 0:3])
    if "translation" in policy:
        x = translation(x, uniforms[:, 3:5])
    if "cutout" in policy:
        x = cutout(x, uniforms[:, 5:7])
    return x
