"""MNIST, shipped inside the package (Keras `mnist.npz` layout), so it works offline."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np

from gantrain.data.base import DatasetSource, DatasetSpec, LoadedDataset
from gantrain.data.npz import read_npz_arrays
from gantrain.errors import DatasetError

LAYOUT = (
    "a Keras-layout mnist.npz with x_train (60000, 28, 28) uint8, y_train, x_test, y_test "
    "(as keras.datasets.mnist.load_data writes it); leave dataset.path unset to use the copy "
    "shipped with gantrain"
)


ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")


def packaged_mnist_path() -> Path:
    """The `mnist.npz` that ships with gantrain (Yann LeCun and Corinna Cortes, CC BY-SA 3.0)."""
    return Path(str(resources.files("gantrain.data") / "assets" / "mnist.npz"))


@dataclass
class MnistSource(DatasetSource):
    """28x28 grayscale digits, 10 classes. `dataset.path` takes another `mnist.npz`."""

    name: str = "mnist"
    splits: ClassVar[tuple[str, ...]] = ("train", "test", "all")

    image_shape: ClassVar[tuple[int, int, int]] = (28, 28, 1)
    split_sizes: ClassVar[dict[str, int]] = {"train": 60_000, "test": 10_000, "all": 70_000}

    def spec(self, num_examples: int | None = None) -> DatasetSpec:
        return DatasetSpec(
            name=self.name,
            image_shape=self.image_shape,
            num_classes=10,
            num_examples=num_examples or self.split_sizes[self.split],
        )

    def load(self) -> LoadedDataset:
        path = Path(self.path).expanduser() if self.path else packaged_mnist_path()
        arrays = read_npz_arrays(path, ARRAY_KEYS, layout=LAYOUT)
        return self._from_arrays(arrays, path, LAYOUT)

    def _from_arrays(self, arrays: dict[str, np.ndarray], path: Path, layout: str) -> LoadedDataset:
        """The configured split of x_train/y_train/x_test/y_test arrays, checked."""
        parts = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
        names = ("train", "test") if self.split == "all" else (self.split,)
        images = np.concatenate([arrays[parts[n][0]] for n in names])
        labels = np.concatenate([arrays[parts[n][1]] for n in names])
        if images.ndim != 3 or images.shape[1:] != self.image_shape[:2] or images.dtype != np.uint8:
            raise DatasetError(
                f"dataset.path={path}: images are {images.dtype} {images.shape}, expected uint8 "
                f"(N, 28, 28); expected {layout}."
            )
        if labels.shape != (len(images),):
            raise DatasetError(
                f"dataset.path={path}: {len(labels)} labels for {len(images)} images; "
                f"expected {layout}."
            )
        if len(images) and (labels.min() < 0 or labels.max() > 9):
            raise DatasetError(f"dataset.path={path}: labels outside 0..9; expected {layout}.")
        return LoadedDataset(
            spec=self.spec(len(images)), images=images[..., None], labels=labels.astype(np.int32)
        )
