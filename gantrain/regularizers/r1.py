"""R1 (Mescheder et al. 2018): gamma / 2 * ||grad D(x)||^2 on real images, per example.

With interval 16 it is StyleGAN2's lazy R1 (configs/regularizer/r1.yaml).
"""

from __future__ import annotations

import tensorflow as tf

from gantrain.losses.penalties import r1_penalty
from gantrain.regularizers.base import Regularizer, RegularizerContext


class R1(Regularizer):
    """`gamma`: the weight is gamma / 2; `interval`: 1, or k > 1 for a lazy phase."""

    def __init__(self, *, gamma: float = 10.0, interval: int = 1) -> None:
        if not gamma >= 0:  # also NaN
            raise ValueError(f"gamma={gamma}: must be >= 0 (0 turns R1 off)")
        super().__init__(weight=gamma / 2.0, interval=interval, applies_to="discriminator")
        self.gamma = gamma

    def __call__(self, ctx: RegularizerContext) -> tf.Tensor:
        return r1_penalty(lambda x: ctx.critic(x, ctx.labels), ctx.real)
