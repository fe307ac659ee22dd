"""What each phase of a train step computes: D, G and their regularizers' phases.

A step is a list of `Phase`s (stylegan2-ada's phases): each names the model it updates, its
optimizer, how often it runs (`interval`: on steps where step % interval == 0) and how many
updates it makes when it runs (`repeats`: n_critic for D). `PhaseLosses` holds the functions
that compute the phases' `LossTerms` on one replica; the step (step.py) owns the tapes, the
updates and the reductions.

Phases are built from the configured regularizers (gantrain/regularizers/), grouped by the
model they apply to and their interval: interval 1 joins that model's own phase, k > 1 makes
a phase of its own every k steps with the weights times k. No kind of regularizer is named
here; a new one is a module + YAML.

Randomness is stateless and keyed by (seed, step, slot): every phase update has its own slot,
and within a slot the latents, fake labels, augmentations and each regularizer's draws use
separate streams. Values are drawn for the *global* batch and each replica takes its rows, so
a run's random stream does not depend on the number of replicas and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.losses.adversarial import AdversarialLoss, LossTerms, classification
from gantrain.regularizers.base import MODELS, Regularizer, RegularizerContext
from gantrain.training.augmentation import Augmentation
from gantrain.training.state import GANState

Batch = dict[str, tf.Tensor]

# Streams within a slot (the latents use the slot's seed itself, stream 0; stream 2 is the
# gradient penalty's alphas, regularizers/gradient_penalty.py; regularizers draw from 16 up).
_LABELS, _AUGMENT_REAL, _AUGMENT_FAKE, _AUGMENT_PENALTY = 1, 3, 4, 5
_LETTER = {"discriminator": "d", "generator": "g"}


def batch_coupled_layers(model: keras.Model) -> list[str]:
    """Names of `model`'s layers whose output for one example depends on the others in the
    call: batch norm (any kind) and layers that declare `couples_batch = True` (minibatch
    standard deviation and the like). Scoring real and fake in one call is exact only
    without them."""
    return [
        layer.name
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
        or getattr(layer, "couples_batch", False)
    ]


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


@dataclass(frozen=True)
class LazyGroup:
    """Regularizers of one model sharing one interval k > 1: one phase every k steps."""

    applies_to: str
    interval: int
    regularizers: tuple[Regularizer, ...]


def lazy_groups(regularizers: Sequence[Regularizer]) -> list[LazyGroup]:
    """The lazy phases of `regularizers`, in slot order: D's, then G's, by interval."""
    groups = []
    for applies_to in MODELS:
        mine = [r for r in regularizers if r.applies_to == applies_to and r.interval > 1]
        for interval in sorted({r.interval for r in mine}):
            members = tuple(r for r in mine if r.interval == interval)
            groups.append(LazyGroup(applies_to, interval, members))
    return groups


def every_step(regularizers: Sequence[Regularizer], applies_to: str) -> list[Regularizer]:
    """The regularizers that join `applies_to`'s own phase (interval 1)."""
    return [r for r in regularizers if r.applies_to == applies_to and r.interval == 1]


def check_regularizers(regularizers: Sequence[Regularizer]) -> None:
    """One-line errors for combinations no phase can run."""
    keys = [r.key for r in regularizers]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"regularizer: two regularizers share a key ({', '.join(keys)}).")
    for regularizer in regularizers:
        if regularizer.needs_logits and regularizer.interval > 1:
            raise ConfigError(
                f"regularizer.{regularizer.key}.interval={regularizer.interval}: it uses D's "
                "outputs of the adversarial pass, so it runs with every update; set interval=1."
            )


