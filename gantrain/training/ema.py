"""Exponential moving average of the generator's weights (Yazici et al. 2019; BigGAN).

The EMA generator is a second model built by the same builder; after every step its trainable
weights move toward the generator's, `ema = decay * ema + (1 - decay) * weight`, and its other
weights (batch-norm statistics, spectral-norm vectors) are copied. Before `start` steps the
EMA is a plain copy, so averaging begins from trained rather than initial weights.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def check_twins(ema: keras.Model, model: keras.Model) -> None:
    """The EMA model must have the generator's variables, in the same order."""
    shapes = [tuple(w.shape) for w in model.weights]
    if [tuple(w.shape) for w in ema.weights] != shapes:
        raise ValueError("the EMA generator must be built by the generator's own builder")


def update_ema(
    ema: keras.Model, model: keras.Model, *, decay: float, step: tf.Tensor, start: int
) -> None:
    """One EMA update at training step `step` (after the step's G update)."""
    rate = tf.where(tf.cast(step, tf.int64) >= start, decay, 0.0)
    for average, weight in zip(ema.trainable_weights, model.trainable_weights, strict=True):
        average.assign(rate * average + (1.0 - rate) * weight)
    for average, weight in zip(ema.non_trainable_weights, model.non_trainable_weights, strict=True):
        average.assign(weight)
