"""BigGAN discriminator (Brock et al. 2019) as StudioGAN's `src/models/big_resnet.py` builds
it for 32x32, 64x64 and 128x128 images, with the projection head (StudioGAN's `PD`).

Block 1 ("optimized"): conv 3x3 -> ReLU -> conv 3x3 -> avg-pool, shortcut avg-pool -> conv 1x1.
Later blocks: ReLU -> conv 3x3 -> ReLU -> conv 3x3 [-> avg-pool], shortcut conv 1x1 [-> pool]
when the block downsamples or changes width. Self-attention follows the blocks listed in
`attention_blocks` (1-based, StudioGAN's `attn_d_loc`). Then ReLU -> sum over space ->
linear logit (+ <embed(y), h> with `conditioning=projection`). Everything spectrally
normalized, weights orthogonal at start (StudioGAN's `d_init: ortho`).

Channel multipliers of `channels` (`d_conv_dim`, 96 for CIFAR-10) per block, with the blocks
that downsample: 32: 2,2,2,2 (down, down, -, -); 64: 1,2,4,8,16 (down x4, -);
128: 1,2,4,8,16,16 (down x5, -).
"""

from __future__ import annotations

import keras
from keras import layers

from gantrain.errors import ConfigError
from gantrain.models.biggan_layers import SelfAttention
from gantrain.models.conditioning import discriminator_inputs
from gantrain.models.generators.biggan import check_biggan_side
from gantrain.models.layers import ClassProjection, conv2d, dense

# Side -> (output multipliers, downsampling flags) per block (StudioGAN's collections).
BLOCKS = {
    32: ((2, 2, 2, 2), (True, True, False, False)),
    64: ((1, 2, 4, 8, 16), (True, True, True, True, False)),
    128: ((1, 2, 4, 8, 16, 16), (True, True, True, True, True, False)),
}


def build_biggan_discriminator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    channels: int = 96,
    attention_blocks: tuple[int, ...] = (1,),
    spectral: bool = True,
    conditioning: str = "projection",
    initializer: str = "orthogonal",
) -> keras.Model:
    """Images (B, H, W, C) in [-1, 1] [+ labels int32 (B,)] -> logits (B, 1) float32."""
    side = check_biggan_side(image_shape, "discriminator=biggan")
    if conditioning not in ("none", "projection"):
        raise ConfigError(
            f"discriminator.conditioning={conditioning!r}: BigGAN's discriminator takes none "
            "or projection."
        )
    images, labels = discriminator_inputs(image_shape, num_classes, conditioning, "discriminator")
    multipliers, downs = BLOCKS[side]
    options = {"spectral": spectral, "kernel_initializer": initializer, "padding": "same"}

    def conv(width: int, size: int) -> layers.Layer:
        return conv2d(width, size, **options)

    width = multipliers[0] * channels
    h = conv(width, 3)(images)
    h = layers.AveragePooling2D(2)(conv(width, 3)(layers.ReLU()(h)))
    x = layers.Add()([h, conv(width, 1)(layers.AveragePooling2D(2)(images))])
    if 1 in tuple(attention_blocks):
        x = SelfAttention(spectral=spectral, initializer=initializer)(x)
    for index in range(1, len(multipliers)):
        width, down = multipliers[index] * channels, downs[index]
        h = conv(width, 3)(layers.ReLU()(x))
        h = conv(width, 3)(layers.ReLU()(h))
        shortcut = x
        if down or width != x.shape[-1]:
            shortcut = conv(width, 1)(x)
        if down:
            h = layers.AveragePooling2D(2)(h)
            shortcut = layers.AveragePooling2D(2)(shortcut)
        x = layers.Add()([h, shortcut])
        if index + 1 in tuple(attention_blocks):
            x = SelfAttention(spectral=spectral, initializer=initializer)(x)
    x = layers.ReLU()(x)
    features = layers.GlobalAveragePooling2D()(x)
    features = layers.Rescaling(float(x.shape[1] * x.shape[2]), name="global_sum")(features)
    logits = dense(
        1, spectral=spectral, kernel_initializer=initializer, dtype="float32", name="logit"
    )(features)
    outputs = logits
    if labels is not None:
        term = ClassProjection(
            num_classes,
            spectral=spectral,
            initializer=initializer,
            dtype="float32",
            name="projection",
        )([features, labels])
        outputs = layers.Add(dtype="float32", name="logit_plus_projection")([logits, term])
    model = keras.Model(
        [images, labels] if labels is not None else images, outputs, name="biggan_discriminator"
    )
    model.num_classes = int(num_classes) if labels is not None else 0
    model.auxiliary_classes = 0
    return model
