"""StyleGAN2 discriminator (Karras et al. 2020; reference NVlabs/stylegan2-ada-pytorch
`training/networks.py` Discriminator, DiscriminatorBlock, DiscriminatorEpilogue,
MinibatchStdLayer), channels-last.

images (B, R, R, C) -> a block per resolution R, R/2, ..., 8: [FromRGB 1x1 lrelu] -> 3x3 conv
lrelu -> 3x3 conv lrelu with FIR [1,3,3,1] x2 down; `resnet` (reference default) adds a 1x1
FIR-down skip connection, both branches times sqrt(0.5); `skip` feeds every block a FromRGB of
the FIR-downsampled image; `orig` neither. Epilogue at 4x4: minibatch standard deviation
(group_size 4, 1 channel) -> 3x3 conv -> fully connected (lrelu) -> out. All layers use
equalized learning rate. Channels at resolution r: min(channel_base // r, channel_max).

Class conditioning (`conditioning=projection`) is the reference's: a mapping network of the
label (no z, `mapping_layers` fully connected layers with lr multiplier 0.01, width cmap_dim =
the 4x4 channels by default) gives cmap; out has cmap_dim values and the logit is
sum(out * cmap) / sqrt(cmap_dim). The model then takes [images, labels int32 (B,)].
Logits (B, 1) float32. Under a mixed Keras policy the highest `num_fp16_res` resolutions
compute in float16 (the epilogue always in float32), as the reference.

Departures: labels are int class ids (the reference embeds one-hot vectors: the same
function); the minibatch-std group shrinks to a divisor of the batch instead of failing
(MinibatchStd below); the 4x4 features are flattened in the reference's (C, H, W)
order so its fully connected weights would line up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import layers, saving

from gantrain.errors import ConfigError
from gantrain.models.conditioning import check_conditioning
from gantrain.models.generators.stylegan2 import ARCHITECTURES, check_image_shape
from gantrain.models.resample import FIRResample2D
from gantrain.models.stylegan2_layers import (
    DEFAULT_FILTER,
    EqualizedConv2D,
    FullyConnected,
    LabelMapping,
    _StyleGAN2Layer,
    block_dtype,
    channels_for,
    default_conv_clamp,
)


@saving.register_keras_serializable(package="gantrain")
class MinibatchStd(_StyleGAN2Layer):
    """The reference's MinibatchStdLayer: x (N, H, W, C) -> (N, H, W, C + num_channels).

    The batch is split into groups of G = min(group_size, N) examples (group j holds
    examples j, j + N/G, j + 2N/G, ... as the reference's reshape); per group, the standard
    deviation of each feature over its members, averaged over pixels and the C / num_channels
    channels of each of `num_channels` channel groups, is appended to every member as
    constant channels. Departure: the reference needs N divisible by G and fails otherwise;
    here G becomes the largest divisor of N not above group_size (so odd evaluation batches
    work; training batches that are multiples of group_size are unaffected). Statistics are
    per replica under a multi-replica strategy, as the reference's per-GPU batches.
    """

    couples_batch = True  # one example's output depends on the others (training/phases.py)

    def __init__(self, group_size: int | None = 4, num_channels: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group_size = None if group_size is None else int(group_size)
        self.num_channels = int(num_channels)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        x = tf.cast(x, self.compute_dtype)
        shape = tf.shape(x)
        n, h, w = shape[0], shape[1], shape[2]
        channels = int(x.shape[-1])
        f = self.num_channels
        if self.group_size is None:
            groups = n
        else:
            candidates = tf.range(1, self.group_size + 1)
            fits = tf.equal(n % candidates, 0) & (candidates <= n)
            groups = tf.reduce_max(tf.where(fits, candidates, 1))
        y = tf.reshape(x, [groups, -1, h, w, f, channels // f])
        y = y - tf.reduce_mean(y, axis=0)
        y = tf.reduce_mean(tf.square(y), axis=0)
        y = tf.sqrt(y + 1e-8)
        y = tf.reduce_mean(y, axis=[1, 2, 4])  # (n / G, F)
        y = tf.tile(y[None, :, None, None, :], [groups, 1, h, w, 1])
        y = tf.reshape(y, [n, h, w, f])
        return tf.concat([x, y], axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], input_shape[-1] + self.num_channels)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "group_size": self.group_size,
            "num_channels": self.num_channels,
        }


@saving.register_keras_serializable(package="gantrain")
class DiscriminatorBlock(_StyleGAN2Layer):
    """conv0 (3x3 lrelu) -> conv1 (3x3 lrelu, x2 FIR down) [+ resnet skip, 1x1 x2 down, no
    bias, both branches times sqrt(0.5)]: x (B, r, r, tmp) -> (B, r/2, r/2, out). The FromRGB
    of the reference's block is its own layer in the model graph."""

    def __init__(
        self,
        tmp_channels: int,
        out_channels: int,
        *,
        architecture: str = "resnet",
        activation: str = "lrelu",
        resample_filter: Sequence[float] = DEFAULT_FILTER,
        conv_clamp: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tmp_channels = int(tmp_channels)
        self.out_channels = int(out_channels)
        self.architecture = architecture
        self.activation = activation
        self.resample_filter = [float(t) for t in resample_filter]
        self.conv_clamp = conv_clamp
        common = dict(activation=activation, conv_clamp=conv_clamp, dtype=self.dtype_policy)
        self.conv0 = EqualizedConv2D(tmp_channels, 3, name="conv0", **common)
        self.conv1 = EqualizedConv2D(
            out_channels, 3, down=2, resample_filter=self.resample_filter, name="conv1", **common
        )
        self.skip = None
        if architecture == "resnet":
            self.skip = EqualizedConv2D(
                out_channels,
                1,
                use_bias=False,
                down=2,
                resample_filter=self.resample_filter,
                dtype=self.dtype_policy,
                name="skip",
            )

    def build(self, input_shape: Any = None) -> None:
        shape = (None, None, None, self.tmp_channels)
        self.conv0.build(shape)
        self.conv1.build(shape)
        if self.skip is not None:
            self.skip.build(shape)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        x = tf.cast(x, self.compute_dtype)
        if self.skip is not None:
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
            return y + x
        return self.conv1(self.conv0(x))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, _ = input_shape
        half = [None if n is None else n // 2 for n in (height, width)]
        return (batch, *half, self.out_channels)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "tmp_channels": self.tmp_channels,
            "out_channels": self.out_channels,
            "architecture": self.architecture,
            "activation": self.activation,
            "resample_filter": self.resample_filter,
            "conv_clamp": self.conv_clamp,
        }


@saving.register_keras_serializable(package="gantrain")
class DiscriminatorEpilogue(_StyleGAN2Layer):
    """The reference's DiscriminatorEpilogue, in float32: call(x, img=None, cmap=None) ->
    logits (B, 1). x (B, 4, 4, C); img the 4x4 image for `skip`; cmap (B, cmap_dim) for the
    projection."""

    def __init__(
        self,
        in_channels: int,
        *,
        cmap_dim: int = 0,
        resolution: int = 4,
        img_channels: int = 3,
        architecture: str = "resnet",
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        activation: str = "lrelu",
        conv_clamp: float | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.in_channels = int(in_channels)
        self.cmap_dim = int(cmap_dim)
        self.resolution = int(resolution)
        self.img_channels = int(img_channels)
        self.architecture = architecture
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_num_channels = int(mbstd_num_channels)
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.fromrgb = None
        if architecture == "skip":
            self.fromrgb = EqualizedConv2D(
                in_channels, 1, activation=activation, dtype="float32", name="fromrgb"
            )
        self.mbstd = None
        if self.mbstd_num_channels > 0:
            self.mbstd = MinibatchStd(
                mbstd_group_size, self.mbstd_num_channels, dtype="float32", name="mbstd"
            )
        self.conv = EqualizedConv2D(
            in_channels, 3, activation=activation, conv_clamp=conv_clamp, dtype="float32",
            name="conv",
        )  # fmt: skip
        self.fc = FullyConnected(in_channels, activation=activation, dtype="float32", name="fc")
        self.out = FullyConnected(self.cmap_dim or 1, dtype="float32", name="out")

    def build(self, input_shape: Any = None) -> None:
        if self.fromrgb is not None:
            self.fromrgb.build((None, None, None, self.img_channels))
        self.conv.build((None, None, None, self.in_channels + self.mbstd_num_channels))
        self.fc.build((None, self.in_channels * self.resolution**2))
        self.out.build((None, self.in_channels))

    def call(
        self, x: tf.Tensor, img: tf.Tensor | None = None, cmap: tf.Tensor | None = None
    ) -> tf.Tensor:
        x = tf.cast(x, tf.float32)
        if self.fromrgb is not None:
            x = x + self.fromrgb(tf.cast(img, tf.float32))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        # The reference flattens NCHW: (C, H, W) order.
        x = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [tf.shape(x)[0], -1])
        x = self.out(self.fc(x))
        if self.cmap_dim > 0:
            cmap = tf.cast(cmap, tf.float32)
            x = tf.reduce_sum(x * cmap, axis=1, keepdims=True) * (1.0 / math.sqrt(self.cmap_dim))
        return x

    def compute_output_spec(self, x: Any, img: Any = None, cmap: Any = None) -> keras.KerasTensor:
        return keras.KerasTensor((x.shape[0], 1), dtype="float32")

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "in_channels": self.in_channels,
            "cmap_dim": self.cmap_dim,
            "resolution": self.resolution,
            "img_channels": self.img_channels,
            "architecture": self.architecture,
            "mbstd_group_size": self.mbstd_group_size,
            "mbstd_num_channels": self.mbstd_num_channels,
            "activation": self.activation,
            "conv_clamp": self.conv_clamp,
        }


def build_stylegan2_discriminator(
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    architecture: str = "resnet",
    channel_base: int = 32768,
    channel_max: int = 512,
    num_fp16_res: int = 0,
    conv_clamp: float | None = None,
    cmap_dim: int | None = None,
    mapping_layers: int = 8,
    mapping_lr_multiplier: float = 0.01,
    mbstd_group_size: int | None = 4,
    mbstd_num_channels: int = 1,
    resample_filter: Sequence[float] = DEFAULT_FILTER,
    conditioning: str = "none",
) -> keras.Model:
    """Images (B, R, R, C) [+ labels int32 (B,)] -> logits (B, 1) float32."""
    check_conditioning(conditioning, ("none", "projection"), num_classes, "discriminator")
    # The reference's smallest block is 8x8 (its epilogue is 4x4 and takes a block's output).
    side = check_image_shape(image_shape, "discriminator=stylegan2", 8)
    if architecture not in ARCHITECTURES:
        raise ConfigError(
            f"discriminator.architecture={architecture!r}: choose one of "
            f"{', '.join(ARCHITECTURES)}."
        )
    clamp = default_conv_clamp(conv_clamp, num_fp16_res)
    filter_taps = [float(t) for t in resample_filter]
    log2 = round(math.log2(side))
    fp16_resolution = max(2 ** (log2 + 1 - int(num_fp16_res)), 8)

    images = keras.Input(tuple(image_shape), name="images")
    x, img = None, images
    for res in [2**i for i in range(log2, 2, -1)]:
        tmp = channels_for(res, channel_base, channel_max)
        dtype = block_dtype(res >= fp16_resolution)
        if x is None or architecture == "skip":
            y = EqualizedConv2D(
                tmp, 1, activation="lrelu", conv_clamp=clamp, dtype=dtype, name=f"b{res}_fromrgb"
            )(img)
            x = y if x is None else layers.Add(dtype=dtype, name=f"b{res}_add")([x, y])
            if architecture == "skip":
                img = FIRResample2D(
                    "down", filter_taps, inplace=True, dtype=dtype, name=f"b{res}_img_down"
                )(img)
        x = DiscriminatorBlock(
            tmp,
            channels_for(res // 2, channel_base, channel_max),
            architecture=architecture,
            resample_filter=filter_taps,
            conv_clamp=clamp,
            dtype=dtype,
            name=f"b{res}",
        )(x)

    conditional = conditioning == "projection"
    in_channels = channels_for(4, channel_base, channel_max)
    cmap_size = int(cmap_dim or in_channels) if conditional else 0
    epilogue = DiscriminatorEpilogue(
        in_channels,
        cmap_dim=cmap_size,
        img_channels=int(image_shape[-1]),
        architecture=architecture,
        mbstd_group_size=mbstd_group_size,
        mbstd_num_channels=mbstd_num_channels,
        conv_clamp=clamp,
        name="b4",
    )
    skip_img = img if architecture == "skip" else None
    if not conditional:
        logits = epilogue(x, skip_img)
        model = keras.Model(images, logits, name="stylegan2_discriminator")
        model.num_classes = 0
    else:
        labels = keras.Input((), dtype="int32", name="labels")
        cmap = LabelMapping(
            num_classes=num_classes,
            w_dim=cmap_size,
            num_layers=mapping_layers,
            lr_multiplier=mapping_lr_multiplier,
            name="mapping",
        )(labels)
        logits = epilogue(x, skip_img, cmap=cmap)
        model = keras.Model([images, labels], logits, name="stylegan2_discriminator")
        model.num_classes = int(num_classes)
    model.auxiliary_classes = 0
    return model
