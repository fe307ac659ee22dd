"""Fully connected generator of the original GAN paper (Goodfellow et al. 2014; its pylearn2
MNIST model: two ReLU layers of 1200 units).

z -> [Dense(w) -> ReLU for w in widths] -> Dense(H*W*C, tanh) -> Reshape(H, W, C). The output
is tanh in [-1, 1] (gantrain's image convention) where the paper used a sigmoid on [0, 1].
`conditioning=embedding` feeds concat(z, embed(label)): the conditional GAN of Mirza &
Osindero (2014) in its plainest form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.conditioning import finish_generator, generator_inputs


def build_mlp_generator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    latent_dim: int = 100,
    widths: Sequence[int] = (1200, 1200),
    conditioning: str = "none",
) -> keras.Model:
    """Latent (B, latent_dim) float32 [+ labels int32 (B,)] -> images (B, H, W, C) in [-1, 1]."""
    inputs, x, _ = generator_inputs(
        latent_dim, num_classes, conditioning, "generator", choices=("none", "embedding")
    )
    for width in widths:
        x = layers.Dense(int(width), activation="relu")(x)
    x = layers.Dense(math.prod(image_shape), activation="tanh", dtype="float32")(x)
    images = layers.Reshape(tuple(image_shape), dtype="float32")(x)
    return finish_generator(
        inputs,
        images,
        name="mlp_generator",
        latent_dim=latent_dim,
        num_classes=num_classes,
        conditioning=conditioning,
    )
