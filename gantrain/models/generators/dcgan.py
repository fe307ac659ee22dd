"""DCGAN generator of our origin document (the TensorFlow DCGAN tutorial).

Dense(base*base*widths[0]) -> BN -> LeakyReLU -> Reshape -> Conv2DTranspose(widths[1], 5, s1)
-> BN -> LeakyReLU -> [Conv2DTranspose(w, 5, s2) -> BN -> LeakyReLU for w in widths[2:]]
-> Conv2DTranspose(C, 5, s2, tanh). With the default widths (256, 128, 64) and 28x28x1
images this is the origin's network exactly; base = side / 2^(len(widths) - 1), so the same
widths also give 32x32 (base 8) and 64x64 (base 16) images.

`conditioning=cbn` swaps every batch norm for a class-conditional one; `embedding` feeds
concat(z, embed(label)) (see gantrain/models/conditioning.py). Batch norm takes its statistics
over the global batch under multi-replica strategies.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.conditioning import finish_generator, generator_inputs, norm_activation
from gantrain.models.shapes import base_resolution


def build_dcgan_generator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    latent_dim: int = 100,
    widths: Sequence[int] = (256, 128, 64),
    kernel_size: int = 5,
    negative_slope: float = 0.2,
    conditioning: str = "none",
) -> keras.Model:
    """Latent (B, latent_dim) float32 [+ labels int32 (B,)] -> images (B, H, W, C) in [-1, 1]."""
    widths = tuple(int(w) for w in widths)
    if len(widths) < 2:
        raise ValueError("generator.widths needs at least two entries (dense, first conv)")
    base = base_resolution(image_shape, len(widths) - 1, "generator=dcgan")
    inputs, x, labels = generator_inputs(latent_dim, num_classes, conditioning, "generator")

    norm_act = norm_activation(
        labels,
        num_classes=num_classes,
        conditioning=conditioning,
        activation=lambda: layers.LeakyReLU(negative_slope),
    )

    x = norm_act(layers.Dense(base * base * widths[0], use_bias=False)(x))
    x = layers.Reshape((base, base, widths[0]))(x)
    for i, width in enumerate(widths[1:]):
        x = layers.Conv2DTranspose(
            width, kernel_size, strides=1 if i == 0 else 2, padding="same", use_bias=False
        )(x)
        x = norm_act(x)
    # Images leave in float32 whatever the compute policy, so losses and grids see full precision.
    images = layers.Conv2DTranspose(
        image_shape[-1],
        kernel_size,
        strides=2,
        padding="same",
        use_bias=False,
        activation="tanh",
        dtype="float32",
    )(x)
    return finish_generator(
        inputs,
        images,
        name="dcgan_generator",
        latent_dim=latent_dim,
        num_classes=num_classes,
        conditioning=conditioning,
    )
