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
