"""Fault injection for tests: a loss that turns NaN at a chosen step.

`loss._target_=tests.faults.nan_at_step +loss.step=3 +loss.phase=discriminator` makes the
non-saturating loss NaN during one phase of one step (1-based, as stats.jsonl counts), so
the NaN handling is tested on a real run at an exact step.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from gantrain.losses.adversarial import AdversarialLoss, LossTerms, non_saturating


def nan_at_step(*, step: int, phase: str = "discriminator") -> AdversarialLoss:
    """The non-saturating loss, NaN for every example in `phase` of step `step` only."""
    base = non_saturating()
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
