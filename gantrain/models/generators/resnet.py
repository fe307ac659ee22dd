"""ResNet generator of the SN-GAN paper for 32x32 images (Miyato et al. 2018, Table 4; the
reference implementation pfnet-research/sngan_projection `gen_models/resnet_32.py`).

Dense(base*base*widths[0]) -> [up block(w) for w in widths] -> BN -> ReLU -> Conv(C, 3, tanh),
base = side / 2^len(widths). An up block is
    main:     BN -> ReLU -> Upsample x2 -> Conv 3x3 -> BN -> ReLU -> Conv 3x3
    shortcut: Upsample x2 -> Conv 1x1
and returns main + shortcut. SN-GAN uses widths (256, 256, 256) and latent 128; WGAN-GP's
ResNet (Gulrajani et al. 2017) uses 128 channels. `conditioning=cbn` makes every batch norm
class-conditional, as the projection-discriminator paper's generator does.

Blocks are built from standard layers in one functional graph (no nested models), so every
batch-norm layer is visible to standing statistics (gantrain/training/sampling.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.conditioning import finish_generator, generator_inputs, norm_activation
from gantrain.models.shapes import base_resolution


def build_resnet_generator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    latent_dim: int = 128,
    widths: Sequence[int] = (256, 256, 256),
    conditioning: str = "none",
) -> keras.Model:
    """Latent (B, latent_dim) float32 [+ labels int32 (B,)] -> images (B, H, W, C) in [-1, 1]."""
    widths = tuple(int(w) for w in widths)
    if not widths:
        raise ValueError("generator.widths needs at least one block")
    base = base_resolution(image_shape, len(widths), "generator=resnet")
    inputs, x, labels = generator_inputs(latent_dim, num_classes, conditioning, "generator")

    norm_relu = norm_activation(
        labels, num_classes=num_classes, conditioning=conditioning, activation=layers.ReLU
    )

    x = layers.Dense(base * base * widths[0])(x)
    x = layers.Reshape((base, base, widths[0]))(x)
    for width in widths:
        shortcut = layers.Conv2D(width, 1)(layers.UpSampling2D(2)(x))
        h = layers.UpSampling2D(2)(norm_relu(x))
        h = layers.Conv2D(width, 3, padding="same")(h)
        h = layers.Conv2D(width, 3, padding="same")(norm_relu(h))
        x = layers.Add()([shortcut, h])
    images = layers.Conv2D(image_shape[-1], 3, padding="same", activation="tanh", dtype="float32")(
        norm_relu(x)
    )
    return finish_generator(
        inputs,
        images,
        name="resnet_generator",
        latent_dim=latent_dim,
        num_classes=num_classes,
        conditioning=conditioning,
    )
