"""Losses against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from gantrain.losses.adversarial import non_saturating


def test_non_saturating_discriminator_matches_hand_computed_bce() -> None:
    loss = non_saturating()
    real = tf.constant([[0.0], [2.0]])
    fake = tf.constant([[0.0], [-1.0]])
    terms = loss.discriminator(real, fake)
    # BCE(1, sigmoid(r)) + BCE(0, sigmoid(f)) = -log s(r) - log(1 - s(f))
    expected = [
        -math.log(0.5) - math.log(0.5),
        -math.log(1 / (1 + math.exp(-2.0))) - math.log(1 - 1 / (1 + math.exp(1.0))),
    ]
    np.testing.assert_allclose(terms.loss.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(
        terms.parts["d_real"].numpy(), [0.5, 1 / (1 + math.exp(-2))], rtol=1e-6
    )
    np.testing.assert_allclose(
        terms.parts["d_fake"].numpy(), [0.5, 1 / (1 + math.exp(1))], rtol=1e-6
    )


def test_non_saturating_generator_is_minus_log_d_of_fake() -> None:
    terms = non_saturating().generator(tf.constant([[0.0], [3.0]]), None)
    expected = [-math.log(0.5), -math.log(1 / (1 + math.exp(-3.0)))]
    np.testing.assert_allclose(terms.loss.numpy(), expected, rtol=1e-6)


def test_non_saturating_matches_keras_binary_crossentropy() -> None:
    rng = np.random.default_rng(0)
    real, fake = (
        rng.normal(size=(8, 1)).astype("float32"),
        rng.normal(size=(8, 1)).astype("float32"),
    )
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")
    expected = bce(np.ones((8, 1)), real) + bce(np.zeros((8, 1)), fake)
    got = non_saturating().discriminator(tf.constant(real), tf.constant(fake)).loss
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5)


def test_loss_is_stable_for_large_logits() -> None:
    terms = non_saturating().discriminator(tf.constant([[100.0]]), tf.constant([[-100.0]]))
    assert np.isfinite(terms.loss.numpy()).all()
    assert terms.loss.numpy()[0] < 1e-30
