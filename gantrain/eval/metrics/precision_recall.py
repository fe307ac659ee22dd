"""Improved precision and recall (Kynkäänniemi et al. 2019), from activations.

Each set of features approximates its manifold by balls around its points, each ball's radius
the distance to the point's k-th nearest neighbour in the same set. Precision is the share of
generated samples inside the real manifold (fidelity); recall is the share of real samples
inside the generated manifold (coverage / diversity). Both lie in [0, 1], higher is better.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gantrain.errors import ConfigError
from gantrain.eval.metrics.common import FeatureEvaluator

_CHUNK = 1024


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a_i - b_j|^2 for a (n, d), b (m, d): (n, m), clipped at 0 against rounding."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Squared distance of each point (N, D) to its k-th nearest other point: (N,)."""
    if len(features) <= k:
        raise ValueError(f"k={k} nearest neighbours need more than {k} points")
    radii = np.empty(len(features), np.float64)
    for start in range(0, len(features), _CHUNK):
        d = _squared_distances(features[start : start + _CHUNK], features)
        # Column k of the sorted row: column 0 is the point itself (distance 0).
        radii[start : start + _CHUNK] = np.partition(d, k, axis=1)[:, k]
    return radii


def coverage(manifold: np.ndarray, radii: np.ndarray, queries: np.ndarray) -> float:
    """Share of `queries` (M, D) inside at least one ball (manifold (N, D), radii (N,))."""
    inside = 0
    for start in range(0, len(queries), _CHUNK):
        d = _squared_distances(queries[start : start + _CHUNK], manifold)
        inside += int((d <= radii[None, :]).any(axis=1).sum())
    return inside / len(queries)


def precision_recall(real: np.ndarray, generated: np.ndarray, *, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of generated (M, D) against real (N, D) features."""
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    precision = coverage(real, knn_radii(real, k), generated)
    recall = coverage(generated, knn_radii(generated, k), real)
    return precision, recall


class PrecisionRecallEvaluator(FeatureEvaluator):
    """`precision` and `recall` with k-nearest-neighbour manifolds in feature space.

    The paper uses equally many real and generated samples (both sets' radii shrink with
    their size); the evaluator uses min(num_generated, num_real) of each.
    """

    def __init__(
        self, *, extractor, reference, k: int = 3, seed: int = 0, prefix: str = ""
    ) -> None:
        if k < 1:
            raise ConfigError(f"pr: k={k}: must be >= 1.")
        super().__init__(extractor=extractor, reference=reference, prefix=prefix)
        self.k, self.seed = k, seed
        self._size = 0

    def metric_names(self) -> tuple[str, ...]:
        return (self.key("precision"), self.key("recall"))

    @classmethod
    def check_counts(
        cls, options: Mapping[str, Any], *, num_generated: int, num_real: int | None
    ) -> list[str]:
        k = int(options.get("k", 3))
        size = min(num_generated, num_real or num_generated)
        if size <= k:
            raise ConfigError(
                f"k={k} nearest neighbours need more than {k} images per set; it gets "
                f"{size} (the smaller of eval.num_samples={num_generated} and eval.num_real="
                f"{num_real}); raise them or lower k."
            )
        return []

    def result(self) -> dict[str, float]:
        generated, real = self.pool(), self.real_features()
        self._size = size = min(len(generated), len(real))
        rng = np.random.default_rng(self.seed)
        if len(real) > size:
            real = real[np.sort(rng.choice(len(real), size, replace=False))]
        precision, recall = precision_recall(real, generated[:size], k=self.k)
        return {self.key("precision"): precision, self.key("recall"): recall}

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "k": self.k, "samples_per_set": self._size}
