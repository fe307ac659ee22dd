"""The regularizer protocol: a penalty or regularizer is one module + one YAML.

A `Regularizer` adds a term to the loss of one model's phase (`applies_to`: "discriminator" or
"generator"). `interval` 1 adds it to that model's every update; k > 1 runs it as its own
update every k steps with its weight times k (lazy regularization, Karras et al. 2020).
Phases are built from the configured regularizers, grouped by model and interval
(gantrain/training/phases.py): nothing in the train step names a kind of regularizer.

Write one: subclass `Regularizer`, give `__init__` keyword-only arguments (they are the YAML
keys, checked against the signature at startup) and pass the weight, interval and model to
`super().__init__`; implement `__call__(ctx) -> values`; add
`configs/regularizer/<key>.yaml` holding `<key>: {_target_: ..., args}`. Pick it with
`regularizer=[<key>]`; it is logged as `d_<key>` / `g_<key>` (unweighted).

State (running means, EMA anchors): create variables in `build(state)` with `add_state`;
the regularizer is a `tf.Module`, so `GANState.checkpoint()` saves and restores them under
`regularizers/<key>` with the rest of the run. Update them with `ctx.assign`.
"""

from __future__ import annotations

import math
import numbers
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from gantrain.config import build
from gantrain.errors import ConfigError
from gantrain.losses.adversarial import LossTerms
from gantrain.schedules import StepSchedule, build_schedule

MODELS = ("discriminator", "generator")
# Streams below this are the train step's own (latents, labels, augmentations; phases.py).
_FIRST_FREE_STREAM = 16


@dataclass(frozen=True)
class RegularizerContext:
    """What a regularizer sees in one update of its phase, on one replica.

    `real` (B, H, W, C) float32 in [-1, 1] and `labels` (B,) int32 or None are this replica's
    real batch; `fake_labels` (B,) the labels G is asked for (None for an unconditional G).
    `real_logits` / `fake_logits` (B, 1): D's outputs of the phase's own adversarial pass,
    None in a regularizer's own (lazy) phase. `model` is the model the phase updates.
    """

    state: Any  # gantrain.training.state.GANState (not imported: training imports us)
    model: keras.Model
    real: tf.Tensor
    labels: tf.Tensor | None
    fake_labels: tf.Tensor | None
    step: tf.Tensor
    global_batch_size: int
    real_logits: tf.Tensor | None
    fake_logits: tf.Tensor | None
    make_fake: Callable[[], tf.Tensor]
    critic_fn: Callable[[tf.Tensor, tf.Tensor | None], tf.Tensor]
    draw: Callable[[str, tuple[int, ...], int], tf.Tensor]

    def fake(self) -> tf.Tensor:
        """G's images (B, H, W, C) for this update: the phase's own fakes when it made some
        (with G's gradient in the G phase, none in the D phase), else fresh ones."""
        return self.make_fake()

    def critic(self, images: tf.Tensor, labels: tf.Tensor | None) -> tf.Tensor:
        """D's logits (B, 1) on `images` (augmented as D's inputs are, with its own stream);
        `labels` reach D only when D is class-conditional."""
        return self.critic_fn(images, labels)

    def uniform(self, shape: tuple[int, ...], stream: int) -> tf.Tensor:
        """(B, *shape) float32 in [0, 1), drawn for the global batch from (seed, step, slot,
        stream); this replica's rows. Use `Regularizer.stream(tag)` for `stream`."""
        return self.draw("uniform", tuple(shape), stream)

    def normal(self, shape: tuple[int, ...], stream: int) -> tf.Tensor:
        """(B, *shape) float32 standard normal; see `uniform`."""
        return self.draw("normal", tuple(shape), stream)

    def global_mean(self, values: tf.Tensor) -> tf.Tensor:
        """The mean of per-example `values` (B, ...) over the global batch, on every replica
        (an all-reduce): use it for state updates, so every replica writes the same value."""
        context = tf.distribute.get_replica_context()
        total = tf.reduce_sum(tf.cast(values, tf.float32))
        count = tf.cast(tf.size(values), tf.float32)
        sums = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stack([total, count]))
        return sums[0] / sums[1]

    def assign(self, variable: tf.Variable, value: tf.Tensor) -> None:
        """`variable.assign(value)`, keeping the old value where `value` is NaN/inf (a skipped
        update must not poison the regularizer's state)."""
        value = tf.cast(value, variable.dtype)
        if not variable.dtype.is_floating:  # counters cannot be NaN
            variable.assign(value)
            return
        variable.assign(tf.where(tf.math.is_finite(value), value, variable))


