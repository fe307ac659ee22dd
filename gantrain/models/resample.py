"""FIR resampling (upfirdn2d) in plain TensorFlow ops: nothing to compile, gradients on CPU.

StyleGAN2 and R3GAN resample feature maps with a separable low-pass FIR filter instead of
nearest/bilinear interpolation or pooling. NVlabs' `upfirdn2d` does, per channel: upsample by
zero insertion, pad, convolve with the (flipped) 2-D filter, keep every `down`-th sample. Here
that is a zero insertion by reshape, `tf.pad` and a depthwise convolution, so it runs on any
device and under any strategy; the filter is symmetric in every use here, so its flip is moot
but still applied for the general case.

Filters: `lowpass_filter([1, 2, 1])` follows R3GAN's `CreateLowpassKernel(..., Inplace=False)`:
the taps are convolved with [1, 1] first, so R3GAN's [1, 2, 1] is the 4-tap [1, 3, 3, 1]
filter StyleGAN2 uses, normalized to sum 1. Gains as the reference's `upsample2d` (up^2, so a
constant image keeps its value) and `downsample2d` (1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from keras import layers, saving


def lowpass_filter(taps: Sequence[float], *, inplace: bool = False) -> np.ndarray:
    """The normalized 2-D outer-product filter (K, K) float64 of 1-D `taps`.

    `inplace=False` (interpolative resampling) convolves the taps with [1, 1] first, as
    R3GAN's resamplers do; `inplace=True` uses the taps as they are.
    """
    kernel = np.asarray(taps, dtype=np.float64)
    if kernel.ndim != 1 or kernel.size == 0:
        raise ValueError(f"FIR taps must be a non-empty 1-D list, got {taps!r}")
    if not inplace:
        kernel = np.convolve(kernel, [1.0, 1.0])
    kernel = np.outer(kernel, kernel)
    return kernel / kernel.sum()


def upfirdn2d(
    x: tf.Tensor,
    kernel: np.ndarray,
    *,
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> tf.Tensor:
    """NHWC `x` upsampled by zero insertion, padded (y0, y1, x0, x1), filtered, downsampled.

    Negative padding crops. The output side is (H * up + y0 + y1 - K + 1) // down (ceil), as
    the reference's. `kernel` (K, K) is multiplied by `gain`.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    channels = x.shape[-1]
    if up > 1:
        shape = tf.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        x = tf.reshape(x, [batch, height, 1, width, 1, channels])
        x = tf.pad(x, [[0, 0], [0, 0], [0, up - 1], [0, 0], [0, up - 1], [0, 0]])
        x = tf.reshape(x, [batch, height * up, width * up, channels])
    y0, y1, x0, x1 = padding
    x = tf.pad(x, [[0, 0], [max(y0, 0), max(y1, 0)], [max(x0, 0), max(x1, 0)], [0, 0]])
    if min(padding) < 0:
        x = x[
            :,
            max(-y0, 0) : tf.shape(x)[1] - max(-y1, 0),
            max(-x0, 0) : tf.shape(x)[2] - max(-x1, 0),
            :,
        ]
    # Convolution, not correlation: flip the filter (a no-op for the symmetric ones used here).
    weights = np.flip(kernel, (0, 1)) * gain
    weights = np.tile(weights[:, :, None, None], [1, 1, channels, 1])
    weights = tf.constant(weights, dtype=x.dtype)
    return tf.nn.depthwise_conv2d(x, weights, strides=[1, down, down, 1], padding="VALID")


def upsample2d(x: tf.Tensor, kernel: np.ndarray, factor: int = 2) -> tf.Tensor:
    """x (B, H, W, C) -> (B, factor H, factor W, C), gain factor^2 (the reference's padding)."""
    size = kernel.shape[0]
    p0 = (size + factor - 1) // 2
    p1 = (size - factor) // 2
    return upfirdn2d(x, kernel, up=factor, padding=(p0, p1, p0, p1), gain=factor**2)


def downsample2d(x: tf.Tensor, kernel: np.ndarray, factor: int = 2) -> tf.Tensor:
    """x (B, H, W, C) -> (B, H / factor, W / factor, C), gain 1 (the reference's padding)."""
    size = kernel.shape[0]
    p0 = (size - factor + 1) // 2
    p1 = (size - factor) // 2
    return upfirdn2d(x, kernel, down=factor, padding=(p0, p1, p0, p1))


@saving.register_keras_serializable(package="gantrain")
class FIRResample2D(layers.Layer):
    """x2 FIR up- or downsampling of NHWC feature maps (`direction` "up" or "down")."""

    def __init__(
        self,
        direction: str,
        taps: Sequence[float] = (1, 2, 1),
        *,
        inplace: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if direction not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
        self.direction = direction
        self.taps = [float(t) for t in taps]
        self.inplace = bool(inplace)
        self._kernel = lowpass_filter(self.taps, inplace=self.inplace)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if self.direction == "up":
            return upsample2d(x, self._kernel)
        return downsample2d(x, self._kernel)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, channels = input_shape
        scale = 2.0 if self.direction == "up" else 0.5

        def side(n: int | None) -> int | None:
            return None if n is None else int(n * scale)

        return (batch, side(height), side(width), channels)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "direction": self.direction,
            "taps": self.taps,
            "inplace": self.inplace,
        }
