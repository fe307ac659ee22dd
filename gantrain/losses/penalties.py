"""Penalties on the discriminator's input gradients, as pure functions of a critic and inputs.

`critic` maps images (B, H, W, C) to logits (B, 1); labels of a conditional discriminator are
bound into it by the caller. Both functions return per-example values (B,) and are meant to be
called inside the outer `GradientTape` of the discriminator update (double backpropagation).
The regularizers that use them (weights, intervals, config) are in gantrain/regularizers/.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

Critic = Callable[[tf.Tensor], tf.Tensor]

# Inside the square root: the norm's gradient at g = 0 is finite (keras-io#143).
_EPSILON = 1e-12


def input_gradients(critic: Critic, images: tf.Tensor) -> tf.Tensor:
    """d sum(critic(images)) / d images, flattened to (B, H*W*C); example i's row only
    depends on example i as long as the critic treats examples independently."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(tf.cast(critic(images), tf.float32))
    grads = tape.gradient(total, images)
    return tf.reshape(tf.cast(grads, tf.float32), [tf.shape(images)[0], -1])


def gradient_penalty(
    critic: Critic, real: tf.Tensor, fake: tf.Tensor, alpha: tf.Tensor
) -> tf.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): (||grad critic(x_hat)||_2 - 1)^2 per example.

    x_hat = real + alpha * (fake - real), `alpha` (B,) uniform in [0, 1), one per example (not
    per pixel). The norm is sqrt(sum g^2 + 1e-12), finite-gradient at g = 0.
    """
    alpha = tf.reshape(tf.cast(alpha, real.dtype), [-1, 1, 1, 1])
    interpolated = real + alpha * (tf.stop_gradient(fake) - real)
    grads = input_gradients(critic, interpolated)
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + _EPSILON)
    return tf.square(norm - 1.0)


def r1_penalty(critic: Critic, real: tf.Tensor) -> tf.Tensor:
    """R1 (Mescheder et al. 2018): ||grad critic(x)||^2 on real images, per example.

    The usual weight is gamma / 2 (gantrain/regularizers/r1.py).
    """
    grads = input_gradients(critic, real)
    return tf.reduce_sum(tf.square(grads), axis=1)
