"""`GANState`: everything a run needs to continue exactly; the one object checkpointed."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from gantrain.regularizers.base import Regularizer
from gantrain.training.ema import check_twins

# Second word of the stateless seed of the fixed sample grid; training latents use
# [seed, slots * step + slot] with step >= 0, so they never collide with it.
GRID_SEED_WORD = -1
# Sample grids of class-conditional generators have one row per class, for at most this many.
MAX_GRID_CLASSES = 32


def new_step_counter() -> tf.Variable:
    """The GAN step counter (generator steps done): make it before the optimizers, whose
    schedules read it (gantrain/schedules.py), and give it to `GANState(step=...)`. Create it
    inside the strategy scope."""
    # ONLY_FIRST_REPLICA: replicas all add 1 per step; the count must not multiply.
    return tf.Variable(
        0,
        dtype=tf.int64,
        trainable=False,
        name="step",
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
    )


def seed_generator_states(model: keras.Model) -> list[tf.Variable]:
    """State variables of the Keras `SeedGenerator`s inside `model` (dropout masks, ...).

    Keras does not track them for tf.train.Checkpoint, but exact resume needs them.
    """
    states: list[tf.Variable] = []
    seen: set[int] = set()

    def visit(layer: keras.layers.Layer) -> None:
        if id(layer) in seen:
            return
        seen.add(id(layer))
        for value in vars(layer).values():
            if isinstance(value, keras.random.SeedGenerator):
                states.append(value.state)
        for child in getattr(layer, "layers", []):
            visit(child)

    visit(model)
    return states


class GANState:
    """Models, optimizers, step, RNG state and the fixed sample-grid latents of a run.

    Build it inside `strategy.scope()`. Optimizers are built right away
    (`optimizer.build(model.trainable_variables)`): Keras 3 creates slot variables lazily,
    which breaks restores and MirroredStrategy otherwise (keras#19321).

    `regularizers` (gantrain/regularizers/) are built here and their state checkpointed, as
    is an `augmentation`'s (ADA's adaptive p).
    `step` is the counter the optimizers' schedules read (`new_step_counter`; a new one when
    no optimizer has a schedule).
    `generator_ema` (None unless EMA is on) is a twin of the generator holding the moving
    average of its weights; it starts as a copy and is checkpointed as `generator_ema`.
    The sample grid is `grid_z` with `grid_labels` (None for unconditional generators): a
    class-conditional grid has one row per class (up to MAX_GRID_CLASSES) and the same
    `grid_size` latents in every row, so a column shows one latent across classes.
    """

    def __init__(
        self,
        *,
        generator: keras.Model,
        discriminator: keras.Model,
        g_optimizer: keras.optimizers.Optimizer,
        d_optimizer: keras.optimizers.Optimizer,
        seed: int,
        grid_size: int,
        generator_ema: keras.Model | None = None,
        regularizers: Sequence[Regularizer] = (),
        step: tf.Variable | None = None,
        augmentation: tf.Module | None = None,
    ) -> None:
        self.generator = generator
        self.generator_ema = generator_ema
        if generator_ema is not None:
            check_twins(generator_ema, generator)
            for target, value in zip(generator_ema.weights, generator.weights, strict=True):
                target.assign(value)
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        g_optimizer.build(generator.trainable_variables)
        d_optimizer.build(discriminator.trainable_variables)
        self.latent_dim = int(generator.latent_dim)
        self.num_classes = int(getattr(generator, "num_classes", 0))
        # The optimizers' schedules were built reading `step` (new_step_counter).
        self.step = new_step_counter() if step is None else step
        self.seed = tf.Variable(seed, dtype=tf.int64, trainable=False, name="seed")
        # Wall-clock seconds spent training over all launches of the run.
        self.elapsed_sec = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed")
        rows = min(self.num_classes, MAX_GRID_CLASSES) if self.num_classes else grid_size
        z = tf.random.stateless_normal(
            [grid_size if self.num_classes else rows * grid_size, self.latent_dim],
            seed=tf.constant([seed, GRID_SEED_WORD], tf.int64),
        )
        if self.num_classes:
            z = tf.tile(z, [rows, 1])
        self.grid_z = tf.Variable(z, trainable=False, name="grid_z")
        self.grid_labels = None
        if self.num_classes:
            self.grid_labels = tf.repeat(tf.range(rows, dtype=tf.int32), grid_size)
        self.rng_states = seed_generator_states(generator) + seed_generator_states(discriminator)
        # Their variables (running means, EMA anchors) are made here, inside the strategy
        # scope, and checkpointed under `regularizers/<key>` (gantrain/regularizers/base.py).
        self.regularizers = tuple(regularizers)
        for regularizer in self.regularizers:
            regularizer.build(self)
        # gantrain/training/augmentation.py: ADA's p and controller statistics, if adaptive.
        self.augmentation = augmentation
        # Updates not applied because their loss was NaN/inf, and the last step that had one
        # (gantrain/training/nonfinite.py). Replicas decide together, so count once.
        self.skipped_updates = tf.Variable(
            0,
            dtype=tf.int64,
            trainable=False,
            name="skipped_updates",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        self.last_nonfinite_step = tf.Variable(
            0,
            dtype=tf.int64,
            trainable=False,
            name="last_nonfinite_step",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )

    def checkpoint(self) -> tf.train.Checkpoint:
        """A checkpoint over every part of the state."""
        extra: dict = {} if self.generator_ema is None else {"generator_ema": self.generator_ema}
        stateful = {r.key: r for r in self.regularizers if r.variables}
        if stateful:  # absent otherwise: checkpoints of runs without any stay as they were
            extra["regularizers"] = stateful
        if self.augmentation is not None and self.augmentation.variables:
            extra["augmentation"] = self.augmentation
        return tf.train.Checkpoint(
            **extra,
            generator=self.generator,
            discriminator=self.discriminator,
            g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer,
            step=self.step,
            seed=self.seed,
            elapsed_sec=self.elapsed_sec,
            grid_z=self.grid_z,
            rng_states=self.rng_states,
            skipped_updates=self.skipped_updates,
            last_nonfinite_step=self.last_nonfinite_step,
        )