class PhaseLosses:
    """The loss computations of every phase for `state` and `loss`, on one replica.

    The regularizers are `state.regularizers` (the state owns their variables).
    """

    def __init__(
        self,
        state: GANState,
        loss: AdversarialLoss,
        *,
        global_batch_size: int,
        slots_per_step: int,
        augment: Sequence[str] | Augmentation = (),
        fused_d_pass: bool = False,
    ) -> None:
        self.state = state
        self.loss = loss
        self.global_batch_size = global_batch_size
        self.slots_per_step = slots_per_step
        # A policy alone is DiffAugment at p = 1; the state's Augmentation holds p and ADA.
        self.augmentation = (
            augment if isinstance(augment, Augmentation) else Augmentation(tuple(augment))
        )
        self.fused_d_pass = fused_d_pass
        coupled = batch_coupled_layers(state.discriminator) if fused_d_pass else []
        if coupled:
            raise ConfigError(
                f"trainer.fused_d_pass=true scores real and fake images in one D call, but the "
                f"discriminator's {', '.join(coupled[:3])} couple the examples of a call "
                "(batch statistics), so one call would differ from two; set "
                "trainer.fused_d_pass=false."
            )
        self.regularizers = tuple(state.regularizers)
        check_regularizers(self.regularizers)
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

    def draw(self, slot: int, kind: str, shape: tuple[int, ...], stream: int) -> tf.Tensor:
        """(B, *shape) float32, uniform in [0, 1) or standard normal, of this replica."""
        full = [self.global_batch_size, *shape]
        seed = self._seed(slot, stream)
        if kind == "uniform":
            values = tf.random.stateless_uniform(full, seed=seed)
        elif kind == "normal":
            values = tf.random.stateless_normal(full, seed=seed)
        else:
            raise ValueError(f"unknown distribution {kind!r}")
        return self._rows(values)

    # -- model calls ---------------------------------------------------------------------

    def generate(self, z: tf.Tensor, labels: tf.Tensor | None) -> tf.Tensor:
        inputs = z if labels is None else [z, labels]
        return self.state.generator(inputs, training=True)

    def discriminate(
        self, images: tf.Tensor, labels: tf.Tensor | None, slot: int, stream: int
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        """(logits (B, 1), class logits (B, K) or None) of D on augmented images."""
        images = self.augment(images, slot, stream)
        inputs = [images, labels] if self.d_takes_labels else images
        outputs = self.state.discriminator(inputs, training=True)
        if self.d_classifies:
            return outputs[0], outputs[1]
        return outputs, None

    def augment(self, images: tf.Tensor, slot: int, stream: int) -> tf.Tensor:
        """`images` as D sees them: the run's augmentation with the (slot, stream) draws."""
        return self.augmentation(
            images,
            lambda kind, shape, offset: self.draw(slot, kind, shape, offset),
            stream,
            self.state.step,
        )

    def discriminate_pair(
        self, batch: Batch, fake: tf.Tensor, fake_labels: tf.Tensor | None, slot: int
    ) -> tuple[tuple[tf.Tensor, tf.Tensor | None], tuple[tf.Tensor, tf.Tensor | None]]:
        """D's (logits, class logits) on the real batch and on `fake`, each with its own
        augmentation stream: two calls, or one over both concatenated (`fused_d_pass`).

        The fused call is the same function per example when D has no batch statistics
        (checked at construction); its random layers draw once for both halves (dropout: one
        mask over the 2B rows; spectral norm: one power iteration instead of two).
        """
        real, real_labels = batch["image"], batch["label"]
        if not self.fused_d_pass:
            return (
                self.discriminate(real, real_labels, slot, _AUGMENT_REAL),
                self.discriminate(fake, fake_labels, slot, _AUGMENT_FAKE),
            )
        real = self.augment(real, slot, _AUGMENT_REAL)
        fake = self.augment(fake, slot, _AUGMENT_FAKE)
        images = tf.concat([real, tf.cast(fake, real.dtype)], axis=0)
        inputs = images
        if self.d_takes_labels:
            inputs = [images, tf.concat([real_labels, fake_labels], axis=0)]
        outputs = self.state.discriminator(inputs, training=True)
        outputs = tuple(outputs) if self.d_classifies else (outputs, None)
        rows = tf.shape(real)[0]
        return (
            tuple(None if o is None else o[:rows] for o in outputs),
            tuple(None if o is None else o[rows:] for o in outputs),
        )

    # -- regularizers --------------------------------------------------------------------

    def _context(
        self,
        batch: Batch,
        slot: int,
        model: keras.Model,
        *,
        fake_labels: tf.Tensor | None,
        make_fake: Callable[[], tf.Tensor],
        real_logits: tf.Tensor | None = None,
        fake_logits: tf.Tensor | None = None,
    ) -> RegularizerContext:
        made: list[tf.Tensor] = []

        def fake() -> tf.Tensor:  # one G pass per update, however many regularizers ask
            if not made:
                made.append(make_fake())
            return made[0]

        return RegularizerContext(
            state=self.state,
            model=model,
            real=batch["image"],
            labels=batch["label"],
            fake_labels=fake_labels,
            step=self.state.step,
            global_batch_size=self.global_batch_size,
            real_logits=real_logits,
            fake_logits=fake_logits,
            make_fake=fake,
            critic_fn=lambda images, labels: self.discriminate(
                images, labels, slot, _AUGMENT_PENALTY
            )[0],
            draw=lambda kind, shape, stream: self.draw(slot, kind, shape, stream),
        )

    @staticmethod
    def _per_example(value: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
        """(B,) float32: a scalar is broadcast, so the global-batch average counts it once."""
        value = tf.cast(value, tf.float32)
        if value.shape.rank == 0:
            return tf.fill(tf.shape(like)[:1], value)
        return value

    def _regularizer_terms(
        self, regularizers: Sequence[Regularizer], ctx: RegularizerContext, scale: int
    ) -> LossTerms:
        """Sum over `regularizers` of weight * scale * value, per example; each value (and
        the parts a regularizer returns) logged as `<d|g>_<key>`."""
        total = tf.zeros_like(ctx.real[:, 0, 0, 0], tf.float32)
        parts = {}
        for regularizer in regularizers:
            letter = _LETTER[regularizer.applies_to]
            out = regularizer(ctx)
            terms = out if isinstance(out, LossTerms) else LossTerms(loss=out)
            value = self._per_example(terms.loss, ctx.real)
            parts[f"{letter}_{regularizer.key}"] = value
            for name, part in terms.parts.items():
                if name not in regularizer.extra_metrics:
                    raise ValueError(
                        f"{type(regularizer).__name__} returned part {name!r}, which its "
                        "extra_metrics does not list"
                    )
                parts[f"{letter}_{name}"] = self._per_example(part, ctx.real)
            weight = regularizer.weight_at(self.state.step)
            total += (weight * scale if scale != 1 else weight) * value
        return LossTerms(loss=total, parts=parts)

    # -- phases --------------------------------------------------------------------------

    def discriminator(self, batch: Batch, slot: int) -> LossTerms:
        """D's adversarial loss (+ ACGAN class loss, + D's regularizers of interval 1)."""
        fake_labels = self.fake_labels(slot)
        fake = self.generate(self.latents(slot), fake_labels)
        real_out, fake_out = self.discriminate_pair(batch, fake, fake_labels, slot)
        return self._discriminator_terms(batch, slot, fake, fake_labels, real_out, fake_out)

    def _discriminator_terms(
        self,
        batch: Batch,
        slot: int,
        fake: tf.Tensor,
        fake_labels: tf.Tensor | None,
        real_out: tuple[tf.Tensor, tf.Tensor | None],
        fake_out: tuple[tf.Tensor, tf.Tensor | None],
    ) -> LossTerms:
        """D's loss from its outputs on the real batch and on `fake` (no gradient to G)."""
        (real_logits, real_classes), (fake_logits, fake_classes) = real_out, fake_out
        real_labels = batch["label"]
        self.augmentation.observe_real(real_logits)  # ADA's sign(D(x)) statistic
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
        regularizers = every_step(self.regularizers, "discriminator")
        if regularizers:
            ctx = self._context(
                batch,
                slot,
                self.state.discriminator,
                fake_labels=fake_labels,
                make_fake=lambda: fake,
                real_logits=real_logits,
                fake_logits=fake_logits,
            )
            penalty = self._regularizer_terms(regularizers, ctx, scale=1)
            total += penalty.loss
            parts.update(penalty.parts)
        return LossTerms(loss=total, parts=parts)

    def generator(self, batch: Batch, slot: int) -> LossTerms:
        """G's adversarial loss (+ ACGAN class loss on its requested labels, + G's
        regularizers of interval 1)."""
        labels = self.fake_labels(slot)
        fake = self.generate(self.latents(slot), labels)
        if self.loss.generator_needs_real and self.fused_d_pass:
            real_out, fake_out = self.discriminate_pair(batch, fake, labels, slot)
            return self._generator_terms(batch, slot, fake, labels, fake_out, real_out[0])
        # Fake first, then real: the order of D's calls fixes its dropout masks.
        fake_out = self.discriminate(fake, labels, slot, _AUGMENT_FAKE)
        real_logits = None
        if self.loss.generator_needs_real:
            real_logits, _ = self.discriminate(batch["image"], batch["label"], slot, _AUGMENT_REAL)
        return self._generator_terms(batch, slot, fake, labels, fake_out, real_logits)

    def _generator_terms(
        self,
        batch: Batch,
        slot: int,
        fake: tf.Tensor,
        labels: tf.Tensor | None,
        fake_out: tuple[tf.Tensor, tf.Tensor | None],
        real_logits: tf.Tensor | None,
    ) -> LossTerms:
        """G's loss from D's outputs on `fake` (and on the real batch, relativistic losses)."""
        fake_logits, fake_classes = fake_out
        terms = self.loss.generator(fake_logits, real_logits)
        if fake_classes is not None:
            class_loss = classification(fake_classes, labels)
            terms = LossTerms(
                loss=terms.loss + self.loss.class_weight_generator * class_loss,
                parts={**terms.parts, "g_class_loss": class_loss},
            )
        regularizers = every_step(self.regularizers, "generator")
        if not regularizers:
            return terms
        ctx = self._context(
            batch,
            slot,
            self.state.generator,
            fake_labels=labels,
            make_fake=lambda: fake,
            real_logits=real_logits,
            fake_logits=fake_logits,
        )
        penalty = self._regularizer_terms(regularizers, ctx, scale=1)
        return LossTerms(loss=terms.loss + penalty.loss, parts={**terms.parts, **penalty.parts})

    def simultaneous(self, batch: Batch, slot: int) -> tuple[LossTerms, LossTerms]:
        """(D's terms, G's terms) from ONE generator forward and one D pass over real and
        fake: the origin's update (trainer.update=simultaneous). Both losses see the same
        fakes, the same D outputs and the same parameters; the step takes D's gradient from
        the first and G's from the second. D's regularizers get the fakes without G's
        gradient, as in D's own phase."""
        labels = self.fake_labels(slot)
        fake = self.generate(self.latents(slot), labels)
        real_out, fake_out = self.discriminate_pair(batch, fake, labels, slot)
        d_terms = self._discriminator_terms(
            batch, slot, tf.stop_gradient(fake), labels, real_out, fake_out
        )
        real_logits = real_out[0] if self.loss.generator_needs_real else None
        g_terms = self._generator_terms(batch, slot, fake, labels, fake_out, real_logits)
        return d_terms, g_terms

    def lazy(self, group: LazyGroup) -> Callable[[Batch, int], LossTerms]:
        """The loss of a lazy regularization phase: its regularizers with weight * interval."""
        model = getattr(self.state, group.applies_to)

        def loss(batch: Batch, slot: int) -> LossTerms:
            fake_labels = self.fake_labels(slot)
            ctx = self._context(
                batch,
                slot,
                model,
                fake_labels=fake_labels,
                make_fake=lambda: self.generate(self.latents(slot), fake_labels),
            )
            return self._regularizer_terms(group.regularizers, ctx, scale=group.interval)

        return loss


def slots_per_step(n_critic: int, regularizers: Sequence[Regularizer] = ()) -> int:
    """Seed slots reserved per step: D's n_critic, G's, one per lazy phase; at least 8, as
    before n_critic existed (the same streams for the same runs)."""
    return max(8, n_critic + 1 + len(lazy_groups(regularizers)))


def build_phases(state: GANState, losses: PhaseLosses, *, n_critic: int) -> list[Phase]:
    """D (n_critic updates, each on its own real batch), D's lazy phases, G, G's lazy phases.

    Slots: D repeats use 0..n_critic-1 and G uses n_critic, so the default (n_critic=1) keeps
    D = 0 and G = 1; lazy phases follow from n_critic + 1 in `lazy_groups` order.
    """
    optimizers = {"discriminator": state.d_optimizer, "generator": state.g_optimizer}
    groups = lazy_groups(losses.regularizers)
    main = {
        "discriminator": Phase(
            name="discriminator",
            prefix="d",
            model=state.discriminator,
            optimizer=state.d_optimizer,
            interval=1,
            repeats=n_critic,
            first_slot=0,
            loss=losses.discriminator,
        ),
        "generator": Phase(
            name="generator",
            prefix="g",
            model=state.generator,
            optimizer=state.g_optimizer,
            interval=1,
            repeats=1,
            first_slot=n_critic,
            loss=losses.generator,
        ),
    }
    phases = []
    for applies_to in MODELS:
        phases.append(main[applies_to])
        mine = [g for g in groups if g.applies_to == applies_to]
        for group in mine:
            letter = _LETTER[applies_to]
            suffix = "" if len(mine) == 1 else str(group.interval)
            prefix = f"{letter}_reg{suffix}"
            extra = [name for r in group.regularizers for name in r.extra_metrics]
            phases.append(
                Phase(
                    name=f"{applies_to}_regularization" + (f"_{suffix}" if suffix else ""),
                    prefix=prefix,
                    model=getattr(state, applies_to),
                    optimizer=optimizers[applies_to],
                    interval=group.interval,
                    repeats=1,
                    first_slot=n_critic + 1 + groups.index(group),
                    loss=losses.lazy(group),
                    metric_names=(
                        f"{prefix}_loss",
                        *(f"{letter}_{r.key}" for r in group.regularizers),
                        *(f"{letter}_{name}" for name in extra),
                    ),
                )
            )
    return phases
