"""Fault injection for tests: a loss that turns NaN at a chosen step.

`loss._target_=tests.faults.nan_at_step +loss.step=3 +loss.phase=discriminator` makes the
non-saturating loss NaN during one phase of one step (1-based, as stats.jsonl counts), so
the NaN handling is tested on a real run at an exact step.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from gantrain.losses.adversarial import AdversarialLoss, LossTerms, non_saturating


def nan_at_step(*, step: int, phase: str = "discriminator", **options: float) -> AdversarialLoss:
    """The non-saturating loss (`options`: its YAML keys), NaN for every example in `phase`
    of step `step` only."""
    base = non_saturating(**options)
    # Counts calls of the poisoned phase: one per training step.
    calls = tf.Variable(0, dtype=tf.int64, trainable=False, name="nan_at_step_calls")

    def poison(terms: LossTerms) -> LossTerms:
        calls.assign_add(1)
        nan = tf.fill(tf.shape(terms.loss), float("nan"))
        return dataclasses.replace(terms, loss=tf.where(calls == step, nan, terms.loss))

    def discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> LossTerms:
        terms = base.discriminator(real_logits, fake_logits)
        return poison(terms) if phase == "discriminator" else terms

    def generator(fake_logits: tf.Tensor, real_logits: tf.Tensor | None = None) -> LossTerms:
        terms = base.generator(fake_logits, real_logits)
        return poison(terms) if phase == "generator" else terms

    return AdversarialLoss(
        "nan_at_step", discriminator, generator, generator_needs_real=base.generator_needs_real
    )


def nan_gradient_at_step(*, step: int, **options: float) -> AdversarialLoss:
    """The non-saturating loss (`options`: its YAML keys), whose discriminator loss stays
    finite at step `step` (1-based) but has NaN gradients: the update is applied (on_nan=skip
    checks the loss) and turns D's weights NaN, as an update that overflows does."""
    base = non_saturating(**options)
    calls = tf.Variable(0, dtype=tf.int64, trainable=False, name="nan_gradient_calls")

    def discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> LossTerms:
        terms = base.discriminator(real_logits, fake_logits)
        calls.assign_add(1)
        poisoned = tf.cast(calls == step, terms.loss.dtype)
        # sqrt at 0 has an infinite slope and 0 * inf = NaN; elsewhere sqrt(0 + 1) is smooth.
        # The value added is 0 either way.
        zero = 0.0 * tf.reduce_mean(fake_logits)
        extra = tf.sqrt(zero + (1.0 - poisoned)) - (1.0 - poisoned)
        return dataclasses.replace(terms, loss=terms.loss + extra)

    return AdversarialLoss(
        "nan_gradient_at_step",
        discriminator,
        base.generator,
        generator_needs_real=base.generator_needs_real,
    )
