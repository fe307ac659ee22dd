"""Class-level scores with the domain classifier: accuracy against requested labels (CAS) and
class coverage (mode collapse shows up as missing or over-represented classes).

Conditional generators (batches carry the labels the images were generated for):
- `cas`: share of generated images the classifier assigns to their requested class;
- `cas_<k>`: the same per requested class k.

Every generator (conditional or not):
- `class_share_<k>`: share of generated images classified as k (the class histogram);
- `modes_covered`: classes whose share reaches `coverage_threshold` x the real data's share
  of that class (default 0.1: a class is covered with at least a tenth of its real share);
- `class_kl`: KL(generated histogram || real label histogram), 0 when they match (uniform
  when the real data has no labels);
- `confidence`: the classifier's mean top-class probability (real MNIST test digits: 0.99
  with the shipped classifier); blurry or ambiguous samples lower it.

Ravuri & Vinyals' (2019) CAS trains a classifier on generated data and tests it on real data;
this one, as the issue defines it, tests a classifier trained on real data on generated
images (closer to "GAN-test"). It rewards images that look like their class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gantrain.errors import ConfigError
from gantrain.eval.base import Batch, Evaluator
from gantrain.eval.extractors.base import FeatureExtractor
from gantrain.eval.reference import ReferenceStats

_EPS = 1e-12


def class_histogram(predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Share of each class among `predicted` labels (N,): (K,) float64 summing to 1."""
    counts = np.bincount(predicted, minlength=num_classes).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def per_class_accuracy(
    predicted: np.ndarray, requested: np.ndarray, num_classes: int
) -> np.ndarray:
    """Accuracy per requested class (K,); NaN for classes never requested."""
    accuracy = np.full(num_classes, np.nan)
    for k in range(num_classes):
        chosen = requested == k
        if chosen.any():
            accuracy[k] = float((predicted[chosen] == k).mean())
    return accuracy


class ClassAccuracyEvaluator(Evaluator):
    """Classification accuracy score and class coverage with the domain classifier."""

    def __init__(
        self,
        *,
        extractor: FeatureExtractor,
        reference: Callable[[], ReferenceStats],
        conditional: bool,
        coverage_threshold: float = 0.1,
        prefix: str = "",
    ) -> None:
        if not extractor.num_classes:
            raise ConfigError(
                f"cas: extractor {extractor.name} has no classifier head; use extractor: domain."
            )
        if not 0.0 < coverage_threshold <= 1.0:
            raise ConfigError(f"cas: coverage_threshold={coverage_threshold}: must be in (0, 1].")
        self.extractor = extractor
        self.reference = reference
        self.conditional = conditional
        self.coverage_threshold = coverage_threshold
        self.prefix = prefix
        self.num_classes = extractor.num_classes
        self.minimize = frozenset({self.key("class_kl")})
        self.reset()

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def metric_names(self) -> tuple[str, ...]:
        names = [self.key(f"class_share_{k}") for k in range(self.num_classes)]
        names += [self.key("modes_covered"), self.key("class_kl"), self.key("confidence")]
        if self.conditional:
            names = (
                [self.key("cas")] + [self.key(f"cas_{k}") for k in range(self.num_classes)] + names
            )
        return tuple(names)

    def reset(self) -> None:
        self._predicted: list[np.ndarray] = []
        self._top_probs: list[np.ndarray] = []
        self._requested: list[np.ndarray] = []

    def update(self, batch: Batch) -> None:
        probs = batch.features(self.extractor).probs
        assert probs is not None  # checked in __init__: the extractor has a classifier head
        self._predicted.append(np.argmax(probs, axis=1))
        self._top_probs.append(np.max(probs, axis=1))
        if self.conditional:
            if batch.labels is None:
                raise ValueError("cas: conditional evaluation needs the requested labels")
            self._requested.append(np.asarray(batch.labels))

    def _real_shares(self) -> np.ndarray:
        labels = self.reference().labels
        if labels is None:
            return np.full(self.num_classes, 1.0 / self.num_classes)
        return class_histogram(np.asarray(labels, np.int64), self.num_classes)

    def result(self) -> dict[str, float]:
        predicted = np.concatenate(self._predicted)
        shares = class_histogram(predicted, self.num_classes)
        real = self._real_shares()
        covered = int((shares >= self.coverage_threshold * real).sum())
        kl = float((shares * (np.log(shares + _EPS) - np.log(real + _EPS))).sum())
        out: dict[str, float] = {}
        if self.conditional:
            requested = np.concatenate(self._requested)
            if requested.min() < 0 or requested.max() >= self.num_classes:
                raise ConfigError(
                    f"cas: requested labels span {requested.min()}..{requested.max()}, but the "
                    f"classifier knows {self.num_classes} classes."
                )
            out[self.key("cas")] = float((predicted == requested).mean())
            for k, value in enumerate(per_class_accuracy(predicted, requested, self.num_classes)):
                out[self.key(f"cas_{k}")] = float(value)
        for k, share in enumerate(shares):
            out[self.key(f"class_share_{k}")] = float(share)
        out[self.key("modes_covered")] = float(covered)
        out[self.key("class_kl")] = kl
        out[self.key("confidence")] = float(np.concatenate(self._top_probs).mean())
        return out

    def protocol(self) -> dict[str, Any]:
        return {
            **self.extractor.describe(),
            "classes": self.num_classes,
            "conditional": self.conditional,
            "coverage_threshold": self.coverage_threshold,
        }
