"""The compiled train step: its phases in order, `steps_per_loop` steps per tf.function call.

A step runs D `n_critic` times (each on its own real batch), D's lazy regularization phases
on the steps they are due, then G and its lazy phases (see phases.py), then updates the
generator's EMA. It changes only variables `GANState` owns, returns a dict of scalar tensors
and does no I/O. Latents, labels and augmentations are drawn statelessly from (seed, step,
slot) for the *global* batch, and each replica takes its slice, so a run's random stream does
not depend on the number of replicas and resumes exactly from the step counter.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import keras
import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.losses.adversarial import AdversarialLoss, LossTerms
from gantrain.training import precision
from gantrain.training.augmentation import Augmentation
from gantrain.training.ema import EmaRate, update_ema
from gantrain.training.nonfinite import apply_if_finite
from gantrain.training.phases import Phase, PhaseLosses, build_phases, slots_per_step
from gantrain.training.state import GANState
from gantrain.training.xla import compile_error, compiled

Metrics = dict[str, tf.Tensor]

log = logging.getLogger("gantrain")


class TrainStep:
    """Callable `(iterator, num_steps) -> metrics` running `num_steps` GAN steps in one call.

    `global_batch_size` is the batch over all replicas; per-example losses are averaged over
    it with `tf.nn.compute_average_loss`, so summing the replicas' values gives the global mean
    under any strategy (and the plain mean under the default one). Each step reads
    `batches_per_step` (= n_critic) batches from the iterator. `clip_norm` > 0 clips each
    update's gradients to that global norm; `augment` is a DiffAugment policy; `ema_decay` > 0
    (or an `ema_rate`, e.g. a half-life in images) needs `state.generator_ema`; `jit_compile`
    XLA-compiles each phase's per-replica update.

    `update="alternating"` runs the phases in order (G's loss sees the D just updated, with a
    fresh generator forward); `"simultaneous"` is the origin's step: one generator forward,
    D's and G's losses and gradients from it at the same parameters, then both optimizers
    (`PhaseLosses.simultaneous`). It has no room for extra updates: with n_critic > 1 or lazy
    regularization phases the step alternates and logs one line saying so (`_check_update`).
    `fused_d_pass` scores real and fake in one D call (refused for a D with batch statistics).
    """

    def __init__(
        self,
        state: GANState,
        loss: AdversarialLoss,
        strategy: tf.distribute.Strategy,
        *,
        global_batch_size: int,
        steps_per_loop: int,
        n_critic: int = 1,
        clip_norm: float = 0.0,
        augment: Sequence[str] | Augmentation = (),
        ema_decay: float = 0.0,
        ema_start: int = 0,
        ema_rate: EmaRate | None = None,
        jit_compile: bool = False,
        update: str = "alternating",
        fused_d_pass: bool = False,
    ) -> None:
        self.state = state
        self.loss = loss
        self.strategy = strategy
        self.global_batch_size = global_batch_size
        self.steps_per_loop = steps_per_loop
        self.batches_per_step = n_critic
        self.clip_norm = clip_norm
        if ema_rate is None:
            ema_rate = EmaRate(decay=ema_decay, start=ema_start)
        self.ema = ema_rate if ema_rate.on else None
        if self.ema and state.generator_ema is None:
            raise ValueError("an EMA needs a GANState built with a generator_ema")
        losses = PhaseLosses(
            state,
            loss,
            global_batch_size=global_batch_size,
            slots_per_step=slots_per_step(n_critic, state.regularizers),
            augment=augment,
            fused_d_pass=fused_d_pass,
        )
        self.phases = build_phases(state, losses, n_critic=n_critic)
        self.losses = losses
        self.augmentation = losses.augmentation
        self.simultaneous = _check_update(update, self.phases, n_critic)
        self.jit_compile = jit_compile
        # Under XLA on one replica the NaN guard restores instead of branching (nonfinite.py).
        self._branch_free = jit_compile and strategy.num_replicas_in_sync == 1
        # XLA compiles the per-replica updates only: the iterator reads and the loops around
        # them are no XLA ops.
        self._replica_fns = {
            phase.name: compiled(functools.partial(self._update_once, phase), jit_compile)
            for phase in self.phases
        }
        self._simultaneous_fn = compiled(self._update_both, jit_compile)
        # Metrics of phases that do not run every step show their value from the last step
        # they ran (not checkpointed: 0 after a resume until the phase runs again).
        self._held = {
            name: tf.Variable(0.0, trainable=False, name=f"held_{name}")
            for phase in self.phases
            if phase.interval > 1
            for name in phase.metric_names
        }
        # With one step per call there is no inner loop at all: nothing to pay for it.
        self._function = tf.function(self._one_step if steps_per_loop == 1 else self._many_steps)

    def __call__(self, iterator: tf.distribute.DistributedIterator, num_steps: int) -> Metrics:
        try:
            if self.steps_per_loop == 1:
                return self._function(iterator)
            return self._function(iterator, tf.constant(num_steps, tf.int32))
        except tf.errors.OpError as error:
            problem = compile_error(error) if self.jit_compile else None
            if problem is None:
                raise
            raise problem from error

    # -- compiled parts ------------------------------------------------------------------

    def _one_step(self, iterator: tf.distribute.DistributedIterator) -> Metrics:
        first_batch = next(iterator)
        metrics: Metrics = {}
        if self.simultaneous:
            metrics = self._reduce(self.strategy.run(self._simultaneous_fn, (first_batch,)))
        else:
            for phase in self.phases:
                metrics.update(self._run_phase(phase, iterator, first_batch))
        # Cross-replica context: one assignment updates every replica's copy.
        self.state.step.assign_add(1)
        self.augmentation.after_step(self.state.step, self.global_batch_size)
        metrics.update(self.augmentation.metrics(self.state.step - 1))
        if self.ema:
            state = self.state
            update_ema(
                state.generator_ema,
                state.generator,
                decay=self.ema(state.step),
                step=state.step,
                start=self.ema.start,
            )
        return self._hold_lazy_metrics(metrics)

    def _many_steps(
        self, iterator: tf.distribute.DistributedIterator, num_steps: tf.Tensor
    ) -> Metrics:
        metrics = self._one_step(iterator)
        for _ in tf.range(num_steps - 1):
            metrics = self._one_step(iterator)
        return metrics

    def _hold_lazy_metrics(self, metrics: Metrics) -> Metrics:
        if not self._held:
            return metrics
        ran_at = self.state.step - 1  # the step counter has moved past the step that ran
        for phase in self.phases:
            if phase.interval == 1:
                continue
            due = tf.equal(ran_at % phase.interval, 0)
            for name in phase.metric_names:
                held = self._held[name]
                held.assign(tf.where(due, metrics[name], held))
                metrics[name] = held.read_value()
        return metrics

    def _average(self, terms: LossTerms, prefix: str) -> tuple[tf.Tensor, Metrics]:
        loss = tf.nn.compute_average_loss(terms.loss, global_batch_size=self.global_batch_size)
        metrics = {f"{prefix}_loss": loss}
        for name, value in terms.parts.items():
            metrics[name] = tf.nn.compute_average_loss(
                tf.cast(value, tf.float32), global_batch_size=self.global_batch_size
            )
        return loss, metrics

    def _regularization(self, model: tf.keras.Model) -> tf.Tensor | float:
        """`model`'s Keras weight penalties (`kernel_regularizer=...`), counted once in total.

        Every replica computes the whole penalty; `scale_regularization_loss` divides it by the
        replica count, so the gradients summed over replicas hold it once, as on one device.
        Not part of the logged `d_loss`/`g_loss` (those are the adversarial losses).
        """
        if not model.losses:
            return 0.0
        return tf.nn.scale_regularization_loss(tf.add_n(model.losses))

    def _update(
        self,
        tape: tf.GradientTape,
        loss: tf.Tensor,
        model: tf.keras.Model,
        optimizer: tf.keras.optimizers.Optimizer,
    ) -> None:
        """The one place gradients are computed and applied (loss scaling, clipping go here)."""
        self._apply(loss, optimizer, self._gradients(tape, loss, model, optimizer))

    def _gradients(
        self,
        tape: tf.GradientTape,
        loss: tf.Tensor,
        model: tf.keras.Model,
        optimizer: tf.keras.optimizers.Optimizer,
    ) -> list[tuple[tf.Tensor, tf.Variable]]:
        """(gradient, variable) pairs of `model` for `loss`, clipped if asked."""
        variables = model.trainable_variables
        # Scaled by the loss scale under mixed_float16; apply_gradients unscales (precision.py).
        grads = precision.gradients(tape, loss, variables, optimizer)
        if self.clip_norm:
            grads = self._clip(grads, optimizer)
        # A penalty-only phase leaves some variables without a gradient (D's last bias in R1).
        return [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]

    def _apply(
        self,
        loss: tf.Tensor,
        optimizer: tf.keras.optimizers.Optimizer,
        kept: list[tuple[tf.Tensor, tf.Variable]],
    ) -> None:
        # Not applied when `loss` is NaN/inf on any replica (trainer.on_nan, nonfinite.py).
        apply_if_finite(
            self.state,
            loss,
            optimizer,
            [g for g, _ in kept],
            [v for _, v in kept],
            branch_free=self._branch_free,
        )

    def _clip(self, grads: list, optimizer: tf.keras.optimizers.Optimizer) -> list:
        """Clip to `clip_norm` (global norm). Loss-scaled gradients are clipped at the scaled
        norm, which clips the true gradient at `clip_norm`; an overflow stays non-finite, so
        the loss-scale optimizer still skips it. Per replica: with several replicas this
        clips each replica's share of the summed gradient."""
        limit = tf.constant(self.clip_norm, tf.float32)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            limit *= tf.cast(tf.convert_to_tensor(optimizer.dynamic_scale), tf.float32)
        clipped, _ = tf.clip_by_global_norm(grads, limit)
        return clipped

    def _update_once(self, phase: Phase, batch: dict[str, tf.Tensor], slot) -> Metrics:
        """One update of `phase.model` on this replica's part of `batch`."""
        # Watch only the updated model: the other model's forward pass (G inside the D phase)
        # is not recorded, as if it ran outside the tape.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([v.value for v in phase.model.trainable_variables])
            terms = phase.loss(batch, slot)
            loss, metrics = self._average(terms, phase.prefix)
            loss += self._regularization(phase.model)
        self._update(tape, loss, phase.model, phase.optimizer)
        return metrics

    def _update_both(self, batch: dict[str, tf.Tensor]) -> Metrics:
        """trainer.update=simultaneous on this replica: D's and G's gradients from one
        forward pass (`PhaseLosses.simultaneous`, D's slot), computed before either
        optimizer moves, then G's and D's updates (the origin's order)."""
        d_phase, g_phase = self.phases  # _check_update allows no other phase
        state = self.state
        # One tape per model, each watching only its model's weights: D's tape holds D's
        # passes, G's tape G's forward and D's pass on the fakes (what G's gradient needs).
        with (
            tf.GradientTape(watch_accessed_variables=False) as d_tape,
            tf.GradientTape(watch_accessed_variables=False) as g_tape,
        ):
            d_tape.watch([v.value for v in state.discriminator.trainable_variables])
            g_tape.watch([v.value for v in state.generator.trainable_variables])
            d_terms, g_terms = self.losses.simultaneous(batch, d_phase.first_slot)
            d_loss, metrics = self._average(d_terms, d_phase.prefix)
            g_loss, g_metrics = self._average(g_terms, g_phase.prefix)
            d_loss += self._regularization(state.discriminator)
            g_loss += self._regularization(state.generator)
        d_grads = self._gradients(d_tape, d_loss, state.discriminator, state.d_optimizer)
        g_grads = self._gradients(g_tape, g_loss, state.generator, state.g_optimizer)
        self._apply(g_loss, state.g_optimizer, g_grads)
        self._apply(d_loss, state.d_optimizer, d_grads)
        return {**metrics, **g_metrics}

    def _reduce(self, per_replica: Metrics) -> Metrics:
        return {
            name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in per_replica.items()
        }

    def _update_on_replicas(self, phase: Phase, batch, slot) -> Metrics:
        slot = tf.cast(slot, tf.int64)  # a tensor always: one trace per phase, XLA or not
        return self._reduce(self.strategy.run(self._replica_fns[phase.name], (batch, slot)))

    def _updates(self, phase: Phase, iterator, first_batch) -> Metrics:
        """`phase.repeats` updates of `phase.model`; the metrics of the last one.

        The first update reads the step's first batch, later ones (n_critic) read a batch
        each. They run in a graph loop, so n_critic=5 traces two D updates, not five.
        """
        metrics = self._update_on_replicas(phase, first_batch, phase.first_slot)
        if phase.repeats > 1:
            for repeat in tf.range(1, phase.repeats):
                metrics = self._update_on_replicas(phase, next(iterator), phase.first_slot + repeat)
        return metrics

    def _run_phase(self, phase: Phase, iterator, first_batch) -> Metrics:
        # Control flow stays in the cross-replica context, around `strategy.run`: under
        # MirroredStrategy a synchronization point (the gradient all-reduce) may not sit
        # inside a loop or a condition within the replica function.
        if phase.interval == 1:
            return self._updates(phase, iterator, first_batch)
        due = tf.equal(self.state.step % phase.interval, 0)
        return tf.cond(
            due,
            lambda: self._updates(phase, iterator, first_batch),
            lambda: {name: tf.constant(0.0) for name in phase.metric_names},
        )


def _check_update(update: str, phases: Sequence[Phase], n_critic: int) -> bool:
    """True when this step runs trainer.update=simultaneous.

    Where simultaneous cannot hold (several D updates per G update, lazy regularization
    phases with their own updates) the step alternates instead and says so in one line at
    startup: the fallback is never silent. An unknown scheme is a ConfigError."""
    if update == "alternating":
        return False
    if update != "simultaneous":
        raise ConfigError(f"trainer.update={update!r}: choose alternating or simultaneous.")
    why = []
    if n_critic != 1:
        why.append(f"trainer.n_critic={n_critic} asks for several D updates per G update")
    lazy = [phase.name for phase in phases if phase.interval > 1]
    if lazy:
        why.append(f"the lazy regularization phase(s) {', '.join(lazy)} take their own updates")
    if why:
        log.warning(
            "trainer.update=simultaneous cannot hold here (%s): this run alternates (D "
            "updates, then G through the updated D); set trainer.update=alternating to say so",
            "; ".join(why),
        )
        return False
    return True
