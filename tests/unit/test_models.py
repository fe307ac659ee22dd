"""Architecture contract, checked for every generator / discriminator YAML automatically.

G: latent (B, latent_dim) [+ labels int32 (B,) when `model.num_classes` > 0] -> images
(B, H, W, C) float32 in [-1, 1] (or unbounded when `model.unbounded_output`), matching the
dataset. D: images [+ labels when
`model.num_classes` > 0] -> logits (B, 1) float32, or [logits, class logits (B, K)] when
`model.auxiliary_classes` > 0 (ACGAN). A dataset the architecture cannot produce, or an
unlabeled one for a conditional architecture, is a ConfigError. Checked on the shapes of the
shipped datasets plus 64x64 RGB, labeled and unlabeled.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import load_run_config
from gantrain.data.base import DatasetSpec
from gantrain.errors import ConfigError
from gantrain.training.build import build_discriminator, build_generator
from tests.conftest import REPO, compose_config

GENERATORS = sorted(p.stem for p in (REPO / "configs" / "generator").glob("*.yaml"))
DISCRIMINATORS = sorted(p.stem for p in (REPO / "configs" / "discriminator").glob("*.yaml"))
SPECS = [
    DatasetSpec("mnist-like", (28, 28, 1), 10, 100),
    DatasetSpec("cifar10-like", (32, 32, 3), 10, 100),
    DatasetSpec("folder-64", (64, 64, 3), 5, 100),
    DatasetSpec("folder-unlabeled", (32, 32, 3), 0, 100),
]
# A builder may refuse a spec only for these reasons.
REFUSALS = ("cannot produce", "produces images of shape", "dataset has no labels")


def _spec(dataset: str, generator: str = "dcgan", discriminator: str = "dcgan"):
    run = load_run_config(
        compose_config(
            overrides=[
                f"dataset={dataset}",
                f"generator={generator}",
                f"discriminator={discriminator}",
            ]
        )
    )
    return run, run.dataset.spec()


def _run(generator: str = "dcgan", discriminator: str = "dcgan"):
    overrides = [f"generator={generator}", f"discriminator={discriminator}"]
    return load_run_config(compose_config(overrides=overrides))


@pytest.mark.parametrize("generator", GENERATORS)
def test_generator_contract(generator: str) -> None:
    run = _run(generator=generator)
    built = 0
    for spec in SPECS:
        try:
            model = build_generator(run, spec)
        except ConfigError as error:
            assert any(reason in str(error) for reason in REFUSALS), str(error)
            continue
        built += 1
        assert model.num_classes in (0, spec.num_classes)
        z = tf.random.normal([3, model.latent_dim]) * 3.0
        inputs = z if not model.num_classes else [z, tf.constant([0, 1, 2])]
        images = model(inputs, training=False).numpy()
        assert images.shape == (3, *spec.image_shape)
        assert images.dtype == np.float32
        assert np.isfinite(images).all()
        # StyleGAN2-style and R3GAN generators have no tanh, as their references: they say so
        # and are clipped where images become pixels.
        if not getattr(model, "unbounded_output", False):
            assert images.min() >= -1.0 and images.max() <= 1.0
    assert built, f"generator={generator} fits no dataset shape"


@pytest.mark.parametrize("discriminator", DISCRIMINATORS)
def test_discriminator_contract(discriminator: str) -> None:
    run = _run(discriminator=discriminator)
    built = 0
    for spec in SPECS:
        try:
            model = build_discriminator(run, spec)
        except ConfigError as error:
            assert any(reason in str(error) for reason in REFUSALS), str(error)
            continue
        built += 1
        images = tf.random.uniform([5, *spec.image_shape], -1.0, 1.0)
        labels = tf.constant([0, 1, 2, 3, 4]) % max(spec.num_classes, 1)
        takes_labels = getattr(model, "num_classes", 0) > 0
        outputs = model([images, labels] if takes_labels else images, training=True)
        if getattr(model, "auxiliary_classes", 0):
            logits, class_logits = outputs
            assert class_logits.shape == (5, spec.num_classes)
            assert class_logits.dtype == tf.float32
        else:
            logits = outputs
        assert logits.shape == (5, 1)
        assert logits.dtype == tf.float32
    assert built, f"discriminator={discriminator} fits no dataset shape"


def test_conditional_architectures_refuse_unlabeled_data() -> None:
    unlabeled = SPECS[-1]
    for generator in ("cdcgan", "cresnet", "cmlp"):
        with pytest.raises(ConfigError, match="dataset has no labels"):
            build_generator(_run(generator=generator), unlabeled)
    for discriminator in ("dcgan_projection", "acgan", "resnet_projection"):
        with pytest.raises(ConfigError, match="dataset has no labels"):
            build_discriminator(_run(discriminator=discriminator), unlabeled)


def test_conditional_generator_depends_on_the_label() -> None:
    spec = SPECS[0]
    for generator in ("cdcgan", "cmlp"):
        model = build_generator(_run(generator=generator), spec)
        z = tf.random.normal([1, model.latent_dim])
        a = model([z, tf.constant([1])], training=False)
        b = model([z, tf.constant([7])], training=False)
        # Fresh conditional BN starts at scale 1 / offset 0; make the classes differ first.
        if generator == "cdcgan":
            for layer in model.layers:
                if hasattr(layer, "class_beta"):
                    layer.class_beta.assign(tf.random.normal(layer.class_beta.shape))
            a = model([z, tf.constant([1])], training=False)
            b = model([z, tf.constant([7])], training=False)
        assert not np.allclose(a.numpy(), b.numpy())


def test_projection_discriminator_depends_on_the_label() -> None:
    model = build_discriminator(_run(discriminator="dcgan_projection"), SPECS[0])
    images = tf.random.uniform([1, 28, 28, 1], -1.0, 1.0)
    a = model([images, tf.constant([1])], training=False)
    b = model([images, tf.constant([2])], training=False)
    assert not np.allclose(a.numpy(), b.numpy())


def test_origin_dcgan_generator_layers() -> None:
    run, spec = _spec("mnist")
    model = build_generator(run, spec)
    # Batch norms are Keras's BatchNormalization (a subclass running its fused kernel).
    kinds = [
        "BatchNormalization" if isinstance(layer, keras.layers.BatchNormalization)
        else type(layer).__name__
        for layer in model.layers[1:]
    ]  # fmt: skip
    assert kinds == [
        "Dense", "BatchNormalization", "LeakyReLU", "Reshape",
        "Conv2DTranspose", "BatchNormalization", "LeakyReLU",
        "Conv2DTranspose", "BatchNormalization", "LeakyReLU",
        "Conv2DTranspose",
    ]  # fmt: skip
    assert model.layers[1].units == 7 * 7 * 256
    assert [layer.filters for layer in model.layers if hasattr(layer, "filters")] == [128, 64, 1]
    assert model.count_params() == 2_330_944  # the TensorFlow DCGAN tutorial's generator


def test_origin_dcgan_discriminator_layers() -> None:
    run, spec = _spec("mnist")
    model = build_discriminator(run, spec)
    assert [layer.filters for layer in model.layers if hasattr(layer, "filters")] == [64, 128]
    # GlobalBatchDropout: Keras dropout with masks drawn for the global batch.
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in model.layers) == 2
    assert model.count_params() == 212_865  # the TensorFlow DCGAN tutorial's discriminator


def test_image_shape_the_generator_cannot_produce_is_a_clear_error() -> None:
    run = load_run_config(compose_config(overrides=["generator.widths=[64,32,16,8]"]))
    with pytest.raises(ConfigError, match="cannot produce 28x28 images"):
        build_generator(run, run.dataset.spec())
