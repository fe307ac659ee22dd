"""CIFAR-10 (Krizhevsky 2009): 32x32 RGB, 10 classes, 50,000 train and 10,000 test images.

Without `dataset.path`, the official python release is downloaded once into the cache (see
download.py) and its MD5 checked. `dataset.path` takes a local `cifar-10-python.tar.gz` or an
extracted `cifar-10-batches-py/` folder (or the folder holding it). The pickled batches are
read with a restricted unpickler (unpickle.py), never plain `pickle.load`.
"""

from __future__ import annotations

import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from gantrain.data.base import DatasetSource, DatasetSpec, LoadedDataset
from gantrain.data.download import fetch
from gantrain.data.unpickle import load_arrays_pickle
from gantrain.errors import DatasetError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
LAYOUT = (
    "the CIFAR-10 python release: cifar-10-python.tar.gz or its extracted "
    f"{FOLDER}/ with data_batch_1..5 and test_batch"
)
CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"
)  # fmt: skip


@dataclass
class Cifar10Source(DatasetSource):
    """CIFAR-10 from the official release (downloaded and cached) or `dataset.path`."""

    name: str = "cifar10"
    # Where to download from when dataset.path is unset (a mirror of the same file works).
    url: str = URL
    splits: ClassVar[tuple[str, ...]] = ("train", "test", "all")

    image_shape: ClassVar[tuple[int, int, int]] = (32, 32, 3)
    split_sizes: ClassVar[dict[str, int]] = {"train": 50_000, "test": 10_000, "all": 60_000}

    def spec(self, num_examples: int | None = None) -> DatasetSpec:
        return DatasetSpec(
            name=self.name,
            image_shape=self.image_shape,
            num_classes=len(CLASSES),
            num_examples=num_examples or self.split_sizes[self.split],
        )

    def _source(self) -> Path:
        if self.path:
            return Path(self.path).expanduser()
        return fetch(
            self.url,
            "cifar-10-python.tar.gz",
            md5=MD5,
            what="CIFAR-10",
            manual=f"download {URL} yourself and pass dataset.path=<the .tar.gz>",
        )

    def load(self) -> LoadedDataset:
        source = self._source()
        names = [
            b for split in ("train", "test") if self.split in (split, "all") for b in BATCHES[split]
        ]
        raw = _read_batches(source, names)
        parts = [_decode_batch(raw[name], f"{source}:{name}") for name in names]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        return LoadedDataset(spec=self.spec(len(images)), images=images, labels=labels)


def _read_batches(source: Path, names: list[str]) -> dict[str, bytes]:
    """The raw bytes of the named batch files from a .tar.gz or a folder."""
    if not source.exists():
        raise DatasetError(f"dataset.path={source}: no such file or folder; expected {LAYOUT}.")
    if source.is_dir():
        folder = source / FOLDER if (source / FOLDER).is_dir() else source
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise DatasetError(
                f"dataset.path={source}: {folder} has no {', '.join(missing)}; expected {LAYOUT}."
            )
        return {n: (folder / n).read_bytes() for n in names}
    try:
        with tarfile.open(source, "r:*") as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
            missing = [n for n in names if n not in members]
            if missing:
                raise DatasetError(
                    f"dataset.path={source}: the archive has no {', '.join(missing)}; "
                    f"expected {LAYOUT}."
                )
            return {n: archive.extractfile(members[n]).read() for n in names}
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetError(
            f"dataset.path={source} is not a readable .tar.gz ({type(error).__name__}: "
            f"{error}); the file may be truncated; expected {LAYOUT}."
        ) from error


def _decode_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 32, 32, 3), labels int32 (N,)) of one pickled batch."""
    try:
        batch = load_arrays_pickle(data)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError) as error:
        raise DatasetError(
            f"{where}: not a CIFAR-10 batch ({type(error).__name__}: {error}); expected {LAYOUT}."
        ) from error
    flat = batch.get(b"data") if isinstance(batch, dict) else None
    labels = batch.get(b"labels") if isinstance(batch, dict) else None
    if not isinstance(flat, np.ndarray) or flat.dtype != np.uint8 or flat.ndim != 2:
        raise DatasetError(f"{where}: no uint8 'data' array of rows; expected {LAYOUT}.")
    if flat.shape[1] != 32 * 32 * 3 or labels is None or len(labels) != len(flat):
        raise DatasetError(
            f"{where}: data {flat.shape} with {0 if labels is None else len(labels)} labels; "
            f"expected (N, 3072) and N labels: {LAYOUT}."
        )
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise DatasetError(f"{where}: labels outside 0..9; expected {LAYOUT}.")
    # Rows hold the R, G and B planes one after the other (channels first).
    images = flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int32)
