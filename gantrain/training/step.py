"""The compiled train step: D phase then G phase, `steps_per_loop` steps per tf.function call.

The step changes only variables `GANState` owns, returns a dict of scalar tensors and does no
I/O. Latents are drawn with stateless RNG keyed by (seed, step, phase) for the *global* batch,
and each replica takes its slice, so a run's random stream does not depend on the number of
replicas and resumes exactly from the step counter.
"""

from __future__ import annotations

import tensorflow as tf

from gantrain.losses.adversarial import AdversarialLoss, LossTerms
from gantrain.training import precision
from gantrain.training.nonfinite import apply_if_finite
from gantrain.training.state import GANState
from gantrain.training.xla import compile_error, compiled

Metrics = dict[str, tf.Tensor]

# Phases of one step, as the second word of the stateless latent seed: 8 * step + phase.
PHASE_D, PHASE_G = 0, 1


class TrainStep:
    """Callable `(iterator, num_steps) -> metrics` running `num_steps` GAN steps in one call.

    `global_batch_size` is the batch over all replicas; per-example losses are averaged over
    it with `tf.nn.compute_average_loss`, so summing the replicas' values gives the global mean
    under any strategy (and the plain mean under the default one).
    """

    def __init__(
        self,
        state: GANState,
        loss: AdversarialLoss,
        strategy: tf.distribute.Strategy,
        *,
        global_batch_size: int,
        steps_per_loop: int,
        jit_compile: bool = False,
    ) -> None:
        self.state = state
        self.loss = loss
        self.strategy = strategy
        self.global_batch_size = global_batch_size
        self.steps_per_loop = steps_per_loop
        self.jit_compile = jit_compile
        # XLA compiles the per-replica step only: the iterator read around it is no XLA op.
        self._replica_fn = compiled(self._replica_step, jit_compile)
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
        per_replica = self.strategy.run(self._replica_fn, args=(next(iterator),))
        return {
            name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in per_replica.items()
        }

    def _many_steps(
        self, iterator: tf.distribute.DistributedIterator, num_steps: tf.Tensor
    ) -> Metrics:
        metrics = self._one_step(iterator)
        for _ in tf.range(num_steps - 1):
            metrics = self._one_step(iterator)
        return metrics

    def _latents(self, phase: int) -> tf.Tensor:
        """This replica's slice of the global batch of latents for `phase` of the current step."""
        seed = tf.stack([self.state.seed, 8 * self.state.step + phase])
        z = tf.random.stateless_normal([self.global_batch_size, self.state.latent_dim], seed=seed)
        context = tf.distribute.get_replica_context()
        per_replica = self.global_batch_size // context.num_replicas_in_sync
        start = context.replica_id_in_sync_group * per_replica
        return z[start : start + per_replica]

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
        variables = model.trainable_variables
        # Scaled by the loss scale under mixed_float16; apply_gradients unscales (precision.py).
        grads = precision.gradients(tape, loss, variables, optimizer)
        # Not applied when `loss` is NaN/inf on any replica (trainer.on_nan, nonfinite.py).
        apply_if_finite(self.state, loss, optimizer, grads, variables)

    def _discriminator_phase(self, batch: dict[str, tf.Tensor]) -> Metrics:
        G, D = self.state.generator, self.state.discriminator
        fake = G(self._latents(PHASE_D), training=True)
        with tf.GradientTape() as tape:
            real_logits = D(batch["image"], training=True)
            fake_logits = D(fake, training=True)
            loss, metrics = self._average(self.loss.discriminator(real_logits, fake_logits), "d")
            loss += self._regularization(D)
        self._update(tape, loss, D, self.state.d_optimizer)
        return metrics

    def _generator_phase(self, batch: dict[str, tf.Tensor]) -> Metrics:
        G, D = self.state.generator, self.state.discriminator
        with tf.GradientTape() as tape:
            fake_logits = D(G(self._latents(PHASE_G), training=True), training=True)
            real_logits = None
            if self.loss.generator_needs_real:
                real_logits = D(batch["image"], training=True)
            loss, metrics = self._average(self.loss.generator(fake_logits, real_logits), "g")
            loss += self._regularization(G)
        self._update(tape, loss, G, self.state.g_optimizer)
        return metrics

    def _replica_step(self, batch: dict[str, tf.Tensor]) -> Metrics:
        metrics = self._discriminator_phase(batch)
        metrics.update(self._generator_phase(batch))
        self.state.step.assign_add(1)
        return metrics
