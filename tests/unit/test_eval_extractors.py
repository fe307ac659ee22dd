"""Feature extractors: the domain classifier and InceptionV3, loaded through their real paths
with weights the tests create; reference statistics and their cache."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.data.mnist import MnistSource
from gantrain.errors import ConfigError
from gantrain.eval.classification.domain_classifier import (
    build_classifier,
    default_output,
    packaged_classifier,
    read_info,
    resolve_classifier,
    save_classifier,
)
from gantrain.eval.extractors.domain import DomainClassifierExtractor
from gantrain.eval.extractors.inception import InceptionV3Extractor, prepare
from gantrain.eval.reference import RealData, image_float


@pytest.fixture(scope="session")
def untrained_classifier(tmp_path_factory) -> Path:
    """A domain classifier with random weights (its files are what matters here)."""
    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("classifier") / "mnist.keras"
    save_classifier(build_classifier((28, 28, 1), 10), path, {"test_accuracy": 0.5})
    return path


def test_domain_extractor_features_and_probabilities(untrained_classifier: Path) -> None:
    extractor = DomainClassifierExtractor(path=untrained_classifier, batch_size=7)
    images = np.random.default_rng(0).uniform(-1, 1, (10, 28, 28, 1)).astype(np.float32)
    features = extractor(images)
    assert features.pool.shape == (10, 128) and features.probs.shape == (10, 10)
    np.testing.assert_allclose(features.probs.sum(axis=1), 1.0, rtol=1e-5)
    # Batching does not change the numbers.
    np.testing.assert_allclose(extractor(images[:3]).pool, features.pool[:3], rtol=1e-5, atol=1e-6)
    described = extractor.describe()
    assert described["extractor"] == "domain" and described["classifier_test_accuracy"] == 0.5
    assert described["weights"].startswith("mnist.keras sha256:")
    assert described["resize"] == "none (native 28x28)"
    with pytest.raises(ConfigError, match=r"takes images of shape \(28, 28, 1\)"):
        extractor(np.zeros((2, 32, 32, 3), np.float32))


def test_domain_classifier_loads_in_safe_mode_only(tmp_path: Path) -> None:
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, name="logits")(x))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ConfigError, match="cannot load it as a Keras model"):
        DomainClassifierExtractor(path=path)
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="cannot load it as a Keras model"):
        DomainClassifierExtractor(path=tmp_path / "junk.keras")


def test_resolve_classifier_order_and_errors(tmp_path: Path, untrained_classifier: Path) -> None:
    assert resolve_classifier("mnist", str(untrained_classifier), tmp_path) == untrained_classifier
    with pytest.raises(ConfigError, match="eval.classifier=.*no such file.*train-classifier"):
        resolve_classifier("mnist", str(tmp_path / "missing.keras"), tmp_path)
    # Shipped with gantrain: MNIST needs no training first.
    assert resolve_classifier("mnist", None, tmp_path) == packaged_classifier("mnist")
    assert read_info(packaged_classifier("mnist"))["test_accuracy"] >= 0.99
    with pytest.raises(ConfigError, match="no domain classifier for dataset fashion"):
        resolve_classifier("fashion", None, tmp_path)
    cached = default_output("fashion", tmp_path)
    save_classifier(build_classifier((28, 28, 1), 10), cached, {})
    assert resolve_classifier("fashion", None, tmp_path) == cached


def test_inception_prepare_resizes_with_antialiasing() -> None:
    gray = np.zeros((2, 28, 28, 1), np.float32)
    out = prepare(gray).numpy()
    assert out.shape == (2, 299, 299, 3)
    # A one-pixel checkerboard at 897x897 -> 299x299: resizing without antialiasing samples
    # every third pixel and turns it into a flat black or white field; antialiasing averages
    # it to mid-gray, as a camera would see it.
    board = (np.indices((897, 897)).sum(axis=0) % 2 * 2 - 1).astype(np.float32)
    resized = prepare(board[None, :, :, None]).numpy()
    assert np.abs(resized).max() < 0.05
    aliased = tf.image.resize(board[None, :, :, None], (299, 299), method="bicubic").numpy()
    assert np.abs(aliased).mean() > 0.9


@pytest.mark.slow
def test_inception_loads_local_weights_through_the_offline_path(tmp_path: Path) -> None:
    keras.utils.set_random_seed(1)
    network = keras.applications.InceptionV3(weights=None, include_top=True)
    path = tmp_path / "inception_v3.weights.h5"
    network.save_weights(path)
    extractor = InceptionV3Extractor(weights=str(path), batch_size=2)
    images = np.random.default_rng(1).uniform(-1, 1, (3, 40, 40, 3)).astype(np.float32)
    features = extractor(images)
    assert features.pool.shape == (3, 2048) and features.probs.shape == (3, 1000)
    pool = keras.Model(network.inputs, network.get_layer("avg_pool").output)
    np.testing.assert_allclose(features.pool, pool(prepare(images)).numpy(), rtol=1e-4, atol=1e-5)
    described = extractor.describe()
    assert described["weights"].startswith("inception_v3.weights.h5 sha256:")
    assert "antialias=True" in described["resize"]


def test_inception_missing_or_wrong_weights_are_clear(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ConfigError) as caught:
        InceptionV3Extractor(weights=str(tmp_path / "nope.h5"))
    message = str(caught.value)
    assert "eval.weights=" in message and "no such file" in message
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels.h5" in message and ".keras" in message
    (tmp_path / "bad.weights.h5").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="cannot load InceptionV3 weights"):
        InceptionV3Extractor(weights=str(tmp_path / "bad.weights.h5"))

    def offline(**kwargs):
        raise Exception("URL fetch failure")  # what Keras raises without a network

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    with pytest.raises(ConfigError, match=r"not available.*copy that file to .*kh/models"):
        InceptionV3Extractor(weights=None)


class CountingExtractor:
    name = "counting"
    num_classes = 0

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images):
        from gantrain.eval.base import Features

        self.calls += 1
        return Features(images.reshape(len(images), -1)[:, :8].astype(np.float32))

    def describe(self):
        return {"extractor": self.name, "weights": "none", "resize": "none"}


def test_reference_statistics_are_cached_per_data_and_extractor(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    source = MnistSource(path=str(tiny_mnist))
    real = RealData(source, num_real=100, seed=0, cache=tmp_path, batch_size=32)
    extractor = CountingExtractor()
    stats = real.stats(extractor)
    assert extractor.calls == 4 and stats.features.shape == (100, 8)
    images, labels = real.images()
    np.testing.assert_allclose(stats.mean, image_float(images).reshape(100, -1)[:, :8].mean(0))
    assert stats.labels.tolist() == labels.tolist()
    files = list((tmp_path / "reference").glob("*.npz"))
    assert len(files) == 1

    again = RealData(source, num_real=100, seed=0, cache=tmp_path, batch_size=32)
    fresh = CountingExtractor()
    np.testing.assert_array_equal(again.stats(fresh).cov, stats.cov)
    assert fresh.calls == 0  # read from the cache
    protocol = again.protocol()
    assert protocol["num_real"] == 100 and protocol["real_split"] == "train"
    assert protocol["real_selection"] == "every image of the split"  # 100 of 100

    # Another subset, or the test split: another cache entry.
    RealData(source, num_real=50, seed=0, cache=tmp_path, batch_size=32).stats(CountingExtractor())
    test_split = MnistSource(path=str(tiny_mnist), split="test")
    RealData(test_split, num_real=50, seed=0, cache=tmp_path, batch_size=32).stats(fresh)
    assert len(list((tmp_path / "reference").glob("*.npz"))) == 3

    files[0].write_bytes(b"damaged")
    recomputed = CountingExtractor()
    RealData(source, num_real=100, seed=0, cache=tmp_path, batch_size=32).stats(recomputed)
    assert recomputed.calls == 4
