"""Optimizer builders and learning-rate schedules.

Every optimizer config exposes `lr` (and Adam `beta_1`, `beta_2`) and a `schedule`:
`constant`, or `linear` (constant until `decay_start`, then linear to `final_lr` at the run's
last step, as the WGAN-GP and SN-GAN reference code decay). Schedules count *GAN steps*
(generator updates, `GANState.step`), not the optimizer's own updates, so D with n_critic=5
decays on the same clock as G. `GANState` binds them to its step counter.
"""

from __future__ import annotations

import keras
import tensorflow as tf

SCHEDULES = ("constant", "linear")


class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`initial` until step `decay_start`, then linear to `final` at step `decay_end`."""

    def __init__(self, initial: float, *, decay_start: int, decay_end: int, final: float = 0.0):
        super().__init__()
        if decay_end <= decay_start:
            raise ValueError(
                f"the linear decay must end after it starts (decay_start={decay_start}, "
                f"last step {decay_end}); lower decay_start or raise trainer.max_steps"
            )
        self.initial = float(initial)
        self.final = float(final)
        self.decay_start = int(decay_start)
        self.decay_end = int(decay_end)
        self.step: tf.Variable | None = None

    def __call__(self, iterations: tf.Tensor) -> tf.Tensor:
        # The optimizer passes its own update count; the GAN step replaces it once bound.
        step = tf.cast(self.step if self.step is not None else iterations, tf.float32)
        progress = (step - self.decay_start) / float(self.decay_end - self.decay_start)
        progress = tf.clip_by_value(progress, 0.0, 1.0)
        return self.initial + (self.final - self.initial) * progress

    def get_config(self) -> dict:
        return {
            "initial": self.initial,
            "decay_start": self.decay_start,
            "decay_end": self.decay_end,
            "final": self.final,
        }


def bind_schedule(optimizer: keras.optimizers.Optimizer, step: tf.Variable) -> None:
    """Make `optimizer`'s schedule (if any) follow the GAN step counter `step`."""
    # A LossScaleOptimizer (mixed_float16) wraps the optimizer that holds the schedule.
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    schedule = getattr(inner, "gantrain_schedule", None)
    if schedule is not None:
        schedule.step = step


def _learning_rate(
    lr: float, schedule: str, decay_start: int, final_lr: float, total_steps: int | None
) -> float | LinearDecay:
    if lr <= 0:
        raise ValueError(f"lr={lr} must be positive")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r}: choose one of {', '.join(SCHEDULES)}")
    if schedule == "constant":
        return lr
    if total_steps is None:
        raise ValueError("schedule=linear needs the run's total_steps (trainer.max_steps)")
    return LinearDecay(lr, decay_start=decay_start, decay_end=total_steps, final=final_lr)


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
) -> keras.optimizers.Optimizer:
    """Adam (Kingma & Ba 2015); DCGAN's beta_1=0.5 by default.

    `total_steps` (the run's trainer.max_steps) is passed by gantrain at build time.
    """
    learning_rate = _learning_rate(lr, schedule, decay_start, final_lr, total_steps)
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
    )
    if isinstance(learning_rate, LinearDecay):
        optimizer.gantrain_schedule = learning_rate
    return optimizer
