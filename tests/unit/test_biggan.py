"""BigGAN's layers against hand-computed values: self-attention that attends where the answer
is known, the linear conditional batch norm, the hierarchical latent, the channel tables."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.models.biggan_layers import LinearConditionalBatchNorm, SelfAttention, ZChunks
from gantrain.models.discriminators.biggan import build_biggan_discriminator
from gantrain.models.generators.biggan import build_biggan_generator


def _attention(channels: int = 16) -> SelfAttention:
    layer = SelfAttention(spectral=False)
    layer.build((None, 4, 4, channels))
    return layer


def test_self_attention_starts_as_the_identity_and_has_the_input_shape() -> None:
    layer = _attention()
    x = tf.random.stateless_normal([2, 4, 4, 16], seed=[1, 2])
    out = layer(x)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.numpy(), x.numpy())  # sigma starts at 0


def test_self_attention_with_constant_queries_averages_the_pooled_values() -> None:
    layer = _attention()
    layer.theta.kernel.assign(tf.zeros_like(layer.theta.kernel))  # all logits 0: uniform
    layer.sigma.assign(1.0)
    x = tf.random.stateless_normal([1, 4, 4, 16], seed=[3, 4])
    g = tf.nn.max_pool2d(layer.g(x), 2, 2, "VALID").numpy().reshape(4, 8)
    expected = x.numpy() + layer.out(np.broadcast_to(g.mean(0), (1, 4, 4, 8))).numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_self_attention_attends_to_the_matching_position() -> None:
    layer = _attention(channels=8)
    # theta and phi read channel 0 only: the logit of (query, key) is q0 * k0 (after pooling).
    eye = np.zeros((1, 1, 8, 1), np.float32)
    eye[0, 0, 0, 0] = 1.0
    layer.theta.kernel.assign(eye)
    layer.phi.kernel.assign(eye)
    x = np.zeros((1, 4, 4, 8), np.float32)
    x[0, 3, 3, 0] = 10.0  # one strong key in the bottom-right pooled cell
    weights = layer.attention(tf.constant(x)).numpy()[0]  # (16 queries, 4 pooled keys)
    # The query at the strong position attends (almost) only to its own pooled cell (index 3);
    # a query with q0 = 0 attends uniformly.
    assert weights[3 * 4 + 3].argmax() == 3 and weights[3 * 4 + 3, 3] > 0.99
    np.testing.assert_allclose(weights[0], 0.25, atol=1e-6)


def test_linear_conditional_batch_norm_formula() -> None:
    layer = LinearConditionalBatchNorm(spectral=False, initializer="glorot_uniform")
    x = tf.random.stateless_normal([6, 2, 2, 3], seed=[5, 6]) * 3.0 + 1.0
    a = tf.random.stateless_normal([6, 4], seed=[7, 8])
    out = layer([x, a], training=True).numpy()
    xs = x.numpy()
    mean, var = xs.mean((0, 1, 2)), xs.var((0, 1, 2))
    normalized = (xs - mean) / np.sqrt(var + 1e-4)
    gain = 1.0 + a.numpy() @ layer._gain.kernel.numpy()
    bias = a.numpy() @ layer._bias.kernel.numpy()
    expected = normalized * gain[:, None, None, :] + bias[:, None, None, :]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    assert isinstance(layer, keras.layers.BatchNormalization)  # standing statistics find it


def test_hierarchical_latent_feeds_every_block() -> None:
    chunks = ZChunks(4)(tf.reshape(tf.range(8.0), [1, 8]))
    assert [c.numpy().tolist() for c in chunks] == [[[0, 1]], [[2, 3]], [[4, 5]], [[6, 7]]]
    generator = build_biggan_generator(
        image_shape=(32, 32, 3), num_classes=3, latent_dim=8, channels=8, shared_dim=4
    )
    z = tf.random.stateless_normal([2, 8], seed=[9, 10])
    labels = tf.constant([0, 1])
    base = generator([z, labels], training=True).numpy()
    # Changing only the last chunk (it conditions the last block's batch norms) changes images.
    changed = tf.concat([z[:, :6], z[:, 6:] + 1.0], axis=1)
    assert not np.allclose(generator([changed, labels], training=True).numpy(), base)
    assert not np.allclose(generator([z, tf.constant([2, 2])], training=True).numpy(), base)


def test_channel_multipliers_and_attention_placement() -> None:
    generator = build_biggan_generator(
        image_shape=(64, 64, 3), latent_dim=10, channels=8, conditioning="none"
    )
    convs = [layer for layer in generator.layers if "conv" in type(layer).__name__.lower()]
    # 64x64: block outputs 8, 4, 2, 1 x channels (two 3x3 and a 1x1 shortcut per block).
    assert [c.filters for c in convs[:-1]][1::3] == [64, 32, 16, 8]
    attention = [i for i, layer in enumerate(generator.layers) if isinstance(layer, SelfAttention)]
    assert len(attention) == 1
    assert generator.layers[attention[0]].output.shape[1] == 16  # after block 2: 16x16
    discriminator = build_biggan_discriminator(
        image_shape=(32, 32, 3), channels=8, conditioning="none"
    )
    d_attention = [layer for layer in discriminator.layers if isinstance(layer, SelfAttention)]
    assert d_attention[0].output.shape[1:] == (16, 16, 16)
    with pytest.raises(ConfigError, match="cannot produce 28x28"):
        build_biggan_generator(image_shape=(28, 28, 1), channels=8)
    with pytest.raises(ConfigError, match="multiple of 4"):
        build_biggan_generator(
            image_shape=(32, 32, 3), latent_dim=10, channels=8, conditioning="none"
        )
