"""BigGAN generator (Brock et al. 2019) as StudioGAN's `src/models/big_resnet.py` builds it
for 32x32 (CIFAR-10), 64x64 and 128x128 images.

z (B, z_dim) is split into len(blocks) + 1 chunks (the hierarchical latent): chunk 0 feeds a
linear layer to a 4x4 map; chunk i + 1, concatenated with the shared class embedding (when
conditional), conditions every batch norm of block i (`LinearConditionalBatchNorm`).
A block: cBN -> ReLU -> nearest x2 -> conv 3x3 -> cBN -> ReLU -> conv 3x3, plus an upsampled
1x1-conv shortcut. Self-attention follows the blocks listed in `attention_blocks` (1-based,
StudioGAN's `attn_g_loc`); then BN -> ReLU -> conv 3x3 -> tanh. Every convolution, linear
layer and cBN projection is spectrally normalized (`spectral`), weights start orthogonal
(StudioGAN's `g_init: ortho`), biases at 0; the shared embedding is a plain embedding.

Channel multipliers of `channels` (StudioGAN's `g_conv_dim`, 96 for CIFAR-10), per block:
32: in 4,4,4 / out 4,4,4; 64: 16,8,4,2 / 8,4,2,1; 128: 16,16,8,4,2 / 16,8,4,2,1.
Unconditional (`conditioning=none`, StudioGAN's "W/O"): the cBN see the z chunks alone.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from gantrain.errors import ConfigError
from gantrain.models.biggan_layers import LinearConditionalBatchNorm, SelfAttention, ZChunks
from gantrain.models.conditioning import check_conditioning, finish_generator
from gantrain.models.global_batch import global_batch_norm
from gantrain.models.layers import conv2d, dense
from gantrain.models.shapes import base_resolution

# Side -> (input multipliers, output multipliers) of the up blocks (StudioGAN's collections).
CHANNEL_MULTIPLIERS = {
    32: ((4, 4, 4), (4, 4, 4)),
    64: ((16, 8, 4, 2), (8, 4, 2, 1)),
    128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1)),
}


def check_biggan_side(image_shape: tuple[int, int, int], architecture: str) -> int:
    """The image side, one of the reference's resolutions, or a ConfigError."""
    side = int(image_shape[0])
    if image_shape[0] != image_shape[1] or side not in CHANNEL_MULTIPLIERS:
        # The contract's wording for shapes an architecture cannot produce.
        raise ConfigError(
            f"{architecture} cannot produce {image_shape[0]}x{image_shape[1]} images: BigGAN "
            f"has configurations for {', '.join(f'{s}x{s}' for s in CHANNEL_MULTIPLIERS)}."
        )
    return side


def build_biggan_generator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    latent_dim: int = 80,
    shared_dim: int = 128,
    channels: int = 96,
    attention_blocks: tuple[int, ...] = (2,),
    spectral: bool = True,
    conditioning: str = "cbn",
    initializer: str = "orthogonal",
) -> keras.Model:
    """Latent (B, latent_dim) float32 [+ labels int32 (B,)] -> images (B, H, W, C) in [-1, 1]."""
    side = check_biggan_side(image_shape, "generator=biggan")
    check_conditioning(conditioning, ("none", "cbn"), num_classes, "generator")
    ins, outs = CHANNEL_MULTIPLIERS[side]
    num_blocks = len(ins)
    if latent_dim % (num_blocks + 1):
        raise ConfigError(
            f"generator.latent_dim={latent_dim}: BigGAN splits z into {num_blocks + 1} chunks at "
            f"{side}x{side}; use a multiple of {num_blocks + 1} (80 for 32x32, 120 for 128x128)."
        )
    base = base_resolution(image_shape, num_blocks, "generator=biggan")
    options = {"spectral": spectral, "kernel_initializer": initializer}
    replicas = tf.distribute.get_strategy().num_replicas_in_sync

    z = keras.Input((latent_dim,), name="latent")
    inputs = [z]
    split = ZChunks(num_blocks + 1, name="z_chunks")(z)
    shared = None
    if conditioning == "cbn":
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        shared = layers.Embedding(
            num_classes, shared_dim, embeddings_initializer=initializer, name="shared_embedding"
        )(labels)
    x = dense(ins[0] * channels * base * base, name="linear0", **options)(split[0])
    x = layers.Reshape((base, base, ins[0] * channels))(x)
    for index in range(num_blocks):
        affine = split[index + 1]
        if shared is not None:
            affine = layers.Concatenate(name=f"affine_{index}")([shared, affine])
        width = outs[index] * channels

        def cbn_relu(h: keras.KerasTensor, a: keras.KerasTensor = affine) -> keras.KerasTensor:
            # Statistics over the global batch under multi-replica strategies.
            h = LinearConditionalBatchNorm(
                spectral=spectral, initializer=initializer, synchronized=replicas > 1
            )([h, a])
            return layers.ReLU()(h)

        shortcut = conv2d(width, 1, padding="same", **options)(layers.UpSampling2D(2)(x))
        h = layers.UpSampling2D(2)(cbn_relu(x))
        h = conv2d(width, 3, padding="same", **options)(h)
        h = conv2d(width, 3, padding="same", **options)(cbn_relu(h))
        x = layers.Add()([h, shortcut])
        if index + 1 in tuple(attention_blocks):
            x = SelfAttention(spectral=spectral, initializer=initializer)(x)
    x = layers.ReLU()(global_batch_norm(epsilon=1e-4, momentum=0.9)(x))
    images = conv2d(
        image_shape[-1], 3, padding="same", activation="tanh", dtype="float32", **options
    )(x)
    return finish_generator(
        inputs,
        images,
        name="biggan_generator",
        latent_dim=latent_dim,
        num_classes=num_classes,
        conditioning=conditioning,
    )
