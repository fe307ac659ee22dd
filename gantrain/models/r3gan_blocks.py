"""The building blocks of R3GAN (Huang et al., NeurIPS 2024, "The GAN is dead; long live the
GAN!"), as its reference brownvc/R3GAN `R3GAN/Networks.py` defines them, channels-last.

- No normalization layers anywhere; convolutions have no bias, a separate bias precedes every
  leaky ReLU (slope 0.2) and the output layer of every residual branch starts at zero.
- MSR ("fix-up style") initialization: weights ~ N(0, gain / sqrt(fan_in)); inside a residual
  block the two first layers use gain = sqrt(2 / (1 + 0.2^2)) * L^(-1/4), L the total number of
  residual blocks of the network (the variance-scaling parameter), the last one gain 0.
- Residual block: 1x1 conv (C -> C * expansion), bias + lrelu, grouped k x k conv
  (`cardinality` groups), bias + lrelu, 1x1 conv back to C; x + branch.
- Resampling: the [1, 2, 1] interpolative FIR filter (gantrain/models/resample.py), a 1x1
  conv where the width changes (before upsampling, after downsampling).

The grouped convolution is written from ops that have gradients on CPU (TensorFlow's own
grouped `conv2d` has none there, see DESIGN.md): one ordinary convolution per group. It
computes the same function as `tf.nn.conv2d` with a (k, k, C_in / groups, C_out) kernel
(tested).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf
from keras import initializers, layers, saving

# Gain of leaky ReLU with slope 0.2 (the reference's BiasedActivation.Gain).
LRELU_GAIN = math.sqrt(2.0 / (1.0 + 0.2**2))


def msr_initializer(fan_in: int, gain: float = 1.0) -> initializers.Initializer:
    """N(0, gain / sqrt(fan_in)), the reference's MSRInitializer; zeros for gain 0."""
    if gain == 0:
        return initializers.Zeros()
    return initializers.RandomNormal(stddev=gain / math.sqrt(fan_in))


def pointwise(width: int, fan_in: int, gain: float = 1.0, name: str | None = None) -> layers.Layer:
    """A bias-free 1x1 convolution with MSR initialization."""
    return layers.Conv2D(
        width, 1, use_bias=False, kernel_initializer=msr_initializer(fan_in, gain), name=name
    )


def grouped_conv2d(x: tf.Tensor, kernel: tf.Tensor, kernel_size: int) -> tf.Tensor:
    """'same' grouped convolution of NHWC `x` with `kernel` (k*k, groups, C_in/g, C_out/g).

    One ordinary convolution per group on its slice of the channels, concatenated: plain
    `conv2d` ops, whose gradients exist on CPU (TensorFlow's grouped conv2d has none there).
    Measured on CPU (batch 32, 28x28, 128 channels, 8 groups, forward + backward): 50x faster
    than gathering the k x k patches for one einsum, 8x faster than a block-diagonal dense
    kernel.
    """
    k = kernel_size
    taps, groups, per_in, per_out = kernel.shape
    if taps != k * k:
        raise ValueError(f"kernel has {taps} taps, expected {k * k}")
    kernel = tf.reshape(kernel, [k, k, groups, per_in, per_out])
    if groups == 1:
        return tf.nn.conv2d(x, kernel[:, :, 0], strides=1, padding="SAME")
    slices = tf.split(x, groups, axis=-1)
    outputs = [
        tf.nn.conv2d(part, kernel[:, :, g], strides=1, padding="SAME")
        for g, part in enumerate(slices)
    ]
    return tf.concat(outputs, axis=-1)


@saving.register_keras_serializable(package="gantrain")
class GroupedConv2D(layers.Layer):
    """Bias-free k x k 'same' convolution in `groups` groups, with gradients on every device.

    Kernel (k, k, groups, C_in / groups, C_out / groups), MSR-initialized with fan-in
    k * k * C_in / groups as the reference's grouped `nn.Conv2d`.
    """

    def __init__(
        self, filters: int, kernel_size: int, groups: int, gain: float = 1.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.groups = int(groups)
        self.gain = float(gain)

    def build(self, input_shape: tuple) -> None:
        channels = int(input_shape[-1])
        if channels % self.groups or self.filters % self.groups:
            raise ValueError(
                f"channels in ({channels}) and out ({self.filters}) must be multiples of the "
                f"cardinality ({self.groups})"
            )
        per_group_in = channels // self.groups
        fan_in = self.kernel_size * self.kernel_size * per_group_in
        self.kernel = self.add_weight(
            name="kernel",
            shape=(
                self.kernel_size * self.kernel_size,
                self.groups,
                per_group_in,
                self.filters // self.groups,
            ),
            initializer=msr_initializer(fan_in, self.gain),
        )

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return grouped_conv2d(x, tf.cast(self.kernel, x.dtype), self.kernel_size)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.filters)

    def dense_kernel(self) -> tf.Tensor:
        """The same weights as a (k, k, C_in / groups, C_out) kernel for `tf.nn.conv2d`'s
        grouped form (output channel o belongs to group o // (C_out / groups))."""
        k = self.kernel_size
        _, groups, per_in, per_out = self.kernel.shape
        kernel = tf.reshape(self.kernel, [k, k, groups, per_in, per_out])
        kernel = tf.transpose(kernel, [0, 1, 3, 2, 4])  # (k, k, in/g, g, out/g)
        return tf.reshape(kernel, [k, k, per_in, groups * per_out])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "groups": self.groups,
            "gain": self.gain,
        }


