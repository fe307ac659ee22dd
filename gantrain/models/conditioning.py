"""Class conditioning and the pieces every architecture shares at its ends.

Generators: `conditioning` is `none`, `embedding` (a learned label embedding of size
latent_dim concatenated to z, as the conditional GAN of Mirza & Osindero 2014 feeds its
one-hot label) or `cbn` (conditional batch norm: per-class scale and offset in every
batch-norm layer, as SN-GAN's projection generator).

Discriminators: `conditioning` is `none`, `projection` (the projection discriminator of
Miyato & Koyama 2018: logit + <embed(y), features>; the model takes `[images, labels]`) or
`auxiliary` (ACGAN, Odena et al. 2017: the model takes images only and returns
`[logits (B, 1), class_logits (B, num_classes)]`).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf
from keras import layers

from gantrain.errors import ConfigError
from gantrain.models.global_batch import global_batch_norm
from gantrain.models.layers import (
    ClassProjection,
    ConditionalBatchNorm,
    check_normalization,
    dense,
)

GENERATOR_CONDITIONING = ("none", "embedding", "cbn")
DISCRIMINATOR_CONDITIONING = ("none", "projection", "auxiliary")


def check_conditioning(
    conditioning: str, choices: tuple[str, ...], num_classes: int, architecture: str
) -> None:
    """Validate a `conditioning` option against the dataset's number of classes."""
    if conditioning not in choices:
        raise ConfigError(
            f"{architecture}.conditioning={conditioning!r}: choose one of {', '.join(choices)}."
        )
    if conditioning != "none" and num_classes <= 0:
        raise ConfigError(
            f"{architecture}.conditioning={conditioning} trains class-conditionally, but the "
            "dataset has no labels; pick a labeled dataset (an image folder with one subfolder "
            f"per class, say) or set {architecture}.conditioning=none."
        )


def generator_inputs(
    latent_dim: int,
    num_classes: int,
    conditioning: str,
    architecture: str,
    choices: tuple[str, ...] = GENERATOR_CONDITIONING,
) -> tuple[list[keras.KerasTensor], keras.KerasTensor, keras.KerasTensor | None]:
    """(model inputs, the tensor the network starts from, labels or None).

    Unconditional: inputs [z]. Conditional: inputs [z, labels] with labels int32 (B,); with
    `embedding` conditioning the network starts from concat(z, embed(labels)). `choices`
    narrows the options for architectures without batch norm.
    """
    check_conditioning(conditioning, choices, num_classes, architecture)
    z = keras.Input((latent_dim,), name="latent")
    if conditioning == "none":
        return [z], z, None
    labels = keras.Input((), dtype="int32", name="labels")
    start = z
    if conditioning == "embedding":
        embedded = layers.Embedding(num_classes, latent_dim, name="label_embedding")(labels)
        start = layers.Concatenate(name="latent_and_label")([z, embedded])
    return [z, labels], start, labels


def batch_norm(
    x: keras.KerasTensor, labels: keras.KerasTensor | None, *, num_classes: int, conditioning: str
) -> keras.KerasTensor:
    """BatchNormalization, or ConditionalBatchNorm on `[x, labels]` with `cbn` conditioning.

    Both take their statistics over the global batch under multi-replica strategies.
    """
    if conditioning == "cbn":
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return ConditionalBatchNorm(num_classes, synchronized=replicas > 1)([x, labels])
    return global_batch_norm()(x)


def norm_activation(
    labels: keras.KerasTensor | None,
    *,
    num_classes: int,
    conditioning: str,
    activation: Callable[[], layers.Layer],
) -> Callable[[keras.KerasTensor], keras.KerasTensor]:
    """x -> activation(batch norm (class-conditional with `cbn`) of x), for generator blocks."""

    def apply(x: keras.KerasTensor) -> keras.KerasTensor:
        x = batch_norm(x, labels, num_classes=num_classes, conditioning=conditioning)
        return activation()(x)

    return apply


def finish_generator(
    inputs: list[keras.KerasTensor],
    images: keras.KerasTensor,
    *,
    name: str,
    latent_dim: int,
    num_classes: int,
    conditioning: str,
) -> keras.Model:
    """The generator model with the contract's attributes (`latent_dim`, `num_classes`)."""
    model = keras.Model(inputs[0] if len(inputs) == 1 else inputs, images, name=name)
    model.latent_dim = int(latent_dim)
    model.num_classes = int(num_classes) if conditioning != "none" else 0
    return model


def discriminator_inputs(
    image_shape: tuple[int, int, int],
    num_classes: int,
    conditioning: str,
    architecture: str,
    normalization: str | None = None,
) -> tuple[keras.KerasTensor, keras.KerasTensor | None]:
    """(images input, labels input or None); labels exist for `projection` only.

    `normalization` (for architectures that have the option) is validated too.
    """
    if normalization is not None:
        check_normalization(normalization, architecture)
    check_conditioning(conditioning, DISCRIMINATOR_CONDITIONING, num_classes, architecture)
    images = keras.Input(tuple(image_shape), name="images")
    labels = None
    if conditioning == "projection":
        labels = keras.Input((), dtype="int32", name="labels")
    return images, labels


def finish_discriminator(
    images: keras.KerasTensor,
    labels: keras.KerasTensor | None,
    features: keras.KerasTensor,
    *,
    name: str,
    num_classes: int,
    conditioning: str,
    spectral: bool,
) -> keras.Model:
    """Heads on `features` (B, F) and the model with the contract's attributes.

    `model.num_classes` > 0: the model takes `[images, labels]` (projection).
    `model.auxiliary_classes` > 0: it returns `[logits, class_logits]` (ACGAN).
    Logits leave in float32 whatever the compute policy.
    """
    logits = dense(1, spectral=spectral, dtype="float32", name="logit")(features)
    outputs = logits
    if conditioning == "projection":
        term = ClassProjection(num_classes, spectral=spectral, dtype="float32", name="projection")(
            [features, labels]
        )
        outputs = layers.Add(dtype="float32", name="logit_plus_projection")([logits, term])
    elif conditioning == "auxiliary":
        class_logits = dense(num_classes, spectral=spectral, dtype="float32", name="classifier")(
            features
        )
        outputs = [logits, class_logits]
    model = keras.Model([images, labels] if labels is not None else images, outputs, name=name)
    model.num_classes = int(num_classes) if conditioning == "projection" else 0
    model.auxiliary_classes = int(num_classes) if conditioning == "auxiliary" else 0
    return model
