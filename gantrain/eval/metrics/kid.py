"""Kernel Inception Distance (Bińkowski et al. 2018), from activations.

The squared MMD between real and generated features under the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, estimated without bias on `subsets` random subsets of `subset_size`
samples each; the result is the mean over subsets and its standard deviation. Unlike FID, the
estimator's expectation does not depend on the sample size, and it can be slightly negative
when the distributions match. Reported x 10^3, as papers quote it, with the unit in the name:
`kid_x1e3` (KID 0.0012 is `kid_x1e3` 1.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gantrain.errors import ConfigError
from gantrain.eval.metrics.common import FeatureEvaluator

#: Papers quote KID x 10^3; the metric name carries the unit.
SCALE = 1e3
NAME = "kid_x1e3"
#: Below this subset size the spread over subsets swamps the differences between models.
FEW_PER_SUBSET = 100


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(x y^T / d + 1)^3 for x (N, d), y (M, d): (N, M) float64."""
    base = x @ y.T / x.shape[1] + 1.0
    return base * base * base  # a product, not ** 3: numpy's pow is several times slower


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased estimate of MMD^2 between samples x (m, d) and y (m, d), m >= 2.

    The within-set averages leave out the diagonal (k(x_i, x_i)), which is what makes the
    estimate unbiased.
    """
    m = len(x)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.mean())


def kid_from_features(
    real: np.ndarray,
    generated: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 over `subsets` random subsets, drawn with `seed`.

    Each subset has min(subset_size, len(real), len(generated)) samples of each set.
    """
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    size = min(subset_size, len(real), len(generated))
    if size < 2:
        raise ValueError("KID needs at least 2 real and 2 generated samples")
    rng = np.random.default_rng(seed)
    values = [
        mmd2_unbiased(
            generated[rng.choice(len(generated), size, replace=False)],
            real[rng.choice(len(real), size, replace=False)],
        )
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


class KIDEvaluator(FeatureEvaluator):
    """`kid_x1e3` and `kid_x1e3_std`: unbiased polynomial-kernel MMD^2 x 10^3, mean and std
    over subsets."""

    def __init__(
        self,
        *,
        extractor,
        reference,
        subsets: int = 100,
        subset_size: int = 1000,
        seed: int = 0,
        prefix: str = "",
    ) -> None:
        if subsets < 1 or subset_size < 2:
            raise ConfigError(
                f"kid: subsets={subsets}, subset_size={subset_size}: need subsets >= 1 and "
                "subset_size >= 2."
            )
        super().__init__(extractor=extractor, reference=reference, prefix=prefix)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        self.minimize = frozenset({self.key(NAME)})
        self._used_size = 0

    def metric_names(self) -> tuple[str, ...]:
        return (self.key(NAME), self.key(f"{NAME}_std"))

    @classmethod
    def check_counts(
        cls, options: Mapping[str, Any], *, num_generated: int, num_real: int | None
    ) -> list[str]:
        size = min(int(options.get("subset_size", 1000)), num_generated, num_real or num_generated)
        if size < 2:
            raise ConfigError(
                f"needs at least 2 generated and 2 real images per subset; "
                f"eval.num_samples={num_generated}, eval.num_real={num_real}."
            )
        if size < FEW_PER_SUBSET:
            return [_few_warning(size)]
        return []

    def result(self) -> dict[str, float]:
        real, generated = self.real_features(), self.pool()
        self._used_size = min(self.subset_size, len(real), len(generated))
        mean, std = kid_from_features(
            real, generated, subsets=self.subsets, subset_size=self.subset_size, seed=self.seed
        )
        return {self.key(NAME): mean * SCALE, self.key(f"{NAME}_std"): std * SCALE}

    def protocol(self) -> dict[str, Any]:
        protocol = {
            **super().protocol(),
            "subsets": self.subsets,
            "subset_size": self.subset_size,
            "kernel": "polynomial (x.y/d + 1)^3",
            "unit": "x 1e3",
        }
        if 0 < self._used_size < FEW_PER_SUBSET:
            protocol["warning"] = _few_warning(self._used_size)
        return protocol


def _few_warning(size: int) -> str:
    return (
        f"KID from subsets of {size} images means nothing next to other numbers: its spread "
        f"over subsets swamps model differences below {FEW_PER_SUBSET} (papers use 1000)"
    )
