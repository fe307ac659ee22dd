"""NaN/inf losses: the update of a phase whose loss is not finite is never applied.

Inside the compiled step, `apply_if_finite` replaces `optimizer.apply_gradients`: when the
phase's loss is NaN or inf on any replica, no replica applies the update (weights, optimizer
slots and its iteration count stay as they were), and the state counts it
(`GANState.skipped_updates`, `GANState.last_nonfinite_step`). After each train call the loop
asks `NonFiniteMonitor.check` what to do per `trainer.on_nan`: `stop` raises `NonFiniteLossError`
before any callback runs, so no checkpoint holds the diverged state; `skip` logs and goes on.

Only the loss is checked, not the gradients: under mixed_float16 the loss-scale optimizer
expects (and handles) overflowing scaled gradients, and must see them to lower its scale.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from gantrain.errors import NonFiniteLossError
from gantrain.training.state import GANState

log = logging.getLogger("gantrain")

ON_NAN_MODES = ("stop", "skip")


def apply_if_finite(
    state: GANState,
    loss: tf.Tensor,
    optimizer: Any,
    grads: list[tf.Tensor],
    variables: list[tf.Variable],
    *,
    branch_free: bool = False,
) -> None:
    """`optimizer.apply_gradients(zip(grads, variables))` unless `loss` is not finite.

    Call in replica context. `loss` is this replica's share of the phase loss; the decision
    is all-reduced so every replica takes the same branch (a replica that applied alone
    would wait forever in the gradient all-reduce, or drift from the others).

    `branch_free` (for XLA on one replica): apply, then put back what the update changed
    when the loss was not finite, instead of a tf.cond around the update. XLA on CPU runs a
    conditional update about 8x slower than the whole train step without it (measured with
    `scripts/benchmark.py --setting xla`); copying the weights and slots costs far less.
    """
    context = tf.distribute.get_replica_context()
    bad_here = tf.cast(tf.logical_not(tf.math.is_finite(loss)), tf.int32)
    finite = tf.equal(context.all_reduce(tf.distribute.ReduceOp.SUM, bad_here), 0)
    if branch_free:
        _apply_or_restore(state, finite, optimizer, grads, variables)
        return

    def apply() -> None:
        optimizer.apply_gradients(zip(grads, variables, strict=True))

    def skip() -> None:
        state.skipped_updates.assign_add(1)
        # state.step counts finished steps; this is the step being computed (1-based).
        state.last_nonfinite_step.assign(state.step + 1)

    if tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(finite, apply, skip)
        return

    # Strategies that synchronize through merge_call (MirroredStrategy) cannot have a branch
    # in replica context that merges (apply_gradients does): branch in cross-replica context,
    # as Keras's LossScaleOptimizer does.
    def cross_replica(distribution: tf.distribute.Strategy, finite, grads) -> None:
        decided = distribution.experimental_local_results(finite)[0]

        def apply_everywhere() -> None:
            distribution.extended.call_for_each_replica(
                lambda g: optimizer.apply_gradients(zip(g, variables, strict=True)),
                args=(grads,),
            )

        tf.cond(decided, apply_everywhere, skip)

    context.merge_call(cross_replica, args=(finite, grads))


def _apply_or_restore(
    state: GANState,
    finite: tf.Tensor,
    optimizer: Any,
    grads: list[tf.Tensor],
    variables: list[tf.Variable],
) -> None:
    """Apply the update, then restore every variable it touched unless `finite`."""
    # The model's variables and all of the optimizer's (slots, iteration count, loss scale).
    touched = [*variables, *optimizer.variables]
    before = [tf.identity(v.value) for v in touched]
    optimizer.apply_gradients(zip(grads, variables, strict=True))
    for variable, old in zip(touched, before, strict=True):
        variable.assign(tf.where(finite, variable.value, old))
    skipped = tf.logical_not(finite)
    state.skipped_updates.assign_add(tf.cast(skipped, state.skipped_updates.dtype))
    state.last_nonfinite_step.assign(
        tf.where(
            skipped,
            tf.cast(state.step + 1, state.last_nonfinite_step.dtype),
            state.last_nonfinite_step,
        )
    )


class NonFiniteMonitor:
    """Reacts, after each train call, to updates the step skipped since the previous call."""

    def __init__(self, state: GANState, on_nan: str, *, latest_checkpoint: Any) -> None:
        """`latest_checkpoint()` names the checkpoint a stopped run would resume from."""
        if on_nan not in ON_NAN_MODES:
            raise ValueError(f"on_nan={on_nan!r}")
        self.state = state
        self.on_nan = on_nan
        self.latest_checkpoint = latest_checkpoint
        self.seen = int(state.skipped_updates.numpy())

    def check(self, metrics: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Raise (stop) or log (skip) new skipped updates; returns the metrics to log."""
        total = int(self.state.skipped_updates.numpy())
        new, self.seen = total - self.seen, total
        if new == 0:
            return dict(metrics) if self.on_nan == "stop" else self._with_count(metrics)
        step = int(self.state.last_nonfinite_step.numpy())
        values = ", ".join(f"{k}={float(v.numpy()):.4g}" for k, v in metrics.items())
        if self.on_nan == "stop":
            raise NonFiniteLossError(
                f"step {step}: a loss is NaN or inf (last values: {values}); training stopped "
                "without saving the diverged state, the latest checkpoint is "
                f"{self.latest_checkpoint() or 'none'}. Lower the learning rates, or set "
                "trainer.on_nan=skip to skip such updates."
            )
        log.warning(
            "step %d: skipped %d update(s) with a NaN/inf loss (%d in this run); last values: %s",
            step,
            new,
            total,
            values,
        )
        return self._with_count(metrics)

    def _with_count(self, metrics: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        # With on_nan=skip, stats.jsonl and TensorBoard get the running count.
        return {**metrics, "skipped_updates": self.state.skipped_updates.read_value()}
