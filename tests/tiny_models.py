"""Tiny models for tests that need what the configs on main do not ship yet.

`build_tiny_conditional_generator` follows the class-conditional generator contract
(inputs [z float32 (B, latent_dim), labels int32 (B,)], output (B, H, W, C) in [-1, 1],
`model.latent_dim`, `model.num_classes > 0`) with a batch-norm layer, so standing statistics
matter. Use it as `generator._target_=tests.tiny_models.build_tiny_conditional_generator`.
"""

from __future__ import annotations

import math

import keras


def build_tiny_conditional_generator(
    image_shape: tuple[int, int, int], num_classes: int, latent_dim: int = 8, width: int = 32
) -> keras.Model:
    z = keras.Input((latent_dim,), name="z")
    labels = keras.Input((), dtype="int32", name="labels")
    embedded = keras.layers.Embedding(num_classes, latent_dim)(labels)
    h = keras.layers.Concatenate()([z, embedded])
    h = keras.layers.Dense(width)(h)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Dense(math.prod(image_shape), activation="tanh")(h)
    images = keras.layers.Reshape(tuple(image_shape))(h)
    model = keras.Model([z, labels], images, name="tiny_conditional_generator")
    model.latent_dim = latent_dim
    model.num_classes = num_classes
    return model


def build_tiny_mapped_generator(
    image_shape: tuple[int, int, int],
    latent_dim: int = 8,
    w_dim: int = 8,
    num_ws: int = 3,
    style_mixing_prob: float = 0.9,
) -> keras.Model:
    """An unconditional generator with StyleGAN2's mapping / synthesis interface, tiny:
    `mapping(z, labels, training=...)` -> ws (B, num_ws, w_dim) (one dense layer, broadcast
    to the styles) and `synthesis(ws, training=...)` -> images (B, H, W, C) in [-1, 1] (dense
    + tanh + reshape); calling the model is synthesis(mapping(z)). For path-length runs:
    `generator._target_=tests.tiny_models.build_tiny_mapped_generator`."""
    mapping_net = keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(w_dim, activation="leaky_relu"),
            keras.layers.RepeatVector(num_ws),
        ],
        name="mapping",
    )
    synthesis_net = keras.Sequential(
        [
            keras.Input((num_ws, w_dim)),
            keras.layers.Flatten(),
            keras.layers.Dense(math.prod(image_shape), activation="tanh"),
            keras.layers.Reshape(tuple(image_shape)),
        ],
        name="synthesis",
    )
    z = keras.Input((latent_dim,), name="z")
    model = keras.Model(z, synthesis_net(mapping_net(z)), name="tiny_mapped_generator")
    model.mapping = lambda z, labels=None, training=False: mapping_net(z, training=training)
    model.synthesis = lambda ws, training=False: synthesis_net(ws, training=training)
    model.latent_dim = latent_dim
    model.num_classes = 0
    model.style_mixing_prob = style_mixing_prob
    return model
