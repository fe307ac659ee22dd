"""R3GAN generator (Huang et al., NeurIPS 2024; reference brownvc/R3GAN `R3GAN/Networks.py`
`Generator`, presets in its `train.py`).

z (B, latent_dim) [+ embed(labels)] -> GenerativeBasis (S x S x widths[0]) -> blocks[0]
residual blocks -> for every further stage: [1x1 conv to the new width] -> x2 FIR upsampling
([1, 2, 1] interpolative filter) -> blocks[i] residual blocks -> 1x1 conv to the image
channels. No normalization, no tanh: like the reference (and StyleGAN2), the output is
unbounded and clipped to [-1, 1] only where it becomes pixels (sample grids, `sample`, `eval`).

Departures from the reference, each for a reason:
- the basis side S is image side / 2^(stages - 1), so 28x28 (MNIST, S = 7) works too; the
  reference's basis is 4x4 (S = 4 for 32x32 with four stages, as its CIFAR-10 preset);
- labels are int class ids looked up in an embedding table initialized as the reference's
  bias-free linear layer on one-hot vectors (N(0, 1 / sqrt(num_classes)));
- the reference runs its low-resolution stages in bfloat16 (`FP16Stages`); here the run's
  `trainer.precision` policy applies to the whole network.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.conditioning import check_conditioning, finish_generator
from gantrain.models.r3gan_blocks import GenerativeBasis, StagePlan, msr_initializer, pointwise
from gantrain.models.resample import FIRResample2D
from gantrain.models.shapes import base_resolution


def build_r3gan_generator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    latent_dim: int = 64,
    widths: Sequence[int] = (768, 768, 768, 768),
    cardinalities: Sequence[int] = (96, 96, 96, 96),
    blocks: Sequence[int] = (2, 2, 2, 2),
    expansion: int = 2,
    kernel_size: int = 3,
    resampling_filter: Sequence[float] = (1, 2, 1),
    conditioning: str = "none",
    embedding_dim: int | None = None,
) -> keras.Model:
    """Latent (B, latent_dim) float32 [+ labels int32 (B,)] -> images (B, H, W, C) float32,
    unbounded (clip to [-1, 1] for pixels). Stages run from low to high resolution."""
    plan = StagePlan.checked(widths, cardinalities, blocks, expansion, kernel_size, "generator")
    widths = plan.widths
    check_conditioning(conditioning, ("none", "embedding"), num_classes, "generator")
    base = base_resolution(image_shape, len(widths) - 1, "generator=r3gan")
    z = keras.Input((latent_dim,), name="latent")
    inputs, x = [z], z
    if conditioning == "embedding":
        labels = keras.Input((), dtype="int32", name="labels")
        size = int(embedding_dim or latent_dim)
        embedded = layers.Embedding(
            num_classes,
            size,
            embeddings_initializer=msr_initializer(num_classes),
            name="label_embedding",
        )(labels)
        inputs, x = [z, labels], layers.Concatenate(name="latent_and_label")([z, embedded])

    x = plan.residual_blocks(GenerativeBasis(widths[0], size=base, name="basis")(x), 0)
    for stage in range(1, len(widths)):
        if widths[stage] != widths[stage - 1]:
            x = pointwise(widths[stage], widths[stage - 1])(x)
        x = FIRResample2D("up", resampling_filter)(x)
        x = plan.residual_blocks(x, stage)
    images = layers.Conv2D(
        image_shape[-1],
        1,
        use_bias=False,
        kernel_initializer=msr_initializer(widths[-1]),
        dtype="float32",
        name="to_image",
    )(x)
    model = finish_generator(
        inputs,
        images,
        name="r3gan_generator",
        latent_dim=latent_dim,
        num_classes=num_classes,
        conditioning=conditioning,
    )
    model.unbounded_output = True
    return model
