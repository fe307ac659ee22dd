"""A gantrain domain classifier as feature extractor: 128-d features and class probabilities.

Images go in at the dataset's own resolution (no resize), float32 in [-1, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gantrain.errors import ConfigError
from gantrain.eval.base import Features
from gantrain.eval.classification.domain_classifier import (
    FEATURES_LAYER,
    LOGITS_LAYER,
    read_info,
    resolve_classifier,
)
from gantrain.eval.extractors.base import FeatureExtractor, batched
from gantrain.eval.extractors.keras_apps import weights_identity


def build_domain_extractor(
    *, dataset: str, cache: Path, classifier: str | None = None, batch_size: int = 500
) -> DomainClassifierExtractor:
    """The domain classifier of `dataset`: `classifier` (eval.classifier) when given, else the
    one shipped for the dataset or trained into `cache` (configs/eval/extractor/domain.yaml)."""
    path = resolve_classifier(dataset, classifier, cache)
    return DomainClassifierExtractor(path=path, batch_size=batch_size)


def load_classifier(path: Path) -> keras.Model:
    """Load a saved classifier; `safe_mode=True` refuses files that would run Python code."""
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except (ValueError, OSError, KeyError, TypeError) as error:
        first = (str(error).splitlines() or [""])[0][:200]
        raise ConfigError(
            f"eval.classifier={path}: cannot load it as a Keras model ({type(error).__name__}: "
            f"{first}); train a new one with `python -m gantrain eval train-classifier`."
        ) from error


class DomainClassifierExtractor(FeatureExtractor):
    """Features and probabilities of a classifier saved by `eval train-classifier`."""

    name = "domain"

    def __init__(self, *, path: str | Path, batch_size: int = 500) -> None:
        self.path = Path(path)
        classifier = load_classifier(self.path)
        try:
            features = classifier.get_layer(FEATURES_LAYER).output
            logits = classifier.get_layer(LOGITS_LAYER).output
        except ValueError as error:
            raise ConfigError(
                f"eval.classifier={path}: has no '{FEATURES_LAYER}' and '{LOGITS_LAYER}' layers; "
                "use a classifier written by `python -m gantrain eval train-classifier`."
            ) from error
        self.model = keras.Model(classifier.inputs, [features, logits])
        self.image_shape = tuple(classifier.input_shape[1:])
        self.num_classes = int(logits.shape[-1])
        self.info = read_info(self.path)
        self.weights = weights_identity(self.path)
        self.batch_size = batch_size
        self._predict = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def __call__(self, images: np.ndarray) -> Features:
        if tuple(images.shape[1:]) != self.image_shape:
            raise ConfigError(
                f"the domain classifier {self.path.name} takes images of shape "
                f"{self.image_shape}, these are {tuple(images.shape[1:])}; use the classifier "
                "of this dataset (eval.classifier=...) or eval.extractor=inception_fid."
            )
        pools, probs = [], []
        for chunk in batched(images, self.batch_size):
            pool, logits = self._predict(tf.convert_to_tensor(chunk, tf.float32))
            pools.append(pool.numpy())
            probs.append(tf.nn.softmax(logits).numpy())
        return Features(np.concatenate(pools), np.concatenate(probs))

    def describe(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "network": f"gantrain domain classifier ({FEATURES_LAYER}: 128-d, "
            f"{self.num_classes} classes)",
            "weights": self.weights,
            "classifier_test_accuracy": self.info.get("test_accuracy"),
            "resize": f"none (native {self.image_shape[0]}x{self.image_shape[1]})",
        }
