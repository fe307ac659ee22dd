"""Adversarial losses as pure functions on logits.

A loss config builds an `AdversarialLoss`: two functions, one for the discriminator phase and
one for the generator phase, each returning `LossTerms` of *per-example* values of shape (B,).
The train step reduces them over the global batch (`tf.nn.compute_average_loss`), which keeps
the same semantics under any `tf.distribute` strategy. Nothing here logs or reads a config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import tensorflow as tf


@dataclass(frozen=True)
class LossTerms:
    """`loss`: per-example loss (B,); `parts`: per-example values worth logging, by name."""

    loss: tf.Tensor
    parts: Mapping[str, tf.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class AdversarialLoss:
    """`discriminator(real_logits, fake_logits)` and `generator(fake_logits, real_logits)`.

    Logits have shape (B, 1) or (B,). `generator_needs_real` tells the step whether the G phase
    must run D on real images (relativistic losses); otherwise `real_logits` is None there.
    """

    name: str
    discriminator: Callable[[tf.Tensor, tf.Tensor], LossTerms]
    generator: Callable[[tf.Tensor, tf.Tensor | None], LossTerms]
    generator_needs_real: bool = False


def _flat(logits: tf.Tensor) -> tf.Tensor:
    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def non_saturating() -> AdversarialLoss:
    """The origin's loss (Goodfellow et al. 2014, the -log D(G(z)) generator form).

    D: BCE(1, D(x)) + BCE(0, D(G(z))) = softplus(-real) + softplus(fake).
    G: BCE(1, D(G(z))) = softplus(-fake).
    Logged parts: D(x) and D(G(z)) as probabilities, and D's two loss halves.
    """

    def discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> LossTerms:
        real, fake = _flat(real_logits), _flat(fake_logits)
        loss_real = tf.nn.softplus(-real)
        loss_fake = tf.nn.softplus(fake)
        return LossTerms(
            loss=loss_real + loss_fake,
            parts={
                "d_real": tf.sigmoid(real),
                "d_fake": tf.sigmoid(fake),
                "d_loss_real": loss_real,
                "d_loss_fake": loss_fake,
            },
        )

    def generator(fake_logits: tf.Tensor, real_logits: tf.Tensor | None = None) -> LossTerms:
        fake = _flat(fake_logits)
        return LossTerms(loss=tf.nn.softplus(-fake), parts={"g_d_fake": tf.sigmoid(fake)})

    return AdversarialLoss("non_saturating", discriminator, generator)
