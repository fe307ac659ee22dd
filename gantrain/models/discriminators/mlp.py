"""Fully connected maxout discriminator of the original GAN paper (Goodfellow et al. 2014; its
pylearn2 MNIST model: two maxout layers of 240 units x 5 pieces with dropout).

Flatten -> [Maxout(w, pieces) -> Dropout for w in widths] -> Dense(1) logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.conditioning import discriminator_inputs, finish_discriminator
from gantrain.models.global_batch import GlobalBatchDropout
from gantrain.models.layers import Maxout


def build_mlp_discriminator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    widths: Sequence[int] = (240, 240),
    pieces: int = 5,
    dropout: float = 0.5,
    conditioning: str = "none",
) -> keras.Model:
    """Images (B, H, W, C) in [-1, 1] [+ labels] -> logits (B, 1) float32 (see conditioning)."""
    images, labels = discriminator_inputs(image_shape, num_classes, conditioning, "discriminator")
    x = layers.Flatten()(images)
    for width in widths:
        x = Maxout(int(width), int(pieces))(x)
        if dropout:
            x = GlobalBatchDropout(dropout)(x)
    return finish_discriminator(
        images,
        labels,
        x,
        name="mlp_discriminator",
        num_classes=num_classes,
        conditioning=conditioning,
        spectral=False,
    )
