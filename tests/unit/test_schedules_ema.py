"""Learning-rate schedules over GAN steps, and the generator EMA."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import TrainerConfig
from gantrain.errors import ConfigError
from gantrain.optim import adam
from gantrain.schedules import Cosine, Linear, build_schedule
from gantrain.training.ema import EmaRate, check_twins, update_ema


def test_constant_schedule_keeps_a_plain_learning_rate() -> None:
    optimizer = adam(lr=3e-4, total_steps=100)
    assert float(optimizer.learning_rate) == pytest.approx(3e-4)
    assert build_schedule("constant", 3e-4, final=0.0, start=0, end=None, clock=None) == 3e-4


def test_linear_decay_follows_the_gan_step_it_was_built_with() -> None:
    step = tf.Variable(0, dtype=tf.int64)
    optimizer = adam(
        lr=1e-3, schedule="linear", decay_start=100, final_lr=1e-4, total_steps=200, clock=step
    )
    # The optimizer's own update count (here 0) does not matter: the GAN step is the clock.
    for gan_step, expected in ((0, 1e-3), (100, 1e-3), (150, 5.5e-4), (200, 1e-4), (300, 1e-4)):
        step.assign(gan_step)
        assert float(optimizer.learning_rate) == pytest.approx(expected, rel=1e-5)


def test_cosine_schedule_is_half_a_cosine_between_start_and_end() -> None:
    step = tf.Variable(0, dtype=tf.int64)
    optimizer = adam(
        lr=1e-3, schedule="cosine", decay_start=100, final_lr=1e-4, total_steps=200, clock=step
    )
    assert isinstance(optimizer.learning_rate, tf.Tensor)
    for gan_step in (0, 100, 125, 150, 175, 200, 300):
        step.assign(gan_step)
        progress = min(max((gan_step - 100) / 100, 0.0), 1.0)
        expected = 1e-4 + (1e-3 - 1e-4) * 0.5 * (1 + np.cos(np.pi * progress))
        assert float(optimizer.learning_rate) == pytest.approx(expected, rel=1e-5), gan_step
    # Any scalar can follow the clock: value(step) is pure, () reads the clock.
    gamma = Cosine(10.0, final=1.0, start=0, end=4, clock=step)
    np.testing.assert_allclose([float(gamma.value(s)) for s in range(5)], [
        10.0, 1.0 + 9.0 * (0.5 + 0.5 * np.cos(np.pi / 4)), 5.5,
        1.0 + 9.0 * (0.5 + 0.5 * np.cos(3 * np.pi / 4)), 1.0,
    ], rtol=1e-5)  # fmt: skip
    step.assign(2)
    assert float(gamma()) == pytest.approx(5.5)


def test_schedules_need_an_end_after_their_start_and_a_clock() -> None:
    clock = tf.Variable(0, dtype=tf.int64)
    with pytest.raises(ValueError, match="must end after it starts"):
        Linear(1e-3, final=0.0, start=500, end=500, clock=clock)
    with pytest.raises(ValueError, match="schedule='exp'"):
        adam(schedule="exp")
    with pytest.raises(ValueError, match="needs the GAN step counter"):
        adam(schedule="cosine", total_steps=10)


def test_a_trained_run_decays_on_its_own_step(tiny_overrides) -> None:
    """build_state hands the state's step counter to the optimizers' schedules."""
    from gantrain.config import load_run_config
    from gantrain.training.build import build_state
    from tests.conftest import compose_config

    run = load_run_config(
        compose_config(overrides=[*tiny_overrides, "optimizer.discriminator.schedule=linear"])
    )
    state = build_state(run, run.dataset.load().spec)
    schedule = state.d_optimizer.learning_rate
    assert float(schedule) == pytest.approx(run.optimizer_discriminator.lr)
    state.step.assign(run.trainer.max_steps)
    assert float(state.d_optimizer.learning_rate) == pytest.approx(0.0, abs=1e-12)


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


def test_ema_update_inside_a_compiled_step_is_one_xla_cluster_with_the_same_average() -> None:
    """On one replica the averaging runs fused by XLA (the train step's case: a traced step
    and a tensor decay), and gives the unfused formula's numbers."""
    from gantrain.training.ema import fuse_with_xla

    model, ema = _model(0), _model(1)
    assert fuse_with_xla(ema.trainable_weights + model.trainable_weights)
    before = [w.numpy().copy() for w in ema.trainable_weights]
    decay = tf.Variable(0.75)
    step = tf.Variable(7, dtype=tf.int64)

    @tf.function
    def train_step_tail() -> None:
        update_ema(ema, model, decay=decay * 1.0, step=step, start=3)

    train_step_tail()
    graph = train_step_tail.get_concrete_function().graph.as_graph_def()
    compiled = [f for f in graph.library.function if f.attr["_XlaMustCompile"].b]
    assert compiled, "the EMA average should be an XLA-compiled function on one replica"
    for average, old, weight in zip(
        ema.trainable_weights, before, model.trainable_weights, strict=True
    ):
        np.testing.assert_allclose(average.numpy(), 0.75 * old + 0.25 * weight.numpy(), rtol=1e-6)


