"""Layers against closed forms: spectral norm as in the SN-GAN paper, conditional BN, maxout,
the projection term."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.models.layers import (
    ClassProjection,
    ConditionalBatchNorm,
    Maxout,
    SNConv2D,
    SNDense,
    SNEmbedding,
    power_iteration,
)


def _top_singular_value(matrix: np.ndarray) -> float:
    return float(np.linalg.svd(matrix, compute_uv=False)[0])


def test_power_iteration_converges_to_the_largest_singular_value() -> None:
    matrix = np.random.default_rng(0).normal(size=(20, 7)).astype(np.float32)
    u = tf.random.normal([1, 7], seed=1)
    for _ in range(100):
        sigma, u = power_iteration(tf.constant(matrix), u)
    assert float(sigma) == pytest.approx(_top_singular_value(matrix), rel=1e-4)


def test_sn_dense_keeps_w_and_divides_by_sigma_in_the_forward_pass() -> None:
    layer = SNDense(5, use_bias=False)
    x = tf.constant(np.random.default_rng(2).normal(size=(3, 8)), tf.float32)
    layer(x)  # build
    # A kernel whose top singular value stands clear of the next (3 against 1): 100 power
    # iterations converge whatever the random start (a random kernel's gap can be too small,
    # which made this test depend on the random state earlier tests left).
    left, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(8, 5)))
    right, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(5, 5)))
    layer.kernel.assign((left * [3.0, 1.0, 0.8, 0.5, 0.2]) @ right.T)
    kernel = layer.kernel.numpy().copy()
    for _ in range(100):  # one power iteration per training call
        out = layer(x, training=True)
    # W is the trained variable and stays as it was; the output uses W / sigma(W).
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)
    expected = x.numpy() @ (kernel / _top_singular_value(kernel))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_u_advances_only_in_training_calls_and_is_non_trainable_state() -> None:
    layer = SNConv2D(4, 3)
    x = tf.random.normal([2, 6, 6, 3], seed=3)
    layer(x)
    assert [w.name for w in layer.non_trainable_weights] == ["sn_u"]
    assert "sn_u" not in [w.name for w in layer.trainable_weights]
    u0 = layer.sn_u.numpy().copy()
    layer(x, training=False)
    np.testing.assert_array_equal(layer.sn_u.numpy(), u0)
    layer(x, training=True)
    assert not np.allclose(layer.sn_u.numpy(), u0)


def test_sn_conv_normalizes_the_reshaped_kernel() -> None:
    layer = SNConv2D(6, 3, use_bias=False, padding="same")
    x = tf.random.normal([2, 5, 5, 4], seed=4)
    layer(x)
    for _ in range(100):
        out = layer(x, training=True)
    kernel = layer.kernel.numpy()
    sigma = _top_singular_value(kernel.reshape(-1, 6))
    expected = tf.nn.conv2d(x, kernel / sigma, 1, "SAME").numpy()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_gradient_flows_through_sigma_as_in_the_paper() -> None:
    """With u converged, d/dW of f(W / sigma(W)) matches autodiff through an exact SVD."""
    layer = SNDense(4, use_bias=False)
    x = tf.random.normal([6, 5], seed=5)
    layer(x)
    for _ in range(200):
        layer(x, training=True)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(x, training=False)))
    got = tape.gradient(loss, layer.trainable_weights[0])
    kernel = tf.Variable(layer.kernel.numpy())
    with tf.GradientTape() as tape:
        sigma = tf.linalg.svd(kernel, compute_uv=False)[0]
        loss = tf.reduce_sum(tf.square(x @ (kernel / sigma)))
    expected = tape.gradient(loss, kernel)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-3, atol=1e-5)
    # Keras's SpectralNormalization would give the gradient of x @ (W / sigma) with sigma
    # held constant, which differs:
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(x @ (kernel / tf.stop_gradient(sigma))))
    constant_sigma = tape.gradient(loss, kernel)
    assert not np.allclose(got.numpy(), constant_sigma.numpy(), rtol=1e-3, atol=1e-5)


def test_sn_state_is_checkpointed(tmp_path) -> None:
    layer = SNEmbedding(10, 4)
    layer(tf.constant([1, 2]), training=True)
    u = layer.sn_u.numpy().copy()
    path = tf.train.Checkpoint(layer=layer).save(str(tmp_path / "ckpt"))
    layer.sn_u.assign(tf.zeros_like(layer.sn_u))
    tf.train.Checkpoint(layer=layer).restore(path).assert_consumed()
    np.testing.assert_array_equal(layer.sn_u.numpy(), u)


def test_conditional_batch_norm_applies_the_class_affine() -> None:
    x = tf.random.normal([6, 3, 3, 2], seed=6) * 3.0 + 1.0
    labels = tf.constant([0, 1, 2, 0, 1, 2])
    layer = ConditionalBatchNorm(3, epsilon=1e-3)
    out = layer([x, labels], training=True)
    reference = keras.layers.BatchNormalization(epsilon=1e-3)(x, training=True)
    np.testing.assert_allclose(out.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5)
    gamma = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    beta = np.array([[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]], np.float32)
    layer.class_gamma.assign(gamma)
    layer.class_beta.assign(beta)
    out = layer([x, labels], training=True).numpy()
    for i, label in enumerate(labels.numpy()):
        np.testing.assert_allclose(
            out[i], reference.numpy()[i] * gamma[label] + beta[label], rtol=1e-5, atol=1e-5
        )


def test_conditional_batch_norm_is_a_batch_norm_for_standing_statistics() -> None:
    assert isinstance(ConditionalBatchNorm(3), keras.layers.BatchNormalization)


def test_maxout_is_the_max_over_pieces() -> None:
    layer = Maxout(2, 3)
    x = tf.random.normal([4, 5], seed=7)
    out = layer(x).numpy()
    affine = layer.affine(x).numpy().reshape(4, 2, 3)
    np.testing.assert_allclose(out, affine.max(axis=-1), rtol=1e-6)


def test_class_projection_is_the_inner_product_with_the_class_embedding() -> None:
    layer = ClassProjection(4)
    features = tf.random.normal([3, 5], seed=8)
    labels = tf.constant([3, 0, 3])
    out = layer([features, labels]).numpy()
    table = layer.embedding.embeddings.numpy()
    expected = np.sum(table[labels.numpy()] * features.numpy(), axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
