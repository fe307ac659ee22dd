"""StyleGAN2's lazy-regularization optimizer adjustment (training_loop.py: lr * c, betas ** c,
c = k / (k + 1)) on each optimizer gantrain builds, constant and scheduled."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain import optim
from gantrain.optim import ScheduledBeta2Adam, adjust_for_lazy_phases, lazy_ratio


def _lr(optimizer: keras.optimizers.Optimizer) -> float:
    return float(tf.convert_to_tensor(optimizer.learning_rate).numpy())


def test_lazy_ratio_is_the_references_mb_ratio() -> None:
    assert lazy_ratio([16]) == pytest.approx(16 / 17)
    assert lazy_ratio([4]) == pytest.approx(4 / 5)
    # Two lazy phases (every 4 and every 16 steps): main updates over all updates.
    assert lazy_ratio([4, 16]) == pytest.approx(1 / (1 + 1 / 4 + 1 / 16))
    with pytest.raises(ValueError):
        lazy_ratio([])
    with pytest.raises(ValueError):
        lazy_ratio([1])


def test_adam_lr_and_betas() -> None:
    adam = optim.adam(lr=0.0025, beta_1=0.0, beta_2=0.99, epsilon=1e-8)
    adjust_for_lazy_phases(adam, 16 / 17)
    assert _lr(adam) == pytest.approx(0.0025 * 16 / 17, rel=1e-6)
    assert adam.beta_1 == 0.0  # 0 ** c stays 0, as the reference's betas=[0, 0.99]
    assert adam.beta_2 == pytest.approx(0.99 ** (16 / 17))
    assert adam.epsilon == 1e-8
    adamw = optim.adamw(lr=1e-3, beta_1=0.5, beta_2=0.9)
    adjust_for_lazy_phases(adamw, 0.8)
    assert (adamw.beta_1, adamw.beta_2) == (pytest.approx(0.5**0.8), pytest.approx(0.9**0.8))
    assert _lr(adamw) == pytest.approx(8e-4, rel=1e-6)


def test_rmsprop_and_sgd_decay_rates() -> None:
    rms = optim.rmsprop(lr=1e-4, rho=0.99, momentum=0.5)
    adjust_for_lazy_phases(rms, 0.75)
    assert (rms.rho, rms.momentum) == (pytest.approx(0.99**0.75), pytest.approx(0.5**0.75))
    assert _lr(rms) == pytest.approx(0.75e-4, rel=1e-6)
    sgd = optim.sgd(lr=0.1, momentum=0.0)
    adjust_for_lazy_phases(sgd, 0.75)
    assert sgd.momentum == 0.0 and _lr(sgd) == pytest.approx(0.075, rel=1e-6)


def test_scheduled_lr_and_beta_2_are_scaled_at_every_step() -> None:
    clock = tf.Variable(0, dtype=tf.int64)
    adam = optim.adam(
        lr=1e-3,
        schedule="linear",
        final_lr=0.0,
        beta_2=0.9,
        beta_2_schedule="cosine",
        final_beta_2=0.99,
        total_steps=100,
        clock=clock,
    )
    assert isinstance(adam, ScheduledBeta2Adam)
    c = 4 / 5
    adjust_for_lazy_phases(adam, c)
    for step in (0, 30, 100):
        clock.assign(step)
        linear = 1e-3 * (1 - step / 100)
        cosine = 0.9 + 0.09 * 0.5 * (1 - np.cos(np.pi * step / 100))
        assert _lr(adam) == pytest.approx(c * linear, rel=1e-5, abs=1e-12)
        assert float(adam.beta_2) == pytest.approx(cosine**c, rel=1e-6)
    assert adam.beta_1 == pytest.approx(0.5**c)


def test_adjusted_adam_steps_like_torch_adam_with_the_references_kwargs() -> None:
    """One update of the adjusted Keras Adam = PyTorch-style Adam with lr * c and betas ** c
    (the moments' bias correction included)."""
    c, lr, b1, b2, eps = 16 / 17, 0.002, 0.5, 0.99, 1e-8
    adam = optim.adam(lr=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    adjust_for_lazy_phases(adam, c)
    w = tf.Variable([1.0, -2.0])
    adam.build([w])
    g = np.array([0.3, -0.1])
    m, v, x = np.zeros(2), np.zeros(2), np.array([1.0, -2.0])
    for t in (1, 2):
        adam.apply_gradients([(tf.constant(g, tf.float32), w)])
        m = b1**c * m + (1 - b1**c) * g
        v = b2**c * v + (1 - b2**c) * g**2
        m_hat, v_hat = m / (1 - b1 ** (c * t)), v / (1 - b2 ** (c * t))
        x = x - lr * c * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(w.numpy(), x, rtol=1e-5)


def test_other_optimizers_and_built_ones_are_refused() -> None:
    with pytest.raises(TypeError, match="Adagrad"):
        adjust_for_lazy_phases(keras.optimizers.Adagrad(), 0.5)
    built = optim.adam()
    built.build([tf.Variable([1.0])])
    with pytest.raises(ValueError, match="before it is built"):
        adjust_for_lazy_phases(built, 0.5)
