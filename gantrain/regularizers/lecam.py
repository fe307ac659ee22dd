"""LeCam regularization (Tseng et al., CVPR 2021, "Regularizing Generative Adversarial
Networks under Limited Data"), as StudioGAN's `worker.py` / `losses.lecam_reg` apply it:

    R = mean(relu(D(x) - a_fake)^2) + mean(relu(a_real - D(G(z)))^2)

with a_real, a_fake exponential moving averages of D's mean output on real and fake images,
updated at every D update (decay 0 before step `start`, i.e. the anchors are the current
means, then `decay`), the regularizer applied after step `start`, weight lambda.
The anchors are training state: checkpointed under regularizers/lecam and restored exactly.
They are taken over the global batch (the reference gathers the logits over processes).
"""

from __future__ import annotations

import tensorflow as tf

from gantrain.losses.adversarial import LossTerms
from gantrain.regularizers.base import Regularizer, RegularizerContext


class LeCam(Regularizer):
    """`weight`: lambda (StudioGAN's CIFAR-10: 0.3); `decay`: the anchors' EMA decay (0.99);
    `start`: the GAN step from which the anchors average and the term applies (1000)."""

    needs_logits = True
    extra_metrics = ("anchor_real", "anchor_fake")

    def __init__(self, *, weight: float = 0.3, decay: float = 0.99, start: int = 1000) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay={decay}: must be in [0, 1)")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"start={start}: must be an integer >= 0")
        super().__init__(weight=weight, interval=1, applies_to="discriminator")
        self.decay = float(decay)
        self.start = int(start)

    def build(self, state) -> None:
        self.add_state("anchor_real", 0.0)
        self.add_state("anchor_fake", 0.0)

    def __call__(self, ctx: RegularizerContext) -> LossTerms:
        real = tf.reshape(tf.cast(ctx.real_logits, tf.float32), [-1])
        fake = tf.reshape(tf.cast(ctx.fake_logits, tf.float32), [-1])
        # As the reference: the anchors average from step `start` on (before, they are the
        # current means) and the term applies after it (step > start).
        decay = tf.where(ctx.step >= self.start, self.decay, 0.0)
        anchor_real = decay * self.anchor_real + (1.0 - decay) * ctx.global_mean(
            tf.stop_gradient(real)
        )
        anchor_fake = decay * self.anchor_fake + (1.0 - decay) * ctx.global_mean(
            tf.stop_gradient(fake)
        )
        ctx.assign(self.anchor_real, anchor_real)
        ctx.assign(self.anchor_fake, anchor_fake)
        # Per example: the batch mean of each half is the reference's two means.
        values = tf.square(tf.nn.relu(real - anchor_fake)) + tf.square(
            tf.nn.relu(anchor_real - fake)
        )
        values *= tf.cast(ctx.step > self.start, tf.float32)
        ones = tf.ones_like(real)
        return LossTerms(
            loss=values,
            parts={"anchor_real": anchor_real * ones, "anchor_fake": anchor_fake * ones},
        )
