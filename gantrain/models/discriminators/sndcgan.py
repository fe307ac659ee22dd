"""The "standard CNN" discriminator of the SN-GAN paper (Miyato et al. 2018, Table 3),
compare_gan's `sndcgan`.

Conv(widths[0], 3, s1) -> LReLU(0.1) -> [Conv(w, 4, s2) -> LReLU -> Conv(w, 3, s1) -> LReLU
for w in widths[1:]] -> Flatten -> Dense(1). The default widths (64, 128, 256, 512) are
compare_gan's layout of the paper's network (the paper's Table 3 downsamples before widening;
the layer count and widths are the same), with 3 downsamplings. `normalization`: spectral
(the paper's), batch, layer or none, applied to every convolution but the first.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.models.conditioning import discriminator_inputs, finish_discriminator
from gantrain.models.layers import conv2d, feature_norm


def build_sndcgan_discriminator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    widths: Sequence[int] = (64, 128, 256, 512),
    negative_slope: float = 0.1,
    normalization: str = "spectral",
    conditioning: str = "none",
) -> keras.Model:
    """Images (B, H, W, C) in [-1, 1] [+ labels] -> logits (B, 1) float32 (see conditioning)."""
    images, labels = discriminator_inputs(
        image_shape, num_classes, conditioning, "discriminator", normalization
    )
    spectral = normalization == "spectral"
    widths = [int(w) for w in widths]

    def conv(x: keras.KerasTensor, width: int, size: int, stride: int, first: bool = False):
        x = conv2d(width, size, spectral=spectral, strides=stride, padding="same")(x)
        if not first:
            x = feature_norm(x, normalization)
        return layers.LeakyReLU(negative_slope)(x)

    x = conv(images, widths[0], 3, 1, first=True)
    for width in widths[1:]:
        x = conv(x, width, 4, 2)
        x = conv(x, width, 3, 1)
    features = layers.Flatten()(x)
    return finish_discriminator(
        images,
        labels,
        features,
        name="sndcgan_discriminator",
        num_classes=num_classes,
        conditioning=conditioning,
        spectral=spectral,
    )
