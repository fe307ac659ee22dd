"""R2: R1's twin on generated images, gamma / 2 * ||grad D(G(z))||^2 per example (Roth et al.
2017; with R1 the "R1 + R2" of R3GAN, Huang et al. 2024, `R3GAN/Trainer.py`).

The penalty is taken on the D phase's own fakes (G is not differentiated here). As gantrain's
R1, the critic sees the images with the penalty's own augmentation stream; R3GAN takes both
penalties from the logits of its adversarial pass (one augmentation draw for both).
"""

from __future__ import annotations

import tensorflow as tf

from gantrain.losses.penalties import r1_penalty
from gantrain.regularizers.base import Regularizer, RegularizerContext, gamma_weight


class R2(Regularizer):
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
            raise ValueError(f"gamma={gamma}: must be >= 0 (0 turns R2 off)")
        weight = gamma_weight(gamma, schedule, final_gamma, schedule_start, total_steps, clock)
        super().__init__(weight=weight, interval=interval, applies_to="discriminator")
        self.gamma = gamma

    def __call__(self, ctx: RegularizerContext) -> tf.Tensor:
        fakes = tf.stop_gradient(ctx.fake())
        return r1_penalty(lambda x: ctx.critic(x, ctx.fake_labels), fakes)
