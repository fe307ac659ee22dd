"""ResNet discriminator of the SN-GAN paper for 32x32 images (Miyato et al. 2018, Table 4; the
reference implementation pfnet-research/sngan_projection `dis_models/snresnet_32.py`).

Block 1 ("optimized"): main Conv 3x3 -> ReLU -> Conv 3x3 -> AvgPool; shortcut AvgPool ->
Conv 1x1. Blocks 2..n: main [norm] -> ReLU -> Conv 3x3 -> [norm] -> ReLU -> Conv 3x3 ->
(AvgPool); shortcut Conv 1x1 (-> AvgPool), or the identity when neither width nor size change.
Then ReLU -> sum (SN-GAN) or mean (WGAN-GP, compare_gan) over space -> Dense(1).

The first `downsamples` blocks halve the resolution: SN-GAN's CIFAR-10 critic is 4 blocks of
128 channels, the first two downsampling. `normalization`: spectral (SN-GAN), layer (the
WGAN-GP paper's option), batch or none (WGAN-GP's CIFAR-10 ResNet critic).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from gantrain.errors import ConfigError
from gantrain.models.conditioning import discriminator_inputs, finish_discriminator
from gantrain.models.layers import conv2d, feature_norm


def build_resnet_discriminator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    widths: Sequence[int] = (128, 128, 128, 128),
    downsamples: int = 2,
    pooling: str = "sum",
    normalization: str = "spectral",
    conditioning: str = "none",
) -> keras.Model:
    """Images (B, H, W, C) in [-1, 1] [+ labels] -> logits (B, 1) float32 (see conditioning)."""
    widths = [int(w) for w in widths]
    if not 1 <= downsamples <= len(widths):
        raise ConfigError(
            f"discriminator.downsamples={downsamples}: must be between 1 and the number of "
            f"blocks ({len(widths)})."
        )
    if pooling not in ("sum", "mean"):
        raise ConfigError(f"discriminator.pooling={pooling!r}: choose sum or mean.")
    images, labels = discriminator_inputs(
        image_shape, num_classes, conditioning, "discriminator", normalization
    )
    spectral = normalization == "spectral"

    def conv(width: int, size: int) -> layers.Layer:
        return conv2d(width, size, spectral=spectral, padding="same")

    def norm_relu(x: keras.KerasTensor) -> keras.KerasTensor:
        return layers.ReLU()(feature_norm(x, normalization))

    # Block 1: no activation before the first convolution (it sees raw pixels).
    h = conv(widths[0], 3)(images)
    h = layers.AveragePooling2D(2)(conv(widths[0], 3)(layers.ReLU()(h)))
    shortcut = conv(widths[0], 1)(layers.AveragePooling2D(2)(images))
    x = layers.Add()([h, shortcut])
    for i, width in enumerate(widths[1:], start=1):
        down = i < downsamples
        h = conv(width, 3)(norm_relu(x))
        h = conv(width, 3)(norm_relu(h))
        shortcut = x
        if down or width != x.shape[-1]:
            shortcut = conv(width, 1)(x)
        if down:
            h = layers.AveragePooling2D(2)(h)
            shortcut = layers.AveragePooling2D(2)(shortcut)
        x = layers.Add()([h, shortcut])
    x = layers.ReLU()(x)
    features = layers.GlobalAveragePooling2D()(x)
    if pooling == "sum":
        features = layers.Rescaling(float(x.shape[1] * x.shape[2]), name="global_sum")(features)
    return finish_discriminator(
        images,
        labels,
        features,
        name="resnet_discriminator",
        num_classes=num_classes,
        conditioning=conditioning,
        spectral=spectral,
    )
