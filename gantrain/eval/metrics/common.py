"""What the feature-based metrics share: collecting activations of the generated images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gantrain.errors import ConfigError
from gantrain.eval.base import Batch, Evaluator, Features
from gantrain.eval.extractors.base import FeatureExtractor
from gantrain.eval.reference import ReferenceStats


class FeatureEvaluator(Evaluator):
    """Collects `extractor`'s activations of every generated batch.

    `reference` returns the real data's statistics for the same extractor (computed or read
    from the cache on first call). `prefix` is put before every metric name, so two
    instances with different extractors can report side by side (`inception_fid`, `fid`).
    """

    def __init__(
        self,
        *,
        extractor: FeatureExtractor,
        reference: Callable[[], ReferenceStats] | None = None,
        prefix: str = "",
    ) -> None:
        self.extractor = extractor
        self.reference = reference
        self.prefix = prefix
        self._pool: list[np.ndarray] = []
        self._probs: list[np.ndarray] = []

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def reset(self) -> None:
        self._pool, self._probs = [], []

    def update(self, batch: Batch) -> None:
        features: Features = batch.features(self.extractor)
        self._pool.append(np.asarray(features.pool, np.float32))
        if features.probs is not None:
            self._probs.append(np.asarray(features.probs, np.float32))

    def pool(self) -> np.ndarray:
        """Pool features of everything seen, float32 (N, D)."""
        if not self._pool:
            raise RuntimeError(f"{type(self).__name__}.result() before any update()")
        return np.concatenate(self._pool)

    def probs(self) -> np.ndarray:
        """Class probabilities of everything seen, float32 (N, K)."""
        if not self._probs:
            raise RuntimeError(
                f"{type(self).__name__} needs class probabilities, but extractor "
                f"{self.extractor.name} has no classifier head"
            )
        return np.concatenate(self._probs)

    def real(self) -> ReferenceStats:
        if self.reference is None:
            raise RuntimeError(f"{type(self).__name__} was built without reference statistics")
        return self.reference()

    def real_features(self) -> np.ndarray:
        """The real images' features (N, D), checked against the generated ones' dimension."""
        features = self.real().features
        if features is None:
            raise RuntimeError(f"{type(self).__name__} needs real features, not only moments")
        if features.shape[-1] != self._pool[0].shape[-1]:
            raise ConfigError(
                f"the real features have {features.shape[-1]} dimensions, extractor "
                f"{self.extractor.name} gives {self._pool[0].shape[-1]}: another network."
            )
        return features

    def protocol(self) -> dict[str, Any]:
        seen = sum(len(p) for p in self._pool)
        return {**self.extractor.describe(), "num_generated": seen}
