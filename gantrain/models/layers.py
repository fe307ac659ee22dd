"""Reusable layers, one concept each: spectral normalization, conditional batch norm, maxout,
the projection discriminator's class term.

Spectral normalization follows the SN-GAN paper (Miyato et al. 2018) and its reference
implementation (pfnet-research/sngan_projection): the trained variable is the raw weight W;
the forward pass divides it by sigma, the largest singular value estimated by one power
iteration from a persistent vector u. Gradients flow through sigma (d sigma / dW = v u^T),
and u is non-trainable layer state, so checkpoints keep it and a resumed run continues the
same estimate. Keras 3's `keras.layers.SpectralNormalization` instead overwrites the kernel
with W / sigma in place and passes no gradient through sigma, a different algorithm.
"""

from __future__ import annotations

from keras import initializers, layers, ops, saving

from gantrain.errors import ConfigError
from gantrain.models.global_batch import global_batch_norm

_EPSILON = 1e-12


def _l2_normalize(x):
    return x / ops.sqrt(ops.sum(ops.square(x)) + _EPSILON)


def power_iteration(matrix, u):
    """One power-iteration step for the largest singular value of `matrix` (in, out).

    `u` (1, out) is the current right-singular-vector estimate. Returns `(sigma, u_new)`:
    sigma = v W u_new^T with v = normalize(u W^T), u_new = normalize(v W). u and v are
    constants for the gradient, so d sigma / dW = v^T u_new, as in the SN-GAN paper.
    """
    v = ops.stop_gradient(_l2_normalize(ops.matmul(u, ops.transpose(matrix))))
    u_new = ops.stop_gradient(_l2_normalize(ops.matmul(v, matrix)))
    sigma = ops.sum(ops.matmul(v, matrix) * u_new)
    return sigma, u_new


class _SpectralNorm:
    """Mixin: `sn_u` state and the normalized weight. Call `_build_sn(out_dim)` in `build`."""

    def _build_sn(self, out_dim: int) -> None:
        # No aggregation (as batch norm's moving statistics): every replica computes the same
        # u from the same W and updates its own copy, without a cross-replica sync point, so
        # the update may sit inside graph control flow (the n_critic loop, lazy phases).
        self.sn_u = self.add_weight(
            shape=(1, out_dim),
            name="sn_u",
            initializer=initializers.RandomNormal(stddev=1.0),
            trainable=False,
            autocast=False,
        )

    def _normalized(self, weight, training):
        """W / sigma in the compute dtype; advances u only in training calls."""
        w32 = ops.cast(weight, "float32")
        matrix = ops.reshape(w32, (-1, w32.shape[-1]))
        sigma, u_new = power_iteration(matrix, ops.convert_to_tensor(self.sn_u))
        if training:
            self.sn_u.assign(u_new)
        return ops.cast(w32 / sigma, self.compute_dtype)

    # Dense, Conv2D and Embedding save only their own weights (kernel, bias) in a `.keras`
    # file; the generic Layer methods save every variable, so `sn_u` travels with them and a
    # loaded layer continues the same sigma estimate.
    def save_own_variables(self, store) -> None:
        layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store) -> None:
        layers.Layer.load_own_variables(self, store)


@saving.register_keras_serializable(package="gantrain")
class SNDense(_SpectralNorm, layers.Dense):
    """`Dense` whose kernel is W / sigma(W) (SN-GAN). Same arguments as `keras.layers.Dense`."""

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self._build_sn(self.units)

    def call(self, inputs, training=None):
        x = ops.matmul(inputs, self._normalized(self.kernel, training))
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x


@saving.register_keras_serializable(package="gantrain")
class SNConv2D(_SpectralNorm, layers.Conv2D):
    """`Conv2D` whose kernel, seen as a (k*k*in, out) matrix, is divided by its sigma."""

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self._build_sn(self.filters)

    def call(self, inputs, training=None):
        outputs = self.convolution_op(inputs, self._normalized(self.kernel, training))
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@saving.register_keras_serializable(package="gantrain")
class SNEmbedding(_SpectralNorm, layers.Embedding):
    """`Embedding` whose (num_classes, dim) table is divided by its sigma (SN projection D)."""

    def build(self, input_shape=None) -> None:
        super().build(input_shape)
        self._build_sn(self.output_dim)

    def call(self, inputs, training=None):
        table = self._normalized(self.embeddings, training)
        return ops.take(table, ops.cast(inputs, "int32"), axis=0)


def dense(units: int, *, spectral: bool, **kwargs) -> layers.Layer:
    """`SNDense` or `Dense`, for architectures with a `spectral_norm` switch."""
    return (SNDense if spectral else layers.Dense)(units, **kwargs)