class Regularizer(tf.Module):
    """Base class of every penalty and regularizer; see the module docstring.

    `weight` multiplies the values `__call__` returns (a number, or a StepSchedule on the
    GAN step clock, see `weight_at`); `interval` and `applies_to` choose the phase.
    Class attributes: `needs_logits` (uses `ctx.real_logits` / `fake_logits`, so it must
    run inside the adversarial phase: interval 1); `extra_metrics` (keys of the parts
    `__call__` may return in a `LossTerms`, logged as `<d|g>_<key>`).
    """

    needs_logits: bool = False
    extra_metrics: tuple[str, ...] = ()

    def __init__(
        self, *, weight: Any, interval: int = 1, applies_to: str = "discriminator"
    ) -> None:
        super().__init__()
        if isinstance(weight, numbers.Real) and not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"weight {weight}: must be a finite number >= 0 (0 turns it off)")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"interval={interval}: must be an integer >= 1 (k > 1: lazy)")
        if applies_to not in MODELS:
            raise ValueError(f"applies to {applies_to!r}: use {' or '.join(MODELS)}")
        self.weight = float(weight) if isinstance(weight, numbers.Real) else weight
        self.interval = int(interval)
        self.applies_to = applies_to
        # The config key (regularizer.<key>); build_regularizers sets it.
        self.key = _snake(type(self).__name__)

    @property
    def off(self) -> bool:
        """A weight of exactly 0: not built into any phase."""
        return isinstance(self.weight, float) and self.weight == 0.0

    def build(self, state: Any) -> None:
        """Create state variables (called once by GANState inside the strategy scope)."""

    def add_state(self, name: str, initial: Any, dtype: tf.DType = tf.float32) -> tf.Variable:
        """A non-trainable variable checkpointed with the run. Every replica assigns the same
        value (use `ctx.global_mean`), so the first replica's write is kept."""
        variable = tf.Variable(
            initial,
            dtype=dtype,
            trainable=False,
            name=f"{self.key}_{name}",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        setattr(self, name, variable)
        return variable

    def stream(self, tag: str) -> int:
        """A random stream id of this regularizer for `ctx.uniform` / `ctx.normal`, stable
        across runs and processes (not Python's salted hash)."""
        span = 2**31 - _FIRST_FREE_STREAM
        return _FIRST_FREE_STREAM + zlib.crc32(f"{self.key}/{tag}".encode()) % span

    def weight_at(self, step: tf.Tensor) -> float | tf.Tensor:
        """The weight at GAN step `step`: a number stays a number; a
        `gantrain.schedules.StepSchedule` gives its value at `step`."""
        if isinstance(self.weight, StepSchedule):
            return self.weight.value(step)
        return self.weight

    def __call__(self, ctx: RegularizerContext) -> tf.Tensor | LossTerms:
        """Unweighted values: per example (B,) of this replica's batch, or a scalar (this
        replica's mean, or a value every replica computes alike, such as a weight penalty).
        Both are averaged so the global batch counts once under any number of replicas."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")


def gamma_weight(
    gamma: float,
    schedule: str,
    final_gamma: float | None,
    start: int,
    total_steps: int | None,
    clock: tf.Variable | None,
) -> float | StepSchedule:
    """The weight gamma / 2 of a gradient penalty (R1, R2), or its schedule on the GAN step
    clock from gamma / 2 at step `start` to final_gamma / 2 at `total_steps`."""
    final = gamma if final_gamma is None else final_gamma
    if not final >= 0:  # also NaN
        raise ValueError(f"final_gamma={final_gamma}: must be >= 0")
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"schedule_start={start}: must be an integer >= 0")
    return build_schedule(
        schedule, gamma / 2.0, final=final / 2.0, start=start, end=total_steps, clock=clock
    )


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def build_regularizers(
    nodes: Mapping[str, Any],
    *,
    total_steps: int | None = None,
    clock: tf.Variable | None = None,
) -> list[Regularizer]:
    """The regularizers of a validated config's `regularizer` node, in config order; those
    with weight 0 are left out (0 = off, handy in sweeps).

    `total_steps` (trainer.max_steps) and `clock` (the GAN step counter) reach the
    regularizers that accept them (scheduled weights, e.g. R1's `schedule`)."""
    built = []
    for key, node in nodes.items():
        regularizer = build(node, f"regularizer.{key}", total_steps=total_steps, clock=clock)
        if not isinstance(regularizer, Regularizer):
            raise ConfigError(
                f"regularizer.{key}._target_={node._target_} did not build a "
                "gantrain.regularizers.Regularizer."
            )
        regularizer.key = str(key)
        if not regularizer.off:
            built.append(regularizer)
    return built


def lazy_interval(regularizers: list[Regularizer], applies_to: str) -> int | None:
    """The largest lazy interval of `applies_to`'s regularizers (None: no lazy phase).

    The place for the reference's lazy-phase optimizer adjustment (StyleGAN2: lr * c and
    betas ** c with c = k / (k + 1)), applied where the optimizers are built.
    """
    intervals = [r.interval for r in regularizers if r.applies_to == applies_to]
    lazy = [k for k in intervals if k > 1]
    return max(lazy) if lazy else None
