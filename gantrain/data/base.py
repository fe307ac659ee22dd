"""The dataset contract.

A dataset config names a `DatasetSource` subclass with `_target_`; that dataclass is the
config schema and loads the data. Every source delivers the same thing: uint8 NHWC images
plus optional integer labels, readable by index so the input pipeline can visit them in an
order derived from (seed, step) alone (exact resume without iterator state). Small sources
hold them in memory (`load`); sources larger than memory (`prepared`, `tfds`) override
`examples()` to read each batch from disk (gantrain/data/access.py).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:  # access.py imports TensorFlow; only readers need it
    from gantrain.data.access import ExampleReader

from gantrain.errors import ConfigError


@dataclass(frozen=True)
class DatasetSpec:
    """Facts about a dataset that models and the trainer are built from.

    Images reach models as float32 NHWC in [-1, 1]; `image_shape` is (H, W, C);
    `num_classes` is 0 for unlabeled data.
    """

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    num_examples: int


@dataclass(frozen=True)
class LoadedDataset:
    """Images as uint8 (N, H, W, C) in [0, 255]; labels as int (N,) or None."""

    spec: DatasetSpec
    images: np.ndarray
    labels: np.ndarray | None


@dataclass
class DatasetSource(abc.ABC):
    """Base schema of every `dataset:` config. Subclasses add their own fields."""

    name: str = "dataset"
    # A local copy of the data; each source documents the layout it accepts.
    path: str | None = None
    split: str = "train"
    # Doubles the dataset with horizontally mirrored copies (stylegan2-ada's --mirror).
    xflip: bool = False

    #: Splits a source accepts; subclasses override.
    splits: ClassVar[tuple[str, ...]] = ("train",)

    def check(self) -> None:
        if self.split not in self.splits:
            raise ConfigError(
                f"dataset.split={self.split!r}: {self.name} has the splits "
                f"{', '.join(self.splits)}."
            )

    @abc.abstractmethod
    def spec(self) -> DatasetSpec:
        """The dataset's facts without loading the images (used by `sample`)."""

    @abc.abstractmethod
    def load(self) -> LoadedDataset:
        """Read the images; raises DatasetError with a fix for missing or corrupt data."""

    def examples(self) -> ExampleReader:
        """Random access to the training examples; by default `load()`'s arrays in memory."""
        from gantrain.data.access import InMemoryReader, mirrored

        reader = InMemoryReader(self.load())
        return mirrored(reader) if self.xflip else reader
