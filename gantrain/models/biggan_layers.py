"""Layers of BigGAN (Brock et al. 2019) as StudioGAN's `src/utils/ops.py` defines them.

- `LinearConditionalBatchNorm`: batch norm without its own affine (eps 1e-4, PyTorch momentum
  0.1 = Keras 0.9), then x * (1 + W_g a) + W_b a, with a the block's conditioning vector (the
  shared class embedding concatenated with the block's z chunk: BigGAN's hierarchical latent)
  and W_g, W_b bias-free (spectrally normalized) linear maps.
- `SelfAttention` (SAGAN, Zhang et al. 2019): theta, phi, g 1x1 convolutions (C/8, C/8, C/2,
  bias-free), phi and g max-pooled 2x2, softmax attention over the pooled positions, a 1x1
  convolution back to C, x + sigma * o with sigma a learned scalar that starts at 0.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from keras import layers, saving

from gantrain.models.layers import conv2d, dense


@saving.register_keras_serializable(package="gantrain")
class LinearConditionalBatchNorm(layers.BatchNormalization):
    """Call on `[x, a]`: x (B, H, W, C), a (B, A) -> BN(x) * (1 + W_g a) + W_b a.

    A `BatchNormalization` (statistics over the global batch with `synchronized=True`), so
    standing statistics (training/sampling.py) find and recompute it like any other.
    """

    def __init__(self, *, spectral: bool = True, initializer: str = "orthogonal", **kwargs: Any):
        kwargs.update(center=False, scale=False)
        kwargs.setdefault("epsilon", 1e-4)
        kwargs.setdefault("momentum", 0.9)
        super().__init__(**kwargs)
        self.spectral = bool(spectral)
        self.initializer = initializer
        self._gain: layers.Layer | None = None
        self._bias: layers.Layer | None = None

    def build(self, input_shape: Any) -> None:
        x_shape, a_shape = input_shape
        super().build(x_shape)
        self.input_spec = None  # the layer takes [x, a]
        channels = int(x_shape[-1])
        options = {"use_bias": False, "kernel_initializer": self.initializer}
        self._gain = dense(channels, spectral=self.spectral, name="gain", **options)
        self._bias = dense(channels, spectral=self.spectral, name="bias", **options)
        self._gain.build(a_shape)
        self._bias.build(a_shape)

    def call(self, inputs: Any, training: bool | None = None) -> tf.Tensor:
        x, affine = inputs
        normalized = super().call(x, training=training)
        gain = 1.0 + self._gain(affine, training=training)
        bias = self._bias(affine, training=training)
        out = normalized * gain[:, None, None, :] + bias[:, None, None, :]
        return tf.cast(out, x.dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape[0]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for key in ("center", "scale"):
            config.pop(key, None)
        return {**config, "spectral": self.spectral, "initializer": self.initializer}


@saving.register_keras_serializable(package="gantrain")
class SelfAttention(layers.Layer):
    """SAGAN self-attention on NHWC maps with even sides; output = x + sigma * attention."""

    def __init__(self, *, spectral: bool = True, initializer: str = "orthogonal", **kwargs: Any):
        super().__init__(**kwargs)
        self.spectral = bool(spectral)
        self.initializer = initializer

    def build(self, input_shape: tuple) -> None:
        channels = int(input_shape[-1])
        if channels % 8:
            raise ValueError(f"self-attention needs channels divisible by 8, got {channels}")

        def conv(width: int, name: str) -> layers.Layer:
            return conv2d(
                width,
                1,
                spectral=self.spectral,
                use_bias=False,
                kernel_initializer=self.initializer,
                name=name,
            )

        self.theta = conv(channels // 8, "theta")
        self.phi = conv(channels // 8, "phi")
        self.g = conv(channels // 2, "g")
        self.out = conv(channels, "attention_out")
        for layer in (self.theta, self.phi, self.g):
            layer.build(input_shape)
        self.out.build((*input_shape[:-1], channels // 2))
        self.sigma = self.add_weight(name="sigma", shape=(), initializer="zeros")

    def attention(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """(B, H*W, H*W/4) attention weights of every position over the pooled positions."""
        batch = tf.shape(x)[0]
        theta = tf.reshape(self.theta(x, training=training), [batch, -1, x.shape[-1] // 8])
        phi = tf.nn.max_pool2d(self.phi(x, training=training), 2, 2, "VALID")
        phi = tf.reshape(phi, [batch, -1, x.shape[-1] // 8])
        return tf.nn.softmax(tf.matmul(theta, phi, transpose_b=True), axis=-1)

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        shape = tf.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        weights = self.attention(x, training=training)
        g = tf.nn.max_pool2d(self.g(x, training=training), 2, 2, "VALID")
        g = tf.reshape(g, [batch, -1, x.shape[-1] // 2])
        attended = tf.reshape(tf.matmul(weights, g), [batch, height, width, x.shape[-1] // 2])
        return x + tf.cast(self.sigma, x.dtype) * self.out(attended, training=training)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "spectral": self.spectral, "initializer": self.initializer}


@saving.register_keras_serializable(package="gantrain")
class ZChunks(layers.Layer):
    """z (B, D) -> `count` equal chunks (B, D / count): BigGAN's hierarchical latent."""

    def __init__(self, count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = int(count)

    def call(self, z: tf.Tensor) -> list[tf.Tensor]:
        return tf.split(z, self.count, axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> list[tuple]:
        return [(input_shape[0], input_shape[-1] // self.count)] * self.count

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "count": self.count}
