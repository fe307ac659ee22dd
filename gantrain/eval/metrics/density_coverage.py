"""Density and coverage (Naeem et al., ICML 2020), from activations.

Both use k-nearest-neighbour balls around the real samples only (the real manifold is the
trustworthy one; the generated set's balls, which recall uses, inflate around outliers):
with r_i the distance of real X_i to its k-th nearest other real sample and M generated Y_j,

    density  = 1/(k M) sum_j sum_i 1[|Y_j - X_i| < r_i]     (can exceed 1; 1 for matching sets)
    coverage = 1/N     sum_i 1[min_j |Y_j - X_i| < r_i]     (in [0, 1])

Strict inequalities, as the authors' `prdc` package computes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gantrain.errors import ConfigError
from gantrain.eval.metrics.common import FeatureEvaluator
from gantrain.eval.metrics.precision_recall import _CHUNK, _squared_distances, knn_radii


def density_coverage(real: np.ndarray, generated: np.ndarray, *, k: int = 5) -> tuple[float, float]:
    """(density, coverage) of generated (M, D) against real (N, D) features."""
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    radii = knn_radii(real, k)  # squared distances, compared with squared distances below
    inside_count = 0
    covered = np.zeros(len(real), bool)
    for start in range(0, len(generated), _CHUNK):
        inside = _squared_distances(generated[start : start + _CHUNK], real) < radii[None, :]
        inside_count += int(inside.sum())
        covered |= inside.any(axis=0)
    return inside_count / (k * len(generated)), float(covered.mean())


class DensityCoverageEvaluator(FeatureEvaluator):
    """`density` and `coverage` with k-NN balls around the real features (k=5, the paper's).

    Uses min(num_generated, num_real) samples of each set, as the paper's equal-size setting.
    """

    def __init__(
        self, *, extractor, reference, k: int = 5, seed: int = 0, prefix: str = ""
    ) -> None:
        if k < 1:
            raise ConfigError(f"dc: k={k}: must be >= 1.")
        super().__init__(extractor=extractor, reference=reference, prefix=prefix)
        self.k, self.seed = k, seed
        self._size = 0

    def metric_names(self) -> tuple[str, ...]:
        return (self.key("density"), self.key("coverage"))

    @classmethod
    def check_counts(
        cls, options: Mapping[str, Any], *, num_generated: int, num_real: int | None
    ) -> list[str]:
        k = int(options.get("k", 5))
        size = min(num_generated, num_real or num_generated)
        if size <= k:
            raise ConfigError(
                f"k={k} nearest neighbours need more than {k} images per set; it gets "
                f"{size} (eval.num_samples={num_generated}, eval.num_real={num_real}); raise "
                "them or lower k."
            )
        return []

    def result(self) -> dict[str, float]:
        generated, real = self.pool(), self.real_features()
        self._size = size = min(len(generated), len(real))
        if len(real) > size:
            rng = np.random.default_rng(self.seed)
            real = real[np.sort(rng.choice(len(real), size, replace=False))]
        density, coverage = density_coverage(real, generated[:size], k=self.k)
        return {self.key("density"): density, self.key("coverage"): coverage}

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "k": self.k, "samples_per_set": self._size}
