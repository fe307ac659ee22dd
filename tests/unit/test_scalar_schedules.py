"""Schedules of scalars other than the learning rate: R1/R2 gamma and Adam's beta_2."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import load_run_config
from gantrain.errors import ConfigError
from gantrain.optim import ScheduledBeta2Adam, adam
from gantrain.regularizers.r1 import R1
from gantrain.regularizers.r2 import R2
from gantrain.training.build import build_state
from tests.conftest import compose_config


def _cosine(initial: float, final: float, start: int, end: int, step: int) -> float:
    progress = min(max((step - start) / (end - start), 0.0), 1.0)
    return final + (initial - final) * 0.5 * (1 + np.cos(np.pi * progress))


@pytest.mark.parametrize("cls", [R1, R2])
def test_gamma_schedules_give_half_gamma_on_the_gan_step(cls) -> None:
    clock = tf.Variable(0, dtype=tf.int64)
    constant = cls(gamma=0.05, total_steps=8, clock=clock)
    assert constant.weight_at(tf.constant(5)) == pytest.approx(0.025)
    cosine = cls(gamma=0.05, schedule="cosine", final_gamma=0.005, total_steps=8, clock=clock)
    got = [float(cosine.weight_at(tf.constant(s, tf.int64))) for s in range(10)]
    expected = [_cosine(0.05, 0.005, 0, 8, s) / 2 for s in range(10)]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    linear = cls(gamma=1.0, schedule="linear", final_gamma=0.0, schedule_start=2, total_steps=6,
                 clock=clock)  # fmt: skip
    got = [float(linear.weight_at(tf.constant(s, tf.int64))) for s in (0, 2, 4, 6, 7)]
    np.testing.assert_allclose(got, [0.5, 0.5, 0.25, 0.0, 0.0], atol=1e-7)
    assert not linear.off  # a schedule ending at 0 still runs
    with pytest.raises(ValueError, match="needs the GAN step counter"):
        cls(gamma=1.0, schedule="cosine", total_steps=6)
    with pytest.raises(ValueError, match="final_gamma"):
        cls(gamma=1.0, schedule="cosine", final_gamma=-1.0, total_steps=6, clock=clock)


def test_beta_2_schedule_is_pytorchs_adam_with_the_current_beta_2() -> None:
    clock = tf.Variable(0, dtype=tf.int64)
    optimizer = adam(lr=0.1, beta_1=0.0, beta_2=0.9, final_beta_2=0.99, epsilon=1e-8,
                     beta_2_schedule="cosine", total_steps=4, clock=clock)  # fmt: skip
    assert isinstance(optimizer, ScheduledBeta2Adam)
    assert optimizer.get_config()["beta_2"] == pytest.approx(0.9)
    weights = tf.Variable([1.0, -2.0])
    grads = [np.array([0.5, -1.0]), np.array([-0.3, 0.2]), np.array([1.0, 1.0]),
             np.array([0.1, -0.4]), np.array([0.2, 0.3])]  # fmt: skip

    @tf.function
    def step(gradient: tf.Tensor) -> None:
        optimizer.apply_gradients([(gradient, weights)])
        clock.assign_add(1)

    # torch.optim.Adam: v = b2 v + (1 - b2) g^2; w -= lr m / (1 - b1^t) / (sqrt(v / (1 - b2^t))
    # + eps), with b2 the value set in the param group before step t (here the GAN step t - 1).
    # Keras folds the bias corrections into the step size, so eps differs by sqrt(1 - b2^t).
    w, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t, g in enumerate(grads, start=1):
        b2 = _cosine(0.9, 0.99, 0, 4, t - 1)
        step(tf.constant(g, tf.float32))
        m = g  # beta_1 = 0
        v = b2 * v + (1 - b2) * g**2
        w = w - 0.1 * np.sqrt(1 - b2**t) * m / (np.sqrt(v) + 1e-8)
        np.testing.assert_allclose(weights.numpy(), w, rtol=1e-5, err_msg=f"update {t}")
    assert float(optimizer.beta_2) == pytest.approx(0.99)
    assert type(adam(beta_2=0.99)) is not ScheduledBeta2Adam  # constant: Keras's own Adam
    with pytest.raises(ValueError, match="final_beta_2"):
        adam(beta_2_schedule="linear", final_beta_2=1.0, total_steps=4, clock=clock)


def test_scheduled_gamma_and_beta_2_follow_the_state_clock(tiny_overrides) -> None:
    run = load_run_config(compose_config(overrides=[
        *tiny_overrides, "regularizer=[r1,r2]", "regularizer.r1.schedule=cosine",
        "regularizer.r1.final_gamma=0.0", "optimizer.discriminator.beta_2_schedule=linear",
        "optimizer.discriminator.final_beta_2=0.9",
    ]))  # fmt: skip
    state = build_state(run, run.dataset.load().spec)
    r1, r2 = state.regularizers
    assert float(r1.weight_at(state.step)) == pytest.approx(run.regularizers["r1"].gamma / 2)
    assert r2.weight == pytest.approx(run.regularizers["r2"].gamma / 2)  # constant stays a float
    state.step.assign(run.trainer.max_steps)
    assert float(r1.weight_at(state.step)) == pytest.approx(0.0, abs=1e-7)
    assert float(state.d_optimizer.beta_2) == pytest.approx(0.9)
    with pytest.raises(ConfigError, match="regularizer.r1.clock is derived"):
        load_run_config(compose_config(overrides=[
            *tiny_overrides, "regularizer=[r1]", "+regularizer.r1.clock=3"
        ]))  # fmt: skip
