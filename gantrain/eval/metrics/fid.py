"""Fréchet Inception Distance (Heusel et al. 2017), from activations.

FID = |mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2)) between Gaussian fits of real and
generated features. Lower is better; 0 for identical statistics.
"""

from __future__ import annotations

import numpy as np

from gantrain.eval.metrics.common import FeatureEvaluator


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


class FIDEvaluator(FeatureEvaluator):
    """`fid`: Fréchet distance of the extractor's pool features, generated vs real."""

    def __init__(self, *, extractor, reference, prefix: str = "") -> None:
        super().__init__(extractor=extractor, reference=reference, prefix=prefix)
        self.minimize = frozenset({self.key("fid")})

    def metric_names(self) -> tuple[str, ...]:
        return (self.key("fid"),)

    def result(self) -> dict[str, float]:
        pool = self.pool().astype(np.float64)
        real = self.real()
        value = frechet_distance(real.mean, real.cov, pool.mean(0), np.cov(pool, rowvar=False))
        return {self.key("fid"): value}
