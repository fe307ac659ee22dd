"""DCGAN generator of our origin document (the TensorFlow DCGAN tutorial).

Dense(base*base*widths[0]) -> BN -> LeakyReLU -> Reshape -> Conv2DTranspose(widths[1], 5, s1)
-> BN -> LeakyReLU -> [Conv2DTranspose(w, 5, s2) -> BN -> LeakyReLU for w in widths[2:]]
-> Conv2DTranspose(C, 5, s2, tanh). With the default widths (256, 128, 64) and 28x28x1
images this is the origin's network exactly; base = side / 2^(len(widths) - 1).
Batch norm takes its statistics over the global batch under multi-replica strategies.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.global_batch import global_batch_norm
from gantrain.models.shapes import base_resolution


def build_dcgan_generator(
    *,
    image_shape: tuple[int, int, int],
    latent_dim: int = 100,
    widths: Sequence[int] = (256, 128, 64),
    kernel_size: int = 5,
    negative_slope: float = 0.2,
) -> keras.Model:
    """Latent (B, latent_dim) float32 -> images (B, H, W, C) float32 in [-1, 1]."""
    widths = tuple(int(w) for w in widths)
    if len(widths) < 2:
        raise ValueError("generator.widths needs at least two entries (dense, first conv)")
    base = base_resolution(image_shape, len(widths) - 1, "generator=dcgan")
    z = keras.Input((latent_dim,), name="latent")
    x = layers.Dense(base * base * widths[0], use_bias=False)(z)
    x = global_batch_norm()(x)
    x = layers.LeakyReLU(negative_slope)(x)
    x = layers.Reshape((base, base, widths[0]))(x)
    for i, width in enumerate(widths[1:]):
        x = layers.Conv2DTranspose(
            width, kernel_size, strides=1 if i == 0 else 2, padding="same", use_bias=False
        )(x)
        x = global_batch_norm()(x)
        x = layers.LeakyReLU(negative_slope)(x)
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
    model = keras.Model(z, images, name="dcgan_generator")
    model.latent_dim = latent_dim
    model.num_classes = 0
    return model
