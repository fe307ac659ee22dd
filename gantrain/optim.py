"""Optimizer builders and learning-rate schedules.

Builders: `adam`, `adamw`, `rmsprop`, `sgd` (one YAML each in configs/optimizer/). Each takes
`lr` plus its own hyperparameters, range-checked here (a bad value is a ValueError that the
config builder turns into a one-line error naming the key), and a `schedule`:
`constant`, `linear` or `cosine` (constant until `decay_start`, then to `final_lr` at the
run's last step; linear as the WGAN-GP and SN-GAN reference code decay, cosine as R3GAN's
presets). Schedules (gantrain/schedules.py) count *GAN steps*: gantrain passes the run's
step counter as `clock` when it builds the optimizer (and the last step as `total_steps`),
so D with n_critic=5 decays on the same clock as G.

`adjust_for_lazy_phases` is StyleGAN2's optimizer adjustment for lazy regularization
(`lazy_ratio`), applied by gantrain/training/build.py when trainer.lazy_adjust is on.

Adam and AdamW are Keras's, with the update of a dense float32 weight done by TensorFlow's
fused `ResourceApplyAdam` kernel (`FusedAdamUpdate`): Keras's Adam, the same formula, in one
pass over the weight and its two moments instead of eleven element-wise ops with their
temporaries (2.3x faster for the default DCGAN generator's 2.3M weights on this CPU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
    beta_2_schedule: str = "constant",
    final_beta_2: float | None = None,
    beta_2_start: int = 0,
    total_steps: int | None = None,
    clock: tf.Variable | None = None,
) -> keras.optimizers.Optimizer:
    """Adam (Kingma & Ba 2015); DCGAN's beta_1=0.5 by default.

    `beta_2_schedule` (constant | linear | cosine) moves beta_2 to `final_beta_2` between
    GAN step `beta_2_start` and the last step (R3GAN: cosine 0.9 -> 0.99). `total_steps`
    (the run's trainer.max_steps) and `clock` (its GAN step counter) are passed by gantrain
    at build time.
    """
    final_beta_2 = beta_2 if final_beta_2 is None else final_beta_2
    _fraction(beta_1=beta_1, beta_2=beta_2, final_beta_2=final_beta_2)
    _positive(epsilon=epsilon)
    _non_negative(beta_2_start=beta_2_start)
    learning_rate = _learning_rate(lr, schedule, decay_start, final_lr, total_steps, clock)
    scheduled = build_schedule(
        beta_2_schedule,
        beta_2,
        final=final_beta_2,
        start=beta_2_start,
        end=total_steps,
        clock=clock,
        key="beta_2_schedule",
    )
    if isinstance(scheduled, StepSchedule):
        return ScheduledBeta2Adam(
            beta_2_schedule=scheduled, learning_rate=learning_rate, beta_1=beta_1, epsilon=epsilon
        )
    return Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)


class FusedAdamUpdate:
    """Mixin for Keras's Adam and AdamW: each dense float32 weight is updated by TensorFlow's
    fused kernel `ResourceApplyAdam` (CPU, GPU and XLA kernels), Keras's formula exactly:

        alpha = lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m += (g - m) * (1 - beta_1);  v += (g * g - v) * (1 - beta_2)
        w -= alpha * m / (sqrt(v) + epsilon)

    one pass over w, m and v where Keras's `update_step` runs eleven element-wise ops, each
    writing a temporary (measured in one process on this 2-core CPU, the default DCGAN
    generator's 2.3M weights: 4.2 ms per update against 9.8 ms). Same variables (Keras's
    `_momentums` and `_velocities`), so checkpoints and `get_config` are Keras's; AdamW's
    decay is applied by Keras before `update_step`, as before. Sparse (IndexedSlices)
    gradients, amsgrad and other dtypes take Keras's own update.
    """

    def update_step(self, gradient: tf.Tensor, variable: object, learning_rate: tf.Tensor) -> None:
        dense = not isinstance(gradient, tf.IndexedSlices)
        if not dense or self.amsgrad or variable.dtype != tf.float32:
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        momentum, velocity = self._momentums[index], self._velocities[index]
        local_step = tf.cast(self.iterations + 1, tf.float32)
        beta_1 = tf.cast(self.beta_1, tf.float32)
        beta_2 = tf.cast(self.beta_2, tf.float32)  # a tensor for the scheduled-beta_2 Adam
        # Inside Keras's distributed update each handle is this device's copy.
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(momentum),
            v=_handle(velocity),
            beta1_power=tf.pow(beta_1, local_step),
            beta2_power=tf.pow(beta_2, local_step),
            lr=tf.cast(learning_rate, tf.float32),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.constant(self.epsilon, tf.float32),
            grad=tf.cast(gradient, tf.float32),
        )


def _handle(variable: object) -> tf.Tensor:
    """The resource handle of a Keras or TensorFlow variable."""
    value = variable.value if isinstance(variable, keras.Variable) else variable
    return value.handle


@keras.saving.register_keras_serializable(package="gantrain")
class Adam(FusedAdamUpdate, keras.optimizers.Adam):
    """Keras's Adam with the fused update (`FusedAdamUpdate`)."""


@keras.saving.register_keras_serializable(package="gantrain")
class AdamW(FusedAdamUpdate, keras.optimizers.AdamW):
    """Keras's AdamW with the fused update (`FusedAdamUpdate`)."""


class ScheduledBeta2Adam(Adam):
    """Keras's Adam with beta_2 read from a schedule on the GAN step clock at every update.

    Keras's `update_step` reads `self.beta_2` both for the second-moment EMA and for its bias
    correction 1 - beta_2 ** t, as PyTorch's Adam does with the current beta2 (R3GAN's
    reference changes it in the param groups each step), so `beta_2` is a property giving
    the schedule's value: evaluated inside the compiled step from the clock variable, it needs
    no state of its own and follows a restored clock on resume. Only `adam(...)` builds it.
    """

    def __init__(self, *, beta_2_schedule: StepSchedule, **kwargs: object) -> None:
        super().__init__(beta_2=beta_2_schedule.initial, **kwargs)
        self._beta_2_schedule = beta_2_schedule
        # beta_2 = schedule ** power: 1, or the lazy-phase ratio (adjust_for_lazy_phases).
        self._beta_2_power = 1.0

    @property
    def beta_2(self) -> float | tf.Tensor:
        schedule = getattr(self, "_beta_2_schedule", None)
        if schedule is None:
            return self._beta_2_initial
        power = getattr(self, "_beta_2_power", 1.0)
        return schedule() if power == 1.0 else schedule() ** power

    @beta_2.setter
    def beta_2(self, value: float) -> None:  # Keras's __init__ sets the initial value
        self._beta_2_initial = value

    def get_config(self) -> dict:
        config = super().get_config()
        config["beta_2"] = self._beta_2_initial
        return config


def lazy_ratio(intervals: Sequence[int]) -> float:
    """The share of a model's updates that are its main phase's, with lazy phases every
    `intervals` steps: StyleGAN2's mb_ratio k / (k + 1) for one interval k.

    Several lazy intervals (a gantrain extension; the reference has one per model) give
    1 / (1 + sum 1 / k): the main updates per step over all updates per step.
    """
    if not intervals or any(k < 2 for k in intervals):
        raise ValueError(f"lazy intervals {list(intervals)}: need at least one, each >= 2")
    return 1.0 / (1.0 + sum(1.0 / k for k in intervals))


class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`factor` times another learning-rate schedule (a scheduled lr of a lazily regularized
    model is scaled at every step, as the reference scales its constant lr)."""

    def __init__(
        self, schedule: keras.optimizers.schedules.LearningRateSchedule, factor: float
    ) -> None:
        super().__init__()
        self.schedule, self.factor = schedule, float(factor)

    def __call__(self, step: tf.Tensor) -> tf.Tensor:
        return self.factor * self.schedule(step)

    def get_config(self) -> dict:
        return {"schedule": self.schedule.get_config(), "factor": self.factor}


def adjust_for_lazy_phases(optimizer: keras.optimizers.Optimizer, ratio: float) -> None:
    """StyleGAN2's lazy-regularization adjustment, in place, before `optimizer` is built:
    lr * ratio (a schedule: every value) and each decay rate beta ** ratio (training_loop.py:
    `lr * mb_ratio`, `betas = [beta ** mb_ratio ...]`), so that k main updates plus one lazy
    update move the weights and the moment estimates about as k updates did.

    Adam (AdamW, the beta_2-scheduled Adam: every value of its schedule) adjusts beta_1 and
    beta_2, as the reference; RMSprop's rho and momentum and SGD's momentum are the same
    kind of per-update decay and get the same power (the reference only uses Adam). beta 0
    stays 0. Other optimizers: TypeError.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio={ratio}: must be in (0, 1]")
    if optimizer.built:
        raise ValueError("adjust the optimizer before it is built (its lr is read at build)")
    if isinstance(optimizer, keras.optimizers.Adam):  # AdamW and ScheduledBeta2Adam too
        rates = ("beta_1",) if isinstance(optimizer, ScheduledBeta2Adam) else ("beta_1", "beta_2")
    elif isinstance(optimizer, keras.optimizers.RMSprop):
        rates = ("rho", "momentum")
    elif isinstance(optimizer, keras.optimizers.SGD):
        rates = ("momentum",)
    else:
        raise TypeError(
            f"{type(optimizer).__name__}: the lazy-phase adjustment knows Adam, AdamW, "
            "RMSprop and SGD"
        )
    # Keras's `learning_rate` property evaluates a schedule; the schedule itself is here.
    current = optimizer._learning_rate
    if isinstance(current, keras.optimizers.schedules.LearningRateSchedule):
        optimizer.learning_rate = ScaledSchedule(current, ratio)
    else:
        optimizer.learning_rate = float(keras.ops.convert_to_numpy(current)) * ratio
    for name in rates:
        setattr(optimizer, name, float(getattr(optimizer, name)) ** ratio)
    if isinstance(optimizer, ScheduledBeta2Adam):
        optimizer._beta_2_power *= ratio


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
    return AdamW(
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
