"""R1 (Mescheder et al. 2018): gamma / 2 * ||grad D(x)||^2 on real images, per example.

With interval 16 it is StyleGAN2's lazy R1 (configs/regularizer/r1.yaml).
"""

from __future__ import annotations

import tensorflow as tf

from gantrain.losses.penalties import r1_penalty
from gantrain.regularizers.base import Regularizer, RegularizerContext, gamma_weight


class R1(Regularizer):
    """`gamma`: the weight is gamma / 2; `interval`: 1, or k > 1 for a lazy phase.

    `schedule` (constant | linear | cosine) moves gamma to `final_gamma` between GAN step
    `schedule_start` and the run's last step (R3GAN: cosine 0.05 -> 0.005); `total_steps` and
    `clock` are passed by gantrain at build time.
    """

    def __init__(
        self,
        *,
        gamma: float = 10.0,
        interval: int = 1,
        schedule: str = "constant",
        final_gamma: float | None = None,
        schedule_start: int = 0,
        total_steps: int | None = None,
        clock: tf.Variable | None = None,
    ) -> None:
        if not gamma >= 0:  # also NaN
            raise ValueError(f"gamma={gamma}: must be >= 0 (0 turns it off)")
        weight = gamma_weight(gamma, schedule, final_gamma, schedule_start, total_steps, clock)
        super().__init__(weight=weight, interval=interval, applies_to="discriminator")
        self.gamma = gamma

    def __call__(self, ctx: RegularizerContext) -> tf.Tensor:
        return r1_penalty(lambda x: ctx.critic(x, ctx.labels), ctx.real)
