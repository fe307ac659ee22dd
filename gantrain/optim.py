"""Optimizer builders and learning-rate schedules.

Builders: `adam`, `adamw`, `rmsprop`, `sgd` (one YAML each in configs/optimizer/). Each takes
`lr` plus its own hyperparameters, range-checked here (a bad value is a ValueError that the
config builder turns into a one-line error naming the key), and a `schedule`:
`constant`, `linear` or `cosine` (constant until `decay_start`, then to `final_lr` at the
run's last step; linear as the WGAN-GP and SN-GAN reference code decay, cosine as R3GAN's
presets). Schedules (gantrain/schedules.py) count *GAN steps*: gantrain passes the run's
step counter as `clock` when it builds the optimizer (and the last step as `total_steps`),
so D with n_critic=5 decays on the same clock as G.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from gantrain.schedules import KINDS, StepSchedule, build_schedule

SCHEDULES = KINDS


def _learning_rate(
    lr: float,
    schedule: str,
    decay_start: int,
    final_lr: float,
    total_steps: int | None,
    clock: tf.Variable | None,
) -> float | StepSchedule:
    _positive(lr=lr)
    _non_negative(final_lr=final_lr, decay_start=decay_start)
    return build_schedule(
        schedule, lr, final=final_lr, start=decay_start, end=total_steps, clock=clock
    )


def adam(
    *,
    lr: float = 2e-4,
    beta_1: float = 0.5,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    schedule: str = "constant",
    decay_start: int = 0,
    final_lr: float = 0.0,
    total_steps: int | None = None,
    clock: tf.Variable | None = None,
) -> keras.optimizers.Optimizer:
    """Adam (Kingma & Ba 2015); DCGAN's beta_1=0.5 by default.

    `total_steps` (the run's trainer.max_steps) and `clock` (its GAN step counter) are
    passed by gantrain at build time.
    """
    _fraction(beta_1=beta_1, beta_2=beta_2)
    _positive(epsilon=epsilon)
    learning_rate = _learning_rate(lr, schedule, decay_start, final_lr, total_steps, clock)
    return keras.optimizers.Adam(
        learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
    )


def adamw(
    *,
    lr: float = 2e-4,
    weight_decay: float = 0.01,
    beta_1: float = 0.5,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    schedule: str = "constant",
    decay_start: int = 0,
    final_lr: float = 0.0,
    total_steps: int | None = None,
    clock: tf.Variable | None = None,
) -> keras.optimizers.Optimizer:
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay.

    Each update also subtracts lr * weight_decay * w from every weight (Keras's AdamW, as
    PyTorch's: the decay follows the learning-rate schedule).
    """
    _non_negative(weight_decay=weight_decay)
    _fraction(beta_1=beta_1, beta_2=beta_2)
    _positive(epsilon=epsilon)
    learning_rate = _learning_rate(lr, schedule, decay_start, final_lr, total_steps, clock)
    return keras.optimizers.AdamW(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
    )


def rmsprop(
    *,
    lr: float = 5e-5,
    rho: float = 0.99,
    momentum: float = 0.0,
    epsilon: float = 1e-8,
    centered: bool = False,
    schedule: str = "constant",
    decay_start: int = 0,
    final_lr: float = 0.0,
    total_steps: int | None = None,
    clock: tf.Variable | None = None,
) -> keras.optimizers.Optimizer:
    """RMSprop (Tieleman & Hinton 2012); defaults of the original WGAN (Arjovsky et al. 2017:
    lr 5e-5, PyTorch's rho 0.99 and epsilon 1e-8)."""
    _fraction(rho=rho, momentum=momentum)
    _positive(epsilon=epsilon)
    if not isinstance(centered, bool):
        raise ValueError(f"centered={centered!r} must be true or false")
    learning_rate = _learning_rate(lr, schedule, decay_start, final_lr, total_steps, clock)
    return keras.optimizers.RMSprop(
        learning_rate=learning_rate,
        rho=rho,
        momentum=momentum,
        epsilon=epsilon,
        centered=centered,
    )


def sgd(
    *,
    lr: float = 1e-2,
    momentum: float = 0.0,
    nesterov: bool = False,
    schedule: str = "constant",
    decay_start: int = 0,
    final_lr: float = 0.0,
    total_steps: int | None = None,
    clock: tf.Variable | None = None,
) -> keras.optimizers.Optimizer:
    """Stochastic gradient descent, with (Nesterov) momentum (the original GAN paper's
    optimizer: lr 0.1 decaying, momentum 0.5 rising to 0.7; here both are constant)."""
    _fraction(momentum=momentum)
    if not isinstance(nesterov, bool):
        raise ValueError(f"nesterov={nesterov!r} must be true or false")
    if nesterov and momentum == 0:
        raise ValueError("nesterov=true needs momentum > 0 (e.g. momentum=0.9)")
    learning_rate = _learning_rate(lr, schedule, decay_start, final_lr, total_steps, clock)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number")
    return float(value)


def _positive(**values: float) -> None:
    for name, value in values.items():
        if _number(name, value) <= 0:
            raise ValueError(f"{name}={value:g} must be positive")


def _non_negative(**values: float) -> None:
    for name, value in values.items():
        if _number(name, value) < 0:
            raise ValueError(f"{name}={value:g} must be >= 0")


def _fraction(**values: float) -> None:
    """Decay rates and momenta: in [0, 1) (1 would never forget, and diverges for momentum)."""
    for name, value in values.items():
        if not 0 <= _number(name, value) < 1:
            raise ValueError(f"{name}={value:g} must be in [0, 1)")
