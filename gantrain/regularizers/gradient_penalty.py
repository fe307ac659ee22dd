"""WGAN-GP's gradient penalty (Gulrajani et al. 2017) as a discriminator regularizer.

lambda * (||grad D(x_hat)||_2 - 1)^2 per example on interpolates x_hat = x + alpha (G(z) - x),
alpha ~ U[0, 1) per example (configs/regularizer/gradient_penalty.yaml).
"""

from __future__ import annotations

import tensorflow as tf

from gantrain.losses.penalties import gradient_penalty
from gantrain.regularizers.base import Regularizer, RegularizerContext

# The alphas' stream within a slot, from before regularizers were plugins: runs keep their
# random numbers (the streams of regularizers added since come from `Regularizer.stream`).
ALPHA_STREAM = 2


class GradientPenalty(Regularizer):
    """`weight`: lambda (10 in the paper); `interval`: 1, or k > 1 for a lazy phase."""

    def __init__(self, *, weight: float = 10.0, interval: int = 1) -> None:
        super().__init__(weight=weight, interval=interval, applies_to="discriminator")

    def __call__(self, ctx: RegularizerContext) -> tf.Tensor:
        alpha = ctx.uniform((1,), ALPHA_STREAM)[:, 0]
        # Interpolates are judged with the real labels (one label per pair, as for R1).
        return gradient_penalty(lambda x: ctx.critic(x, ctx.labels), ctx.real, ctx.fake(), alpha)
