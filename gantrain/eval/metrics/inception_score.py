"""Inception Score (Salimans et al. 2016), from class probabilities.

IS = exp(E_x KL(p(y|x) || p(y))), computed on `splits` consecutive parts of the generated set;
the result is the mean over parts and its standard deviation. It ranges from 1 (every image
gets the same prediction) to K, the number of classes (confident, evenly spread predictions).
With gantrain's domain classifier on MNIST, K = 10.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gantrain.errors import ConfigError
from gantrain.eval.metrics.common import FeatureEvaluator

_EPS = 1e-12


def inception_score(probs: np.ndarray, *, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of the Inception Score of class probabilities (N, K) over `splits` parts."""
    probs = np.asarray(probs, np.float64)
    if len(probs) < splits:
        raise ValueError(f"{len(probs)} samples cannot be cut into {splits} splits")
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + _EPS) - np.log(marginal + _EPS))).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


class InceptionScoreEvaluator(FeatureEvaluator):
    """`is` and `is_std` from the extractor's class probabilities (no real data involved)."""

    def __init__(self, *, extractor, splits: int = 10, prefix: str = "") -> None:
        if splits < 1:
            raise ConfigError(f"is: splits={splits}: must be >= 1.")
        if not extractor.num_classes:
            raise ConfigError(
                f"is: extractor {extractor.name} has no classifier head; the Inception Score "
                "needs class probabilities (use eval.extractor=inception_fid, inception or domain)."
            )
        super().__init__(extractor=extractor, prefix=prefix)
        self.splits = splits

    def metric_names(self) -> tuple[str, ...]:
        return (self.key("is"), self.key("is_std"))

    @classmethod
    def check_counts(
        cls, options: Mapping[str, Any], *, num_generated: int, num_real: int | None
    ) -> list[str]:
        splits = int(options.get("splits", 10))
        if num_generated < splits:
            raise ConfigError(
                f"{num_generated} generated images (eval.num_samples) cannot be cut into "
                f"{splits} splits; raise eval.num_samples or lower splits."
            )
        return []

    def result(self) -> dict[str, float]:
        mean, std = inception_score(self.probs(), splits=self.splits)
        return {self.key("is"): mean, self.key("is_std"): std}

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "splits": self.splits, "classes": self.extractor.num_classes}
