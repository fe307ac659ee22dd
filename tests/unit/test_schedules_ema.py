"""Learning-rate schedules over GAN steps, and the generator EMA."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.optim import LinearDecay, adam, bind_schedule
from gantrain.training.ema import check_twins, update_ema


def test_constant_schedule_keeps_a_plain_learning_rate() -> None:
    optimizer = adam(lr=3e-4, total_steps=100)
    assert float(optimizer.learning_rate) == pytest.approx(3e-4)
    assert not hasattr(optimizer, "gantrain_schedule")


def test_linear_decay_follows_the_bound_gan_step() -> None:
    optimizer = adam(lr=1e-3, schedule="linear", decay_start=100, final_lr=1e-4, total_steps=200)
    step = tf.Variable(0, dtype=tf.int64)
    bind_schedule(optimizer, step)
    # The optimizer's own update count (here 0) does not matter once bound.
    for gan_step, expected in ((0, 1e-3), (100, 1e-3), (150, 5.5e-4), (200, 1e-4), (300, 1e-4)):
        step.assign(gan_step)
        assert float(optimizer.learning_rate) == pytest.approx(expected, rel=1e-5)


def test_linear_decay_needs_an_end_after_its_start() -> None:
    with pytest.raises(ValueError, match="must end after it starts"):
        LinearDecay(1e-3, decay_start=500, decay_end=500)
    with pytest.raises(ValueError, match="schedule="):
        adam(schedule="cosine")


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3,))
    x = keras.layers.BatchNormalization()(keras.layers.Dense(2)(inputs))
    return keras.Model(inputs, x)


def test_ema_update_averages_trainable_and_copies_the_rest() -> None:
    model, ema = _model(0), _model(1)
    check_twins(ema, model)
    before = [w.numpy().copy() for w in ema.trainable_weights]
    model.non_trainable_weights[0].assign([5.0, 6.0])  # moving mean
    update_ema(ema, model, decay=0.9, step=tf.constant(10), start=0)
    for average, old, weight in zip(
        ema.trainable_weights, before, model.trainable_weights, strict=True
    ):
        np.testing.assert_allclose(average.numpy(), 0.9 * old + 0.1 * weight.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(ema.non_trainable_weights[0].numpy(), [5.0, 6.0])


def test_ema_copies_before_its_start_step() -> None:
    model, ema = _model(0), _model(1)
    update_ema(ema, model, decay=0.999, step=tf.constant(4), start=5)
    for average, weight in zip(ema.weights, model.weights, strict=True):
        np.testing.assert_array_equal(average.numpy(), weight.numpy())


def test_ema_twin_must_match() -> None:
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="generator's own builder"):
        check_twins(other, _model(0))
