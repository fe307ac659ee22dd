"""`trainer.precision`: the Keras dtype policy of a run, and loss scaling for float16.

float32 (default): everything in float32. mixed_float16: layers compute in float16 with
float32 variables; both optimizers are wrapped in a `LossScaleOptimizer`, each with its own
dynamic scale, so an overflow in the D step skips only D's update (and halves D's scale) and
never touches G's, and vice versa. mixed_bfloat16: bfloat16 compute, no loss scaling needed
(bfloat16 has float32's range). Images leaving G and logits leaving D stay float32 (the
architectures declare their last layer's dtype; `check_float32_outputs` enforces it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import keras
import tensorflow as tf

from gantrain.errors import ConfigError


@contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set Keras's global dtype policy to `name` for the block, then put the old one back.

    The policy is process-global: multirun jobs share the process, and a job after a
    mixed_float16 one must not build its models in float16.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def with_loss_scaling(
    optimizer: keras.optimizers.Optimizer, precision: str
) -> keras.optimizers.Optimizer:
    """`optimizer` wrapped in a LossScaleOptimizer under mixed_float16, else unchanged."""
    if precision != "mixed_float16" or isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def check_float32_outputs(model: keras.Model, where: str) -> None:
    """Fail unless every output of `model` is float32 (losses and images need full range)."""
    outputs = getattr(model, "outputs", None)
    if not outputs:  # a subclassed model declares no symbolic outputs to check
        return
    dtypes = sorted({keras.backend.standardize_dtype(t.dtype) for t in outputs})
    if dtypes != ["float32"]:
        raise ConfigError(
            f"{where} {model.name} outputs {', '.join(dtypes)}; its last layer must compute in "
            'float32 (dtype="float32") so trainer.precision=mixed_* keeps images and logits '
            "in full precision."
        )


def gradients(
    tape: tf.GradientTape,
    loss: tf.Tensor,
    variables: Sequence[tf.Variable],
    optimizer: keras.optimizers.Optimizer,
) -> list[tf.Tensor | None]:
    """d loss / d variables; scaled by the loss scale when `optimizer` scales losses.

    For a LossScaleOptimizer the result is the gradient of `optimizer.scale_loss(loss)`,
    computed by seeding backpropagation with the scale (`output_gradients`) instead of
    recording the product on the tape: the same numbers, with no need to scale inside the
    tape. `optimizer.apply_gradients` divides the scale out and skips the step on inf/NaN.
    """
    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return tape.gradient(loss, variables)
    scale = tf.cast(tf.convert_to_tensor(optimizer.dynamic_scale), loss.dtype)
    return _agree_on_overflow(tape.gradient(loss, variables, output_gradients=scale))


def _agree_on_overflow(grads: list[tf.Tensor | None]) -> list[tf.Tensor | None]:
    """Make every replica see an overflow if any replica has one.

    Keras's LossScaleOptimizer checks for inf/NaN in each replica's gradients *before* they
    are summed over replicas and then follows one replica's verdict (or each its own): one
    replica's overflow could reach the weights through the sum, or replicas could disagree
    on skipping. Turning all replicas' gradients to NaN when any has one makes the check
    agree, so the step is skipped everywhere.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return grads
    present = [g for g in grads if g is not None]
    finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in present])
    overflowed = context.all_reduce(tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(finite, tf.float32))
    poison = tf.where(overflowed > 0, float("nan"), 0.0)
    return [None if g is None else g + tf.cast(poison, g.dtype) for g in grads]
