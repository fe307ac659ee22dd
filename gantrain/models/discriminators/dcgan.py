"""DCGAN discriminator of our origin document.

[Conv2D(w, 5, s2) -> LeakyReLU -> Dropout(0.3) for w in widths] -> Flatten -> Dense(1).
Dropout masks are drawn for the global batch (`GlobalBatchDropout`), so replicas differ.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.global_batch import GlobalBatchDropout


def build_dcgan_discriminator(
    *,
    image_shape: tuple[int, int, int],
    widths: Sequence[int] = (64, 128),
    kernel_size: int = 5,
    negative_slope: float = 0.2,
    dropout: float = 0.3,
) -> keras.Model:
    """Images (B, H, W, C) in [-1, 1] -> logits (B, 1) float32."""
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    for width in widths:
        x = layers.Conv2D(int(width), kernel_size, strides=2, padding="same")(x)
        x = layers.LeakyReLU(negative_slope)(x)
        if dropout:
            # Masks drawn for the global batch: replicas must not share dropout patterns.
            x = GlobalBatchDropout(dropout)(x)
    x = layers.Flatten()(x)
    logits = layers.Dense(1, dtype="float32")(x)
    return keras.Model(images, logits, name="dcgan_discriminator")
