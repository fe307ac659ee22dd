"""R3GAN discriminator (Huang et al., NeurIPS 2024; reference brownvc/R3GAN
`R3GAN/Networks.py` `Discriminator`), the generator's mirror image.

images -> 1x1 conv to widths[0] -> for every stage but the last: blocks[i] residual blocks ->
x2 FIR downsampling ([1, 2, 1] interpolative filter) -> [1x1 conv to the next width] -> last
stage: blocks residual blocks -> DiscriminativeBasis (a depthwise S x S valid convolution to
one value per channel, then a bias-free linear layer) -> logit. No normalization, no
minibatch statistics, so real and fake batches may be scored in one call.

Class conditioning (`conditioning=projection`) is the reference's: the basis maps to
`embedding_dim` values (default: the last stage's width, as its presets) and the logit is their
dot product with a label embedding (initialized N(0, 1 / sqrt(embedding_dim * num_classes)),
the reference's linear layer on one-hot labels); there is no unconditional term.
Widths run from high to low resolution (the reference's D lists are its G lists reversed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import initializers, layers

from gantrain.models.conditioning import check_conditioning
from gantrain.models.r3gan_blocks import StagePlan, msr_initializer, pointwise
from gantrain.models.resample import FIRResample2D
from gantrain.models.shapes import base_resolution


def build_r3gan_discriminator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    widths: Sequence[int] = (768, 768, 768, 768),
    cardinalities: Sequence[int] = (96, 96, 96, 96),
    blocks: Sequence[int] = (2, 2, 2, 2),
    expansion: int = 2,
    kernel_size: int = 3,
    resampling_filter: Sequence[float] = (1, 2, 1),
    conditioning: str = "none",
    embedding_dim: int | None = None,
) -> keras.Model:
    """Images (B, H, W, C) [+ labels int32 (B,)] -> logits (B, 1) float32."""
    plan = StagePlan.checked(widths, cardinalities, blocks, expansion, kernel_size, "discriminator")
    widths = plan.widths
    check_conditioning(conditioning, ("none", "projection"), num_classes, "discriminator")
    base = base_resolution(image_shape, len(widths) - 1, "discriminator=r3gan")
    images = keras.Input(tuple(image_shape), name="images")

    x = pointwise(widths[0], image_shape[-1], name="from_image")(images)
    for stage in range(len(widths) - 1):
        x = FIRResample2D("down", resampling_filter)(plan.residual_blocks(x, stage))
        if widths[stage + 1] != widths[stage]:
            x = pointwise(widths[stage + 1], widths[stage])(x)
    x = plan.residual_blocks(x, len(widths) - 1)
    x = layers.DepthwiseConv2D(
        base,
        use_bias=False,
        depthwise_initializer=msr_initializer(base * base),
        name="basis",
    )(x)
    features = layers.Flatten()(x)
    conditional = conditioning == "projection"
    size = int(embedding_dim or widths[-1]) if conditional else 1
    outputs = layers.Dense(
        size,
        use_bias=False,
        kernel_initializer=msr_initializer(widths[-1]),
        dtype="float32",
        name="basis_linear" if conditional else "logit",
    )(features)
    if not conditional:
        model = keras.Model(images, outputs, name="r3gan_discriminator")
        model.num_classes = 0
        model.auxiliary_classes = 0
        return model
    labels = keras.Input((), dtype="int32", name="labels")
    embedded = layers.Embedding(
        num_classes,
        size,
        embeddings_initializer=initializers.RandomNormal(
            stddev=1.0 / math.sqrt(size) / math.sqrt(num_classes)
        ),
        dtype="float32",
        name="label_embedding",
    )(labels)
    logits = layers.Dot(axes=1, dtype="float32", name="logit")([outputs, embedded])
    model = keras.Model([images, labels], logits, name="r3gan_discriminator")
    model.num_classes = int(num_classes)
    model.auxiliary_classes = 0
    return model
