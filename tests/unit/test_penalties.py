"""Penalties on critics whose input gradient is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from gantrain.losses.penalties import gradient_penalty, r1_penalty

W = np.array([3.0, 4.0, 0.0, 12.0], np.float32)  # norm 13


def linear_critic(weights: tf.Tensor):
    """D(x) = <w, x> per example: its input gradient is w everywhere."""
    return lambda images: tf.reduce_sum(
        tf.reshape(images, [-1, 4]) * weights, axis=1, keepdims=True
    )


def test_gradient_penalty_of_a_linear_critic_is_norm_minus_one_squared() -> None:
    real = tf.random.normal([5, 1, 2, 2], seed=1)
    fake = tf.random.normal([5, 1, 2, 2], seed=2)
    alpha = tf.random.uniform([5], seed=3)
    got = gradient_penalty(linear_critic(tf.constant(W)), real, fake, alpha).numpy()
    np.testing.assert_allclose(got, np.full(5, (13.0 - 1.0) ** 2), rtol=1e-5)


def test_gradient_penalty_interpolates_one_alpha_per_example() -> None:
    """D(x) = ||x||^2 / 2 has gradient x: the norm is that of the interpolate itself."""
    real = tf.constant(np.ones([3, 2, 2, 1], np.float32))
    fake = tf.constant(np.full([3, 2, 2, 1], 3.0, np.float32))
    alpha = tf.constant([0.0, 0.5, 0.75])

    def critic(images):
        return 0.5 * tf.reduce_sum(tf.square(images), axis=[1, 2, 3])[:, None]

    got = gradient_penalty(critic, real, fake, alpha).numpy()
    # x_hat = 1 + 2 * alpha in every pixel; its norm over 4 pixels is 2 * (1 + 2 alpha).
    expected = [(2.0 * (1 + 2 * a) - 1.0) ** 2 for a in (0.0, 0.5, 0.75)]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gradient_penalty_is_finite_when_the_gradient_vanishes() -> None:
    weights = tf.Variable(np.zeros(4, np.float32))
    images = tf.random.normal([2, 1, 2, 2], seed=4)
    with tf.GradientTape() as tape:
        penalty = tf.reduce_sum(
            gradient_penalty(linear_critic(weights), images, images, tf.constant([0.3, 0.9]))
        )
    grad = tape.gradient(penalty, weights)
    assert penalty.numpy() == pytest.approx(2.0, rel=1e-5)  # (sqrt(eps) - 1)^2 twice
    assert np.all(np.isfinite(grad.numpy()))  # the epsilon inside the sqrt


def test_gradient_penalty_trains_the_critic_by_double_backprop() -> None:
    """d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||."""
    weights = tf.Variable(W)
    images = tf.random.normal([1, 1, 2, 2], seed=5)
    with tf.GradientTape() as tape:
        penalty = gradient_penalty(linear_critic(weights), images, images * 2, tf.constant([0.5]))
    got = tape.gradient(penalty, weights).numpy()
    np.testing.assert_allclose(got, 2 * (13.0 - 1.0) * W / 13.0, rtol=1e-5)


def test_r1_of_a_linear_critic_is_the_squared_norm() -> None:
    real = tf.random.normal([3, 1, 2, 2], seed=6)
    got = r1_penalty(linear_critic(tf.constant(W)), real).numpy()
    np.testing.assert_allclose(got, np.full(3, 169.0), rtol=1e-5)
