"""Intra-FID (Miyato & Koyama 2018): the mean over classes of the FID between the generated
images of class c (those the conditional generator was asked for) and the real images of c.

It scores each class's distribution, so a conditional model that draws the right images for
the wrong labels, or mixes classes, is penalised where the plain FID is not. Each class's FID
uses few images (N / classes): compare intra-FIDs of equal counts only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gantrain.errors import ConfigError
from gantrain.eval.base import Batch
from gantrain.eval.metrics.common import FeatureEvaluator
from gantrain.eval.metrics.fid import few_images_warning, fid_from_features


def intra_fid(
    real: np.ndarray,
    real_labels: np.ndarray,
    generated: np.ndarray,
    generated_labels: np.ndarray,
    num_classes: int,
) -> tuple[float, list[float]]:
    """(mean, per-class FIDs) over classes 0..num_classes-1; features (N, D), labels (N,)."""
    per_class = []
    for c in range(num_classes):
        r, g = real[real_labels == c], generated[generated_labels == c]
        if len(r) < 2 or len(g) < 2:
            raise ValueError(
                f"class {c} has {len(r)} real and {len(g)} generated images; intra-FID needs 2 each"
            )
        per_class.append(fid_from_features(r, g))
    return float(np.mean(per_class)), per_class


class IntraFIDEvaluator(FeatureEvaluator):
    """`intra_fid`: mean per-class FID of a class-conditional generator (labels required)."""

    def __init__(
        self, *, extractor, reference, num_classes: int, conditional: bool, prefix: str = ""
    ) -> None:
        if not conditional or num_classes < 2:
            raise ConfigError(
                "intra_fid: needs a class-conditional generator (images generated for "
                "labels); this one is unconditional. Drop intra_fid from eval=[...]."
            )
        super().__init__(extractor=extractor, reference=reference, prefix=prefix)
        self.num_classes = num_classes
        self.minimize = frozenset({self.key("intra_fid")})
        self._labels: list[np.ndarray] = []
        self._per_class: list[float] = []
        self._warning: str | None = None

    def metric_names(self) -> tuple[str, ...]:
        return (self.key("intra_fid"),)

    @classmethod
    def check_counts(
        cls, options: Mapping[str, Any], *, num_generated: int, num_real: int | None
    ) -> list[str]:
        warning = few_images_warning("intra-FID (per class)", num_generated, num_real)
        return [f"{warning}; each class gets only a share of them"] if warning else []

    def reset(self) -> None:
        super().reset()
        self._labels = []

    def update(self, batch: Batch) -> None:
        if batch.labels is None:
            raise ConfigError("intra_fid: the images carry no labels; it needs labelled images.")
        super().update(batch)
        self._labels.append(np.asarray(batch.labels, np.int64))

    def result(self) -> dict[str, float]:
        real = self.real()
        if real.labels is None:
            raise ConfigError(
                f"intra_fid: the real images of {self.extractor.name} have no labels."
            )
        generated, labels = self.pool(), np.concatenate(self._labels)
        per_class_count = len(generated) // self.num_classes
        self._warning = few_images_warning("intra-FID (per class)", per_class_count, None)
        try:
            mean, self._per_class = intra_fid(
                self.real_features(), real.labels, generated, labels, self.num_classes
            )
        except ValueError as error:
            raise ConfigError(
                f"intra_fid: {error}; raise eval.num_samples / eval.num_real."
            ) from None
        return {self.key("intra_fid"): mean}

    def protocol(self) -> dict[str, Any]:
        protocol = {
            **super().protocol(),
            "classes": self.num_classes,
            "per_class_fid": [round(v, 4) for v in self._per_class],
        }
        if self._warning:
            protocol["warning"] = self._warning
        return protocol
