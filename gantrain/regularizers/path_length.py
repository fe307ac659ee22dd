"""Path-length regularization of G (Karras et al. 2020, StyleGAN2), as stylegan2-ada-pytorch's
`training/loss.py` (StyleGAN2Loss, phase Gpl) computes it:

    J^T y = d sum(G(w) * y) / d w,   y ~ N(0, I) / sqrt(H * W)   (images (H, W, C))
    a     = sqrt(mean over the num_ws styles of sum over w_dim of (J^T y)^2)   per example
    mean  = lerp(mean, batch mean of a, decay)   (a running mean, training state)
    R     = (a - mean)^2,   weight pl_weight (2), every `interval` steps (4) times interval

on B // batch_shrink examples (stylegan2's pl_batch_shrink 2), with G's style mixing.
It needs a generator with a mapping network: `model.mapping(z, labels_or_None, training=...)`
-> ws (B, num_ws, w_dim) and `model.synthesis(ws, training=...)` -> images (B, H, W, C).
A mapping that takes `style_mixing=True` (generator=stylegan2) mixes the styles itself, as
the reference's run_G (one cutoff per batch, the second latents not updating w_avg); that is
the default (`style_mixing_prob: null`).

Departures from the reference, each for replica-count independence or the generator
interface:
- The PL batch is every `batch_shrink`-th example of this replica's batch, not its first
  B // batch_shrink: the latents are iid, so the distribution is the same, and when the
  per-replica batch is a multiple of `batch_shrink` the examples used (rows of the draws for
  the global batch) are the same under any number of replicas (global batch // batch_shrink
  in total). Otherwise every replica takes ceil(B_replica / batch_shrink) examples.
- The running mean is taken over the whole PL batch of all replicas (`ctx.global_mean`), so
  every replica holds the same value; the reference keeps one unsynchronized mean per GPU.
- Only for a generator whose mapping does not mix (or with `style_mixing_prob` set): the
  mixing here draws one crossover point per example from the step's stateless streams (the
  reference draws one per GPU batch). The marginal per example is the reference's: with
  probability p a cutoff uniform in [1, num_ws), else none. The two mappings run as one call on
  both sets of latents (the reference's second call skips the mapping's w_avg update, which
  the plain interface cannot express; one call makes one update).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import keras
import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.losses.adversarial import LossTerms
from gantrain.regularizers.base import Regularizer, RegularizerContext


def path_lengths(
    synthesis: Callable[[tf.Tensor], tf.Tensor], ws: tf.Tensor, noise: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """(lengths (B,) float32, images) for styles `ws` (B, num_ws, w_dim) and image-space
    `noise` (B, H, W, C), already divided by sqrt(H * W).

    lengths = sqrt(mean_i sum_j (d sum(images * noise) / d ws)[b, i, j]^2). Call it inside
    the outer tape of G's update: the input gradient is differentiated again (as
    `create_graph=True`); example b's length depends on example b only as long as the
    synthesis network treats examples independently.
    """
    with tf.GradientTape() as tape:
        tape.watch(ws)
        images = synthesis(ws)
        total = tf.reduce_sum(tf.cast(images, tf.float32) * noise)
    grads = tf.cast(tape.gradient(total, ws), tf.float32)
    lengths = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(grads), axis=2), axis=1))
    return lengths, images


def mix_styles(ws: tf.Tensor, others: tf.Tensor, uniforms: tf.Tensor, prob: float) -> tf.Tensor:
    """Style mixing: example b keeps `ws[b, :cutoff]` and takes `others[b, cutoff:]`.

    `uniforms` (B, 2) in [0, 1): the first decides mixing (< `prob`), the second picks the
    cutoff uniform in [1, num_ws) (the reference's `random_(1, num_ws)`); unmixed examples
    have cutoff num_ws. With a single style there is nothing to mix.
    """
    num_ws = ws.shape[1]
    cutoff = 1 + tf.cast(tf.floor(uniforms[:, 1] * (num_ws - 1)), tf.int32)
    # u * (num_ws - 1) can round up to num_ws - 1 in float32; one style: cutoff 1 = num_ws.
    cutoff = tf.clip_by_value(cutoff, 1, max(num_ws - 1, 1))
    cutoff = tf.where(uniforms[:, 0] < prob, cutoff, num_ws)
    keep = tf.range(num_ws)[None, :] < cutoff[:, None]  # (B, num_ws)
    return tf.where(keep[:, :, None], ws, tf.cast(others, ws.dtype))


def has_mapping_network(model: keras.Model) -> bool:
    """Whether `model` offers the mapping / synthesis interface path length needs."""
    return callable(getattr(model, "mapping", None)) and callable(getattr(model, "synthesis", None))


def mapping_mixes(model: keras.Model) -> bool:
    """Whether `model.mapping` takes `style_mixing` (mixes the styles itself, as G's call)."""
    mapping = model.mapping
    try:
        parameters = inspect.signature(getattr(mapping, "call", mapping)).parameters
    except (TypeError, ValueError):  # a callable without a signature
        return False
    return "style_mixing" in parameters


class PathLength(Regularizer):
    """`weight`: pl_weight (2); `interval`: G_reg_interval (4; 1 = in every G update);
    `decay`: pl_decay of the running mean (0.01); `batch_shrink`: pl_batch_shrink (2);
    `style_mixing_prob`: null = G's own mixing (a mapping taking `style_mixing`, else the
    generator's `style_mixing_prob` attribute, 0 when it has none), so G's phases agree; a
    number: mix here with that probability, one cutoff per example (0 = no mixing).
    """

    extra_metrics = ("pl_mean",)

    def __init__(
        self,
        *,
        weight: float = 2.0,
        interval: int = 4,
        decay: float = 0.01,
        batch_shrink: int = 2,
        style_mixing_prob: float | None = None,
        applies_to: str = "generator",
    ) -> None:
        if applies_to != "generator":
            raise ValueError(
                f"applies_to={applies_to!r}: path length regularizes the generator; "
                "use applies_to=generator"
            )
        if not 0.0 <= decay <= 1.0:  # also NaN
            raise ValueError(f"decay={decay}: must be in [0, 1]")
        if isinstance(batch_shrink, bool) or not isinstance(batch_shrink, int) or batch_shrink < 1:
            raise ValueError(f"batch_shrink={batch_shrink}: must be an integer >= 1")
        if style_mixing_prob is not None and not 0.0 <= style_mixing_prob <= 1.0:
            raise ValueError(f"style_mixing_prob={style_mixing_prob}: must be in [0, 1] or null")
        super().__init__(weight=weight, interval=interval, applies_to="generator")
        self.decay = float(decay)
        self.batch_shrink = int(batch_shrink)
        self.style_mixing_prob = style_mixing_prob
        self.own_mixing = False  # set by build: the generator's mapping mixes

    def build(self, state) -> None:
        generator = state.generator
        if not has_mapping_network(generator):
            raise ConfigError(
                f"regularizer.{self.key} needs a generator with a mapping network "
                f"(generator=stylegan2); {generator.name} has no mapping/synthesis methods."
            )
        # G's own mixing (the reference's run_G) when its mapping offers it and no
        # probability is set here; else the mixing below, with this probability.
        self.own_mixing = self.style_mixing_prob is None and mapping_mixes(generator)
        if self.style_mixing_prob is None and not self.own_mixing:
            self.style_mixing_prob = float(getattr(generator, "style_mixing_prob", 0.0))
        self.add_state("pl_mean", 0.0)

    def styles(self, ctx: RegularizerContext) -> tf.Tensor:
        """The PL batch's styles (B // batch_shrink, num_ws, w_dim), mixed as G's."""
        model, shrink = ctx.model, self.batch_shrink
        z = ctx.normal((model.latent_dim,), self.stream("z"))[::shrink]
        labels = None
        if int(getattr(model, "num_classes", 0) or 0) > 0:
            labels = ctx.fake_labels[::shrink]
        if self.own_mixing:
            return model.mapping(z, labels, training=True, style_mixing=True)
        if not self.style_mixing_prob:
            return model.mapping(z, labels, training=True)
        others = ctx.normal((model.latent_dim,), self.stream("mixing_z"))[::shrink]
        both = model.mapping(
            tf.concat([z, others], axis=0),
            None if labels is None else tf.concat([labels, labels], axis=0),
            training=True,
        )
        rows = tf.shape(z)[0]
        uniforms = ctx.uniform((2,), self.stream("mixing"))[::shrink]
        return mix_styles(both[:rows], both[rows:], uniforms, self.style_mixing_prob)

    def __call__(self, ctx: RegularizerContext) -> LossTerms:
        ws = self.styles(ctx)
        height, width, channels = ctx.real.shape[1:]  # G's images have the data's shape
        # Drawn for the global batch, as every draw (replica-count independent), then the
        # PL rows taken: at high resolution this costs B_global * H * W * C normals per
        # replica every `interval` steps.
        noise = ctx.normal((height, width, channels), self.stream("noise"))[:: self.batch_shrink]
        noise /= math.sqrt(height * width)
        lengths, _ = path_lengths(lambda w: ctx.model.synthesis(w, training=True), ws, noise)
        # As the reference, the penalty uses the updated mean, gradient included (its share
        # of the batch mean times decay); the stored copy has no gradient.
        pl_mean = self.pl_mean + self.decay * (ctx.global_mean(lengths) - self.pl_mean)
        ctx.assign(self.pl_mean, tf.stop_gradient(pl_mean))
        penalty = tf.square(lengths - pl_mean)
        # A scalar: the PL batch is smaller than the replica's batch; its mean, averaged over
        # the replicas, is the mean over the global PL batch (equal shares per replica).
        return LossTerms(loss=tf.reduce_mean(penalty), parts={"pl_mean": tf.stop_gradient(pl_mean)})
