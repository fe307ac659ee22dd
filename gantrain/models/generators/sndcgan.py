"""The "standard CNN" generator of the SN-GAN paper (Miyato et al. 2018, Table 3), compare_gan's
`sndcgan`: a DCGAN with 4x4 up-convolutions and ReLU, as Radford et al. (2016) built it.

Dense(base*base*widths[0]) -> BN -> ReLU -> [Conv2DTranspose(w, 4, s2) -> BN -> ReLU for w in
widths[1:]] -> Conv2D(C, 3, s1, tanh). base = side / 2^(len(widths) - 1): the default widths
(512, 256, 128, 64) give 32x32 from 4x4 and 64x64 from 8x8; (1024, 512, 256, 128, 64) is
Radford's 64x64 network from 4x4.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.conditioning import finish_generator, generator_inputs, norm_activation
from gantrain.models.shapes import base_resolution


def build_sndcgan_generator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    latent_dim: int = 128,
    widths: Sequence[int] = (512, 256, 128, 64),
    conditioning: str = "none",
) -> keras.Model:
    """Latent (B, latent_dim) float32 [+ labels int32 (B,)] -> images (B, H, W, C) in [-1, 1]."""
    widths = tuple(int(w) for w in widths)
    if len(widths) < 2:
        raise ValueError("generator.widths needs at least two entries (dense, one upsampling)")
    base = base_resolution(image_shape, len(widths) - 1, "generator=sndcgan")
    inputs, x, labels = generator_inputs(latent_dim, num_classes, conditioning, "generator")

    norm_relu = norm_activation(
        labels, num_classes=num_classes, conditioning=conditioning, activation=layers.ReLU
    )

    x = norm_relu(layers.Dense(base * base * widths[0])(x))
    x = layers.Reshape((base, base, widths[0]))(x)
    for width in widths[1:]:
        x = norm_relu(layers.Conv2DTranspose(width, 4, strides=2, padding="same")(x))
    images = layers.Conv2D(image_shape[-1], 3, padding="same", activation="tanh", dtype="float32")(
        x
    )
    return finish_generator(
        inputs,
        images,
        name="sndcgan_generator",
        latent_dim=latent_dim,
        num_classes=num_classes,
        conditioning=conditioning,
    )
