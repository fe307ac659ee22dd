"""Scalars on the GAN step clock: constant, linear and cosine schedules.

A schedule is built with the counter it reads, `clock` (`GANState.step`: generator steps,
made by `gantrain.training.state.new_step_counter` before the optimizers), so there is nothing
to bind later: D with n_critic=5 follows the same clock as G, and a resumed run continues its
schedules exactly (the clock is in the checkpoint). The optimizers' learning rates use them
(`optimizer.*.schedule`); any other scalar can (a regularizer's weight, Adam's beta_2, an
augmentation probability): `value(step)` is the pure function, `()` the value now.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

KINDS = ("constant", "linear", "cosine")


class StepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`initial` until step `start`, then to `final` at step `end` (and `final` after).

    Calling it returns the value at `clock`'s step; the argument an optimizer passes (its own
    update count) is ignored, on purpose: the GAN step is the clock.
    """

    kind = ""

    def __init__(
        self, initial: float, *, final: float, start: int, end: int, clock: tf.Variable
    ) -> None:
        super().__init__()
        if end <= start:
            raise ValueError(
                f"the {self.kind} schedule must end after it starts (start {start}, end "
                f"{end}); lower its start or raise trainer.max_steps"
            )
        self.initial, self.final = float(initial), float(final)
        self.start, self.end = int(start), int(end)
        self.clock = clock

    def progress(self, step: tf.Tensor) -> tf.Tensor:
        """Where `step` is between start (0) and end (1), clipped."""
        fraction = (tf.cast(step, tf.float32) - self.start) / float(self.end - self.start)
        return tf.clip_by_value(fraction, 0.0, 1.0)

    def shape(self, progress: tf.Tensor) -> tf.Tensor:
        """0 at progress 0, 1 at progress 1."""
        raise NotImplementedError

    def value(self, step: tf.Tensor | int) -> tf.Tensor:
        """The scalar (float32) at GAN step `step`."""
        return self.initial + (self.final - self.initial) * self.shape(self.progress(step))

    def __call__(self, _optimizer_iterations: tf.Tensor | None = None) -> tf.Tensor:
        return self.value(self.clock)

    def get_config(self) -> dict:
        return {"initial": self.initial, "final": self.final, "start": self.start, "end": self.end}


class Linear(StepSchedule):
    """Linear from `initial` to `final` (the WGAN-GP and SN-GAN reference decays)."""

    kind = "linear"

    def shape(self, progress: tf.Tensor) -> tf.Tensor:
        return progress


class Cosine(StepSchedule):
    """Half a cosine from `initial` to `final` (R3GAN's presets): flat at both ends."""

    kind = "cosine"

    def shape(self, progress: tf.Tensor) -> tf.Tensor:
        return 0.5 * (1.0 - tf.cos(math.pi * progress))


def build_schedule(
    kind: str,
    initial: float,
    *,
    final: float,
    start: int,
    end: int | None,
    clock: tf.Variable | None,
    key: str = "schedule",
) -> float | StepSchedule:
    """`initial` itself for `constant`, else a schedule reading `clock` (ValueError without
    it, or without `end`, the run's last step)."""
    if kind not in KINDS:
        raise ValueError(f"{key}={kind!r}: choose one of {', '.join(KINDS)}")
    if kind == "constant":
        return initial
    if end is None:
        raise ValueError(f"{key}={kind} needs the run's last step (trainer.max_steps)")
    if clock is None:
        raise ValueError(f"{key}={kind} needs the GAN step counter it follows (clock)")
    cls = Linear if kind == "linear" else Cosine
    return cls(initial, final=final, start=start, end=end, clock=clock)
