"""What each phase of a train step computes: per-example losses of D, lazy penalties and G.

A step is a list of `Phase`s (stylegan2-ada's phases): each names the model it updates, its
optimizer, how often it runs (`interval`: on steps where step % interval == 0) and how many
updates it makes when it runs (`repeats`: n_critic for D). `PhaseLosses` holds the functions
that compute the phases' `LossTerms` on one replica; the step (step.py) owns the tapes, the
updates and the reductions.

Randomness is stateless and keyed by (seed, step, slot): every phase update has its own slot,
and within a slot the latents, fake labels, gradient-penalty alphas and augmentations use
separate streams. Values are drawn for the *global* batch and each replica takes its rows, so
a run's random stream does not depend on the number of replicas and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import tensorflow as tf

from gantrain.losses.adversarial import AdversarialLoss, LossTerms, Penalty, classification
from gantrain.losses.penalties import gradient_penalty, r1_penalty
from gantrain.training.augment import NUM_UNIFORMS, diff_augment
from gantrain.training.state import GANState

Batch = dict[str, tf.Tensor]

# Streams within a slot (the latents use the slot's seed itself, stream 0).
_LABELS, _ALPHA, _AUGMENT_REAL, _AUGMENT_FAKE, _AUGMENT_PENALTY = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Phase:
    """One kind of update. `loss(batches, slot) -> LossTerms` runs on one replica.

    Metrics are logged as `<prefix>_loss` plus the terms' parts. A phase with interval > 1
    lists them in `metric_names` (the step reports them on the steps it does not run, too).
    Repeats read one real batch each (the first is the step's first batch, which the other
    phases read).
    """

    name: str
    prefix: str
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    interval: int
    repeats: int
    first_slot: int
    loss: Callable[[Batch, int], LossTerms]
    metric_names: tuple[str, ...] = ()


class PhaseLosses:
    """The loss computations of every phase for `state` and `loss`, on one replica."""

    def __init__(
        self,
        state: GANState,
        loss: AdversarialLoss,
        *,
        global_batch_size: int,
        slots_per_step: int,
        augment: Sequence[str] = (),
    ) -> None:
        self.state = state
        self.loss = loss
        self.global_batch_size = global_batch_size
        self.slots_per_step = slots_per_step
        self.augment = tuple(augment)
        self.num_classes = state.num_classes
        discriminator = state.discriminator
        self.d_takes_labels = int(getattr(discriminator, "num_classes", 0)) > 0
        self.d_classifies = int(getattr(discriminator, "auxiliary_classes", 0)) > 0

    # -- randomness ----------------------------------------------------------------------

    def _seed(self, slot: int, stream: int = 0) -> tf.Tensor:
        word = self.slots_per_step * self.state.step + tf.cast(slot, tf.int64)
        seed = tf.stack([self.state.seed, word])
        if stream:
            seed = tf.random.experimental.stateless_fold_in(seed, stream)
        return seed

    def _rows(self, values: tf.Tensor) -> tf.Tensor:
        """This replica's rows of a tensor drawn for the global batch."""
        context = tf.distribute.get_replica_context()
        per_replica = self.global_batch_size // context.num_replicas_in_sync
        start = context.replica_id_in_sync_group * per_replica
        return values[start : start + per_replica]

    def latents(self, slot: int) -> tf.Tensor:
        """(B, latent_dim) float32 standard normal latents of this replica."""
        z = tf.random.stateless_normal(
            [self.global_batch_size, self.state.latent_dim], seed=self._seed(slot)
        )
        return self._rows(z)

    def fake_labels(self, slot: int) -> tf.Tensor | None:
        """(B,) int32 class labels uniform in [0, num_classes), or None (unconditional G)."""
        if not self.num_classes:
            return None
        labels = tf.random.stateless_uniform(
            [self.global_batch_size],
            seed=self._seed(slot, _LABELS),
            maxval=self.num_classes,
            dtype=tf.int32,
        )
        return self._rows(labels)

    def _uniforms(self, slot: int, stream: int, width: int) -> tf.Tensor:
        u = tf.random.stateless_uniform(
            [self.global_batch_size, width], seed=self._seed(slot, stream)
        )
        return self._rows(u)

    # -- model calls ---------------------------------------------------------------------

    def generate(self, z: tf.Tensor, labels: tf.Tensor | None) -> tf.Tensor:
        inputs = z if labels is None else [z, labels]
        return self.state.generator(inputs, training=True)

    def discriminate(
        self, images: tf.Tensor, labels: tf.Tensor | None, slot: int, stream: int
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        """(logits (B, 1), class logits (B, K) or None) of D on DiffAugmented images."""
        if self.augment:
            images = diff_augment(images, self.augment, self._uniforms(slot, stream, NUM_UNIFORMS))
        inputs = [images, labels] if self.d_takes_labels else images
        outputs = self.state.discriminator(inputs, training=True)
        if self.d_classifies:
            return outputs[0], outputs[1]
        return outputs, None

    def _critic(self, labels: tf.Tensor | None, slot: int) -> Callable[[tf.Tensor], tf.Tensor]:
        return lambda images: self.discriminate(images, labels, slot, _AUGMENT_PENALTY)[0]

    # -- phases --------------------------------------------------------------------------

    def _penalty_terms(
        self, batch: Batch, make_fake: Callable[[], tf.Tensor], slot: int, weighted
    ) -> LossTerms:
        """Sum of `weighted` [(penalty, weight)] per example; fakes only for the GP."""
        real, labels = batch["image"], batch["label"]
        critic = self._critic(labels if self.d_takes_labels else None, slot)
        total = tf.zeros_like(real[:, 0, 0, 0], tf.float32)
        parts = {}
        for penalty, weight in weighted:
            if penalty.kind == "gradient_penalty":
                alpha = self._uniforms(slot, _ALPHA, 1)[:, 0]
                value = gradient_penalty(critic, real, make_fake(), alpha)
            else:
                value = r1_penalty(critic, real)
            parts[f"d_{penalty.kind}"] = value
            total += weight * value
        return LossTerms(loss=total, parts=parts)

    def discriminator(self, batch: Batch, slot: int) -> LossTerms:
        """D's adversarial loss (+ ACGAN class loss, + the penalties that run every step)."""
        fake_labels = self.fake_labels(slot)
        fake = self.generate(self.latents(slot), fake_labels)
        real_labels = batch["label"]
        real_logits, real_classes = self.discriminate(
            batch["image"], real_labels, slot, _AUGMENT_REAL
        )
        fake_logits, fake_classes = self.discriminate(fake, fake_labels, slot, _AUGMENT_FAKE)
        terms = self.loss.discriminator(real_logits, fake_logits)
        total, parts = terms.loss, dict(terms.parts)
        if real_classes is not None:
            class_loss = classification(real_classes, real_labels) + classification(
                fake_classes, fake_labels
            )
            total += self.loss.class_weight_discriminator * class_loss
            parts["d_class_loss"] = class_loss
            hits = tf.equal(tf.argmax(real_classes, axis=1, output_type=tf.int32), real_labels)
            parts["d_class_accuracy"] = tf.cast(hits, tf.float32)
        every_step = [(p, p.weight) for p in self.loss.penalties if p.interval == 1]
        if every_step:
            penalty = self._penalty_terms(batch, lambda: fake, slot, every_step)
            total += penalty.loss
            parts.update(penalty.parts)
        return LossTerms(loss=total, parts=parts)

    def lazy_penalties(self, penalties: Sequence[Penalty]) -> Callable[[Batch, int], LossTerms]:
        """The loss of a lazy regularization phase: penalties with weight * interval."""

        def loss(batch: Batch, slot: int) -> LossTerms:
            def make_fake() -> tf.Tensor:
                return self.generate(self.latents(slot), self.fake_labels(slot))

            weighted = [(p, p.weight * p.interval) for p in penalties]
            return self._penalty_terms(batch, make_fake, slot, weighted)

        return loss

    def generator(self, batch: Batch, slot: int) -> LossTerms:
        """G's adversarial loss (+ ACGAN class loss on its requested labels)."""
        labels = self.fake_labels(slot)
        fake_logits, fake_classes = self.discriminate(
            self.generate(self.latents(slot), labels), labels, slot, _AUGMENT_FAKE
        )
        real_logits = None
        if self.loss.generator_needs_real:
            real_logits, _ = self.discriminate(batch["image"], batch["label"], slot, _AUGMENT_REAL)
        terms = self.loss.generator(fake_logits, real_logits)
        if fake_classes is None:
            return terms
        class_loss = classification(fake_classes, labels)
        return LossTerms(
            loss=terms.loss + self.loss.class_weight_generator * class_loss,
            parts={**terms.parts, "g_class_loss": class_loss},
        )


def build_phases(state: GANState, losses: PhaseLosses, *, n_critic: int) -> list[Phase]:
    """D (n_critic updates, each on its own real batch), lazy penalties, then G.

    Slots: D repeats use 0..n_critic-1 and G uses n_critic, so the default (n_critic=1) keeps
    D = 0 and G = 1; the lazy phase, when there is one, comes last.
    """
    d = {"model": state.discriminator, "optimizer": state.d_optimizer, "interval": 1, "repeats": 1}
    phases = [
        Phase(
            **{**d, "repeats": n_critic},
            name="discriminator",
            prefix="d",
            first_slot=0,
            loss=losses.discriminator,
        )
    ]
    lazy = [p for p in losses.loss.penalties if p.interval > 1]
    if len({p.interval for p in lazy}) > 1:
        raise ValueError("lazy penalties must share one interval")
    if lazy:
        phases.append(
            Phase(
                **{**d, "interval": lazy[0].interval},
                name="discriminator_regularization",
                prefix="d_reg",
                first_slot=n_critic + 1,
                loss=losses.lazy_penalties(lazy),
                metric_names=("d_reg_loss", *(f"d_{p.kind}" for p in lazy)),
            )
        )
    phases.append(
        Phase(
            name="generator",
            prefix="g",
            model=state.generator,
            optimizer=state.g_optimizer,
            interval=1,
            repeats=1,
            first_slot=n_critic,
            loss=losses.generator,
        )
    )
    return phases


def slots_per_step(n_critic: int) -> int:
    """Seed slots reserved per step: at least 8, as before n_critic existed (same streams)."""
    return max(8, n_critic + 2)