def conv2d(filters: int, kernel_size: int, *, spectral: bool, **kwargs) -> layers.Layer:
    """`SNConv2D` or `Conv2D`, for architectures with a `spectral_norm` switch."""
    return (SNConv2D if spectral else layers.Conv2D)(filters, kernel_size, **kwargs)


NORMALIZATIONS = ("none", "batch", "layer", "spectral")


def check_normalization(normalization: str, architecture: str) -> None:
    """Validate a discriminator's `normalization` option."""
    if normalization not in NORMALIZATIONS:
        raise ConfigError(
            f"{architecture}.normalization={normalization!r}: choose one of "
            f"{', '.join(NORMALIZATIONS)}."
        )


def feature_norm(x, normalization: str):
    """Batch or layer norm of conv/dense features (spectral norm lives in the weights).

    Layer norm normalizes each example over all its features, as the WGAN-GP critic does
    (batch norm would couple the examples the gradient penalty treats one by one).
    """
    if normalization == "batch":
        return global_batch_norm()(x)
    if normalization == "layer":
        return layers.LayerNormalization(axis=tuple(range(1, len(x.shape))))(x)
    return x


@saving.register_keras_serializable(package="gantrain")
class ConditionalBatchNorm(layers.BatchNormalization):
    """Batch norm whose scale and offset are looked up per class (de Vries et al. 2017).

    Call on `[x, labels]`: x (B, ..., C), labels int (B,). Normalizes with batch statistics
    (moving averages in inference), then applies gamma[label] and beta[label], initialized to
    1 and 0. It is a `BatchNormalization`, so standing statistics (see training/sampling.py)
    find and recompute it like any other batch-norm layer.
    """

    def __init__(self, num_classes: int, **kwargs) -> None:
        kwargs.update(center=False, scale=False)
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)

    def build(self, input_shape) -> None:
        x_shape = input_shape[0]
        super().build(x_shape)
        self.input_spec = None  # the layer takes [x, labels]
        channels = x_shape[-1]
        self.class_gamma = self.add_weight(
            shape=(self.num_classes, channels), name="class_gamma", initializer="ones"
        )
        self.class_beta = self.add_weight(
            shape=(self.num_classes, channels), name="class_beta", initializer="zeros"
        )

    def call(self, inputs, training=None):
        x, labels = inputs
        normalized = super().call(x, training=training)
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        # (B, C) -> (B, 1, ..., 1, C) to broadcast over the spatial axes.
        shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)
        gamma = ops.reshape(ops.take(self.class_gamma, labels, axis=0), shape)
        beta = ops.reshape(ops.take(self.class_beta, labels, axis=0), shape)
        return ops.cast(normalized * gamma + beta, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        for key in ("center", "scale"):
            config.pop(key, None)
        return config


@saving.register_keras_serializable(package="gantrain")
class Maxout(layers.Layer):
    """Maxout units (Goodfellow et al. 2013): the max of `pieces` affine maps.

    (B, F) -> (B, units).
    """

    def __init__(self, units: int, pieces: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.pieces = int(pieces)
        self.affine = layers.Dense(self.units * self.pieces)

    def build(self, input_shape) -> None:
        self.affine.build(input_shape)

    def call(self, inputs):
        x = ops.reshape(self.affine(inputs), (-1, self.units, self.pieces))
        return ops.max(x, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "pieces": self.pieces}


@saving.register_keras_serializable(package="gantrain")
class ClassProjection(layers.Layer):
    """The class term of the projection discriminator (Miyato & Koyama 2018).

    Call on `[features, labels]`: features (B, F), labels int (B,) -> (B, 1) float32 holding
    <embed(label), features>; the discriminator adds it to its unconditional logit.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        spectral: bool = False,
        initializer: str = "glorot_uniform",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.spectral = bool(spectral)
        self.initializer = initializer
        self.embedding = None

    def build(self, input_shape) -> None:
        features = input_shape[0][-1]
        kind = SNEmbedding if self.spectral else layers.Embedding
        self.embedding = kind(
            self.num_classes, features, embeddings_initializer=self.initializer, name="embed"
        )
        self.embedding.build((None,))

    def call(self, inputs, training=None):
        features, labels = inputs
        labels = ops.reshape(labels, (-1,))
        if self.spectral:
            embedded = self.embedding(labels, training=training)
        else:
            embedded = self.embedding(labels)
        return ops.sum(ops.cast(embedded, features.dtype) * features, axis=1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "spectral": self.spectral,
            "initializer": self.initializer,
        }


__all__ = [
    "NORMALIZATIONS",
    "ClassProjection",
    "ConditionalBatchNorm",
    "Maxout",
    "SNConv2D",
    "SNDense",
    "SNEmbedding",
    "check_normalization",
    "conv2d",
    "dense",
    "feature_norm",
    "power_iteration",
]
