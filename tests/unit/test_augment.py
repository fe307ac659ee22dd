"""DiffAugment: each transform against hand-built expectations, and its gradient."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.training.augment import (
    NUM_UNIFORMS,
    check_policy,
    color,
    cutout,
    diff_augment,
    translation,
)


def _images(batch: int = 2, side: int = 8, channels: int = 3) -> tf.Tensor:
    return tf.random.uniform([batch, side, side, channels], -1.0, 1.0, seed=1)


def test_color_with_neutral_draws_is_the_identity() -> None:
    x = _images()
    neutral = tf.fill([2, 3], 0.5)  # brightness +0, saturation x1, contrast x1
    np.testing.assert_allclose(color(x, neutral).numpy(), x.numpy(), atol=1e-6)


def test_color_brightness_saturation_contrast() -> None:
    x = _images(batch=1)
    # u = 0.9: brightness +0.4; saturation u = 0 collapses to the channel mean (gray).
    out = color(x, tf.constant([[0.9, 0.0, 0.5]])).numpy()
    gray = (x.numpy() + 0.4).mean(axis=3, keepdims=True)
    np.testing.assert_allclose(out, np.broadcast_to(gray, out.shape), atol=1e-5)
    # Contrast u = 1.0 scales deviations from the image mean by 1.5.
    out = color(x, tf.constant([[0.5, 0.5, 1.0]])).numpy()
    mean = x.numpy().mean()
    np.testing.assert_allclose(out, (x.numpy() - mean) * 1.5 + mean, atol=1e-5)


def test_translation_shifts_by_whole_pixels_and_fills_zeros() -> None:
    x = tf.reshape(tf.range(1.0, 65.0), [1, 8, 8, 1])  # shift range: side / 8 = 1 pixel
    # u -> integer floor(u * 3) - 1: 0.0 -> -1, 0.5 -> 0, 0.99 -> +1
    out = translation(x, tf.constant([[0.99, 0.0]])).numpy()[0, ..., 0]
    image = x.numpy()[0, ..., 0]
    # out[i, j] = image[i + 1, j - 1], zero outside
    np.testing.assert_array_equal(out[:7, 1:], image[1:, :7])
    assert (out[7, :] == 0).all() and (out[:, 0] == 0).all()
    same = translation(x, tf.constant([[0.5, 0.5]])).numpy()
    np.testing.assert_array_equal(same, x.numpy())


def test_cutout_zeroes_one_half_side_square() -> None:
    x = tf.ones([1, 8, 8, 2])
    # size 4; offsets uniform in 0..8 minus 2: u = 0.5 -> floor(4.5) - 2 = 2 -> rows/cols 2..5
    out = cutout(x, tf.constant([[0.5, 0.5]])).numpy()[0, ..., 0]
    expected = np.ones((8, 8), np.float32)
    expected[2:6, 2:6] = 0.0
    np.testing.assert_array_equal(out, expected)
    # At the border the square is clipped: offset 0 - 2 = -2 -> rows 0..1 only.
    corner = cutout(x, tf.constant([[0.0, 0.0]])).numpy()[0, ..., 0]
    assert corner[:2, :2].sum() == 0 and corner.sum() == 64 - 4


def test_policies_compose_and_keep_gradients() -> None:
    x = _images()
    u = tf.random.uniform([2, NUM_UNIFORMS], seed=2)
    np.testing.assert_array_equal(diff_augment(x, (), u).numpy(), x.numpy())
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = diff_augment(x, ("color", "translation", "cutout"), u)
        total = tf.reduce_sum(out)
    assert out.shape == x.shape
    grad = tape.gradient(total, x)
    assert grad is not None and np.abs(grad.numpy()).sum() > 0


def test_unknown_policy_is_a_config_error() -> None:
    assert check_policy(["color", "cutout"]) == ("color", "cutout")
    with pytest.raises(ConfigError, match="unknown DiffAugment policy flip"):
        check_policy(["color", "flip"])
