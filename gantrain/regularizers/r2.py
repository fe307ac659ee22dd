"""R2: R1's twin on generated images, gamma / 2 * ||grad D(G(z))||^2 per example (Roth et al.
2017; with R1 the "R1 + R2" of R3GAN, Huang et al. 2024, `R3GAN/Trainer.py`).

The penalty is taken on the D phase's own fakes (G is not differentiated here). As gantrain's
R1, the critic sees the images with the penalty's own augmentation stream; R3GAN takes both
penalties from the logits of its adversarial pass (one augmentation draw for both).
"""

from __future__ import annotations

import tensorflow as tf

from gantrain.losses.penalties import r1_penalty
from gantrain.regularizers.base import RegularizerContext
from gantrain.regularizers.r1 import R1


class R2(R1):
    """R1's keys and schedule (`gamma`, `interval`, `schedule`, `final_gamma`,
    `schedule_start`), on the D phase's fakes instead of the reals."""

    def __call__(self, ctx: RegularizerContext) -> tf.Tensor:
        fakes = tf.stop_gradient(ctx.fake())
        return r1_penalty(lambda x: ctx.critic(x, ctx.fake_labels), fakes)