@saving.register_keras_serializable(package="gantrain")
class BiasedLeakyReLU(layers.Layer):
    """x + bias (per channel, starts at 0) -> leaky ReLU 0.2 (the reference's BiasedActivation;
    its fused op uses gain 1, so no gain is applied here)."""

    def build(self, input_shape: tuple) -> None:
        self.bias = self.add_weight(name="bias", shape=(int(input_shape[-1]),), initializer="zeros")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.leaky_relu(x + tf.cast(self.bias, x.dtype), alpha=0.2)


def residual_block(
    x: keras.KerasTensor,
    *,
    cardinality: int,
    expansion: int,
    kernel_size: int,
    variance_scaling: int,
) -> keras.KerasTensor:
    """x + (1x1 expand -> act -> grouped kxk -> act -> 1x1 reduce, zero-initialized)."""
    channels = int(x.shape[-1])
    expanded = channels * int(expansion)
    # Three linear layers per branch: L^(-1 / (2 * 3 - 2)) keeps the sum of L branches stable.
    gain = LRELU_GAIN * float(variance_scaling) ** (-1.0 / 4.0)
    y = pointwise(expanded, channels, gain)(x)
    y = GroupedConv2D(expanded, kernel_size, cardinality, gain=gain)(BiasedLeakyReLU()(y))
    y = pointwise(channels, expanded, gain=0.0)(BiasedLeakyReLU()(y))
    return layers.Add()([x, y])


@saving.register_keras_serializable(package="gantrain")
class GenerativeBasis(layers.Layer):
    """z (B, D) -> basis (S, S, C) * Linear(z) (B, 1, 1, C): G's first feature map.

    The basis starts N(0, 1), the bias-free linear layer MSR (gain 1). The reference's basis
    is 4x4; `size` is S (4 for 32x32 and up; 7 lets the same net reach 28x28).
    """

    def __init__(self, channels: int, size: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.size = int(size)

    def build(self, input_shape: tuple) -> None:
        fan_in = int(input_shape[-1])
        self.basis = self.add_weight(
            name="basis",
            shape=(self.size, self.size, self.channels),
            initializer=initializers.RandomNormal(stddev=1.0),
        )
        self.linear = self.add_weight(
            name="linear", shape=(fan_in, self.channels), initializer=msr_initializer(fan_in)
        )

    def call(self, z: tf.Tensor) -> tf.Tensor:
        scale = tf.matmul(z, tf.cast(self.linear, z.dtype))
        return tf.cast(self.basis, z.dtype)[None] * scale[:, None, None, :]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "channels": self.channels, "size": self.size}


def check_stages(
    widths: list[int], cardinalities: list[int], blocks: list[int], expansion: int, where: str
) -> None:
    """One width, cardinality and block count per stage; expanded widths divisible by the
    cardinality (the grouped convolution runs on width * expansion channels)."""
    from gantrain.errors import ConfigError

    if not widths or not (len(widths) == len(cardinalities) == len(blocks)):
        raise ConfigError(
            f"{where}.widths, .cardinalities and .blocks need one entry per stage each "
            f"(got {len(widths)}, {len(cardinalities)}, {len(blocks)})."
        )
    if expansion < 1:
        raise ConfigError(f"{where}.expansion={expansion}: must be >= 1.")
    for width, cardinality, count in zip(widths, cardinalities, blocks, strict=True):
        if width <= 0 or cardinality <= 0 or count < 0:
            raise ConfigError(f"{where}: widths and cardinalities must be > 0, blocks >= 0.")
        if (width * expansion) % cardinality:
            raise ConfigError(
                f"{where}: width {width} x expansion {expansion} is not a multiple of its "
                f"cardinality {cardinality}."
            )


@dataclass(frozen=True)
class StagePlan:
    """Widths, cardinalities and residual blocks per stage, shared by R3GAN's G and D."""

    widths: tuple[int, ...]
    cardinalities: tuple[int, ...]
    blocks: tuple[int, ...]
    expansion: int
    kernel_size: int

    @classmethod
    def checked(
        cls,
        widths: Sequence[int],
        cardinalities: Sequence[int],
        blocks: Sequence[int],
        expansion: int,
        kernel_size: int,
        where: str,
    ) -> StagePlan:
        plan = cls(
            tuple(int(v) for v in widths),
            tuple(int(v) for v in cardinalities),
            tuple(int(v) for v in blocks),
            int(expansion),
            int(kernel_size),
        )
        check_stages(
            list(plan.widths), list(plan.cardinalities), list(plan.blocks), plan.expansion, where
        )
        return plan

    @property
    def variance_scaling(self) -> int:
        """L, the network's number of residual blocks (the fix-up initialization's)."""
        return max(sum(self.blocks), 1)

    def residual_blocks(self, x: keras.KerasTensor, stage: int) -> keras.KerasTensor:
        """Stage `stage`'s residual blocks applied to x."""
        for _ in range(self.blocks[stage]):
            x = residual_block(
                x,
                cardinality=self.cardinalities[stage],
                expansion=self.expansion,
                kernel_size=self.kernel_size,
                variance_scaling=self.variance_scaling,
            )
        return x