def test_replicated_variables_keep_the_unfused_ema_update() -> None:
    from gantrain.distribute.mirrored import MirroredStrategy
    from gantrain.training.ema import fuse_with_xla

    strategy = MirroredStrategy(num_cpu_devices=2).create()
    with strategy.scope():
        model, ema = _model(0), _model(1)
        assert not fuse_with_xla(ema.trainable_weights + model.trainable_weights)
    before = [w.numpy().copy() for w in ema.trainable_weights]

    @tf.function
    def tail() -> None:
        update_ema(ema, model, decay=0.5, step=tf.constant(1), start=0)

    with strategy.scope():
        tail()
    for average, old, weight in zip(
        ema.trainable_weights, before, model.trainable_weights, strict=True
    ):
        np.testing.assert_allclose(average.numpy(), 0.5 * old + 0.5 * weight.numpy(), rtol=1e-6)


def test_ema_twin_must_match() -> None:
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="generator's own builder"):
        check_twins(other, _model(0))


def _reference_beta(
    images_before: float, batch: int, kimg: float, rampup: float | None = None
) -> float:
    """StyleGAN2-ADA training_loop.py's G_ema beta, written out in Python."""
    ema_nimg = kimg * 1000
    if rampup is not None:
        ema_nimg = min(ema_nimg, images_before * rampup)
    return 0.5 ** (batch / max(ema_nimg, 1e-8))


def test_ema_rate_constant_decay_is_the_decay() -> None:
    rate = EmaRate(decay=0.999, start=10)
    assert rate.on and not rate.by_half_life
    assert float(rate(tf.constant(3, tf.int64))) == pytest.approx(0.999)
    assert not EmaRate().on


@pytest.mark.parametrize("rampup", [0.0, 0.05])
def test_ema_rate_half_life_matches_stylegan2_ada(rampup: float) -> None:
    batch = 64
    rate = EmaRate(kimg=10.0, rampup=rampup, batch_size=batch)
    for step in (1, 2, 50, 3_000, 100_000):  # the counter after the step's increment
        expected = _reference_beta((step - 1) * batch, batch, 10.0, rampup or None)
        assert float(rate(tf.constant(step, tf.int64))) == pytest.approx(expected, rel=1e-5)
    if rampup:  # the first update copies G (no images seen yet), as the reference's
        assert float(rate(tf.constant(1, tf.int64))) == 0.0


def test_ema_rate_follows_r3gan_cosine_half_life_schedule() -> None:
    # R3GAN's CIFAR-10 preset: ema_nimg cosine from 0 to 5M images over 2e7 images.
    batch, total_images = 512, 2e7
    total_steps = int(total_images / batch)
    clock = tf.Variable(0, dtype=tf.int64)
    rate = EmaRate(
        kimg=0.0,
        final_kimg=5000.0,
        schedule="cosine",
        batch_size=batch,
        total_steps=total_steps,
        clock=clock,
    )
    for step in (1, 10_000, total_steps // 2, total_steps + 1):
        before = (step - 1) / total_steps
        ema_nimg = 5e6 * 0.5 * (1 - math.cos(math.pi * min(before, 1.0)))
        expected = 0.5 ** (batch / max(ema_nimg, 1e-8))
        assert float(rate(tf.constant(step, tf.int64))) == pytest.approx(expected, rel=1e-4)


def test_ema_half_life_config_errors() -> None:
    with pytest.raises(ConfigError, match="both set the EMA"):
        TrainerConfig.with_defaults(ema_kimg=10.0)  # the default ema_decay is 0.999
    with pytest.raises(ConfigError, match="ramps up a half-life"):
        TrainerConfig.with_defaults(ema_rampup=0.05)
    with pytest.raises(ConfigError, match="ema_schedule"):
        TrainerConfig.with_defaults(ema_decay=0.0, ema_schedule="exp")
    TrainerConfig.with_defaults(ema_decay=0.0, ema_kimg=10.0, ema_rampup=0.05)
