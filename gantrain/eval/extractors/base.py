"""The feature-extractor contract and the image preparation shared by extractors."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from gantrain.eval.base import Features


class FeatureExtractor(abc.ABC):
    """Images float32 (N, H, W, C) in [-1, 1] -> `Features` (pool (N, D), probs (N, K) or None).

    `describe()` is the extractor's part of every result's protocol: its name, the identity
    of its weights and how images are resized. Two results are comparable only if these
    agree, so reference statistics are cached under them.
    """

    name: str = "extractor"
    #: K, the number of classes of `probs` (0 when the extractor has no classifier head).
    num_classes: int = 0

    @abc.abstractmethod
    def __call__(self, images: np.ndarray) -> Features:
        """Activations of a batch of images."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Protocol fields: at least `extractor`, `weights` and `resize`."""


def batched(images: np.ndarray, batch_size: int):
    """Slices of at most `batch_size` along the first axis."""
    for start in range(0, len(images), batch_size):
        yield images[start : start + batch_size]
