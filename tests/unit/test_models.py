"""Architecture contract, checked for every generator / discriminator YAML automatically.

G: latent (B, latent_dim) -> images (B, H, W, C) float32 in [-1, 1], matching the dataset.
D: images -> logits (B, 1) float32. A dataset the architecture cannot produce is a ConfigError.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import load_run_config
from gantrain.errors import ConfigError
from gantrain.training.build import build_discriminator, build_generator
from tests.conftest import REPO, compose_config

GENERATORS = sorted(p.stem for p in (REPO / "configs" / "generator").glob("*.yaml"))
DISCRIMINATORS = sorted(p.stem for p in (REPO / "configs" / "discriminator").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (REPO / "configs" / "dataset").glob("*.yaml"))


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


@pytest.mark.parametrize("generator", GENERATORS)
def test_generator_contract(generator: str) -> None:
    built = 0
    for dataset in DATASETS:
        run, spec = _spec(dataset, generator=generator)
        try:
            model = build_generator(run, spec)
        except ConfigError as error:
            assert "cannot produce" in str(error) or "produces images of shape" in str(error)
            continue
        built += 1
        z = tf.random.normal([3, model.latent_dim]) * 3.0
        inputs = z if not model.num_classes else [z, tf.constant([0, 1, 2])]
        images = model(inputs, training=False).numpy()
        assert images.shape == (3, *spec.image_shape)
        assert images.dtype == np.float32
        assert images.min() >= -1.0 and images.max() <= 1.0
    assert built, f"generator={generator} fits no dataset config"


@pytest.mark.parametrize("discriminator", DISCRIMINATORS)
def test_discriminator_contract(discriminator: str) -> None:
    for dataset in DATASETS:
        run, spec = _spec(dataset, discriminator=discriminator)
        model = build_discriminator(run, spec)
        images = tf.random.uniform([5, *spec.image_shape], -1.0, 1.0)
        logits = model(images, training=True)
        assert logits.shape == (5, 1)
        assert logits.dtype == tf.float32


def test_origin_dcgan_generator_layers() -> None:
    run, spec = _spec("mnist")
    model = build_generator(run, spec)
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
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
