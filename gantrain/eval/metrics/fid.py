"""Fréchet Inception Distance (Heusel et al. 2017), from activations.

FID = |mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2)) between Gaussian fits of real and
generated features. Lower is better; 0 for identical statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gantrain.errors import ConfigError
from gantrain.eval.metrics.common import FeatureEvaluator

#: Below this many images per set a FID is dominated by its sample-size bias (FID's
#: expectation grows as N shrinks; below the 2048 feature dimensions of Inception's pool_3 the
#: covariance is not even full rank): TTUR asks for at least 2048, papers use 10k or 50k.
FEW_IMAGES = 2048


def few_images_warning(metric: str, num_generated: int, num_real: int | None) -> str | None:
    """A warning when `metric` is computed from too few images to mean anything."""
    counts = [("generated", num_generated)]
    if num_real is not None:
        counts.append(("real", num_real))
    few = [f"{n} {what}" for what, n in counts if n < FEW_IMAGES]
    if not few:
        return None
    return (
        f"{metric} from {' and '.join(few)} images means nothing next to other numbers: its "
        f"bias depends on the count and dominates below {FEW_IMAGES} (papers use 10,000 or "
        "50,000; see eval.protocol)"
    )


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative eigenvalues,
    which only rounding produces, are clipped to 0)."""
    eigenvalues, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def frechet_distance(
    mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray
) -> float:
    """Fréchet distance between N(mean1, cov1) and N(mean2, cov2); means (D,), covs (D, D).

    tr((S1 S2)^(1/2)) is computed as the trace of (S1^(1/2) S2 S1^(1/2))^(1/2): that matrix
    is symmetric PSD with the same eigenvalues as S1 S2, so no complex square root (the
    `scipy.linalg.sqrtm` route) and no imaginary rounding residue is involved.
    """
    mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    if mean1.shape != mean2.shape or cov1.shape != cov2.shape:
        raise ValueError(f"shapes differ: {mean1.shape}/{cov1.shape} vs {mean2.shape}/{cov2.shape}")
    root1 = sqrtm_psd(cov1)
    middle = root1 @ cov2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_covmean = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mean1 - mean2
    value = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_covmean
    return float(max(value, 0.0))  # rounding can leave -1e-12 for identical statistics


def fid_from_features(real: np.ndarray, generated: np.ndarray) -> float:
    """FID between two sets of activations (N, D) and (M, D)."""
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    return frechet_distance(
        real.mean(0), np.cov(real, rowvar=False), generated.mean(0), np.cov(generated, rowvar=False)
    )


def check_dimension(real_mean: np.ndarray, pool: np.ndarray, extractor: Any) -> None:
    """One-line error when reference statistics come from another network than `extractor`."""
    if real_mean.shape[-1] != pool.shape[-1]:
        raise ConfigError(
            f"the reference statistics have {real_mean.shape[-1]} dimensions, extractor "
            f"{extractor.name} gives {pool.shape[-1]}: they come from another network; use "
            "statistics of the same extractor (eval.extractor / eval.reference_stats)."
        )


class FIDEvaluator(FeatureEvaluator):
    """`fid`: Fréchet distance of the extractor's pool features, generated vs real."""

    #: Mean and covariance suffice, so published `mu`/`sigma` (eval.reference_stats) work.
    requires_real_features = False

    def __init__(self, *, extractor, reference, prefix: str = "") -> None:
        super().__init__(extractor=extractor, reference=reference, prefix=prefix)
        self.minimize = frozenset({self.key("fid")})
        self._warning: str | None = None

    def metric_names(self) -> tuple[str, ...]:
        return (self.key("fid"),)

    @classmethod
    def check_counts(
        cls, options: Mapping[str, Any], *, num_generated: int, num_real: int | None
    ) -> list[str]:
        if num_generated < 2 or (num_real is not None and num_real < 2):
            raise ConfigError(
                f"needs at least 2 generated and 2 real images (a covariance); "
                f"eval.num_samples={num_generated}, eval.num_real={num_real}."
            )
        warning = few_images_warning("FID", num_generated, num_real)
        return [warning] if warning else []

    def result(self) -> dict[str, float]:
        pool = self.pool().astype(np.float64)
        real = self.real()
        check_dimension(real.mean, pool, self.extractor)
        num_real = None if real.features is None else len(real.features)
        self._warning = few_images_warning("FID", len(pool), num_real)
        value = frechet_distance(real.mean, real.cov, pool.mean(0), np.cov(pool, rowvar=False))
        return {self.key("fid"): value}

    def protocol(self) -> dict[str, Any]:
        protocol = super().protocol()
        if self._warning:
            protocol["warning"] = self._warning
        return protocol
