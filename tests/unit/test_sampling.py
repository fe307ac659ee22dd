"""The Sampler's standing statistics (gantrain/training/sampling.py): one compiled refresh
recomputes batch-norm statistics from fresh latents over the source's current weights."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gantrain.training.sampling import _CHUNK, Sampler


def _generator(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    z = keras.Input((3,))
    x = keras.layers.BatchNormalization(momentum=0.99)(keras.layers.Dense(4)(z))
    model = keras.Model(z, x)
    model.latent_dim = 3
    return model


def _expected_stats(source: keras.Model, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the chunks' batch means and variances of the pre-BN activations."""
    z = tf.random.stateless_normal([count, 3], seed=tf.constant([seed, -2], tf.int64))
    h = source.layers[1](z).numpy()
    chunks = [h[i : i + _CHUNK] for i in range(0, count, _CHUNK)]
    return np.mean([c.mean(0) for c in chunks], 0), np.mean([c.var(0) for c in chunks], 0)


def test_refresh_recomputes_batch_norm_statistics_from_current_weights() -> None:
    source, copy = _generator(0), _generator(1)
    sampler = Sampler(source, copy, standing_stats=4 * _CHUNK, seed=5)
    bn = copy.layers[2]
    for _ in range(2):  # the second refresh reuses the traced graph with new weights
        sampler.refresh()
        mean, var = _expected_stats(source, 4 * _CHUNK, 5)
        np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(
            copy.layers[1].kernel.numpy(), source.layers[1].kernel.numpy()
        )
        source.layers[1].kernel.assign(source.layers[1].kernel * 2.0)
    assert bn.momentum == 0.99  # put back after the trace
