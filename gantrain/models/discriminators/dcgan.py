"""DCGAN discriminator of our origin document.

[Conv2D(w, 5, s2) -> [norm] -> LeakyReLU -> Dropout(0.3) for w in widths] -> Flatten -> Dense(1).

`normalization` (none by default, as the origin): `batch` or `layer` after each convolution
but the first (DCGAN leaves the input layer unnormalized), or `spectral` on every weight.
`conditioning`: `projection` or `auxiliary` (ACGAN) heads, see gantrain/models/conditioning.py.
Dropout masks are drawn for the global batch (`GlobalBatchDropout`), so replicas differ.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.conditioning import discriminator_inputs, finish_discriminator
from gantrain.models.global_batch import GlobalBatchDropout
from gantrain.models.layers import conv2d, feature_norm


def build_dcgan_discriminator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    widths: Sequence[int] = (64, 128),
    kernel_size: int = 5,
    negative_slope: float = 0.2,
    dropout: float = 0.3,
    normalization: str = "none",
    conditioning: str = "none",
) -> keras.Model:
    """Images (B, H, W, C) in [-1, 1] [+ labels] -> logits (B, 1) float32 (see conditioning)."""
    images, labels = discriminator_inputs(
        image_shape, num_classes, conditioning, "discriminator", normalization
    )
    spectral = normalization == "spectral"
    x = images
    for i, width in enumerate(widths):
        x = conv2d(int(width), kernel_size, spectral=spectral, strides=2, padding="same")(x)
        if i > 0:
            x = feature_norm(x, normalization)
        x = layers.LeakyReLU(negative_slope)(x)
        if dropout:
            # Masks drawn for the global batch: replicas must not share dropout patterns.
            x = GlobalBatchDropout(dropout)(x)
    features = layers.Flatten()(x)
    return finish_discriminator(
        images,
        labels,
        features,
        name="dcgan_discriminator",
        num_classes=num_classes,
        conditioning=conditioning,
        spectral=spectral,
    )
