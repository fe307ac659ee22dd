"""Fashion-MNIST (Xiao et al. 2017): 28x28 grayscale clothing, 10 classes, MNIST's layout.

Without `dataset.path`, the four official gzipped IDX files are downloaded once into the cache
(see download.py), each MD5-checked. `dataset.path` takes a folder holding those four files
(the release's layout, which is MNIST's original one) or a Keras-layout .npz with x_train,
y_train, x_test and y_test (as for dataset=mnist).
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantrain.data.base import LoadedDataset
from gantrain.data.download import fetch
from gantrain.data.mnist import ARRAY_KEYS, MnistSource
from gantrain.data.npz import read_npz_arrays
from gantrain.errors import DatasetError

# The release's own repository (HTTPS); the same files as the S3 site its README links.
URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
FILES = {  # array key -> (file name, MD5 from the Fashion-MNIST README)
    "x_train": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "y_train": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    "x_test": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    "y_test": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}
LAYOUT = (
    "a folder with the Fashion-MNIST release files (train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), or a "
    "Keras-layout .npz with x_train, y_train, x_test, y_test"
)
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def read_idx(path: Path) -> np.ndarray:
    """A gzipped IDX file (the MNIST format) as a uint8 array: (N,) labels or (N, H, W) images."""
    try:
        with gzip.open(path, "rb") as file:
            data = file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(
            f"dataset.path: {path} is not a readable .gz file ({type(error).__name__}: {error}); "
            f"expected {LAYOUT}."
        ) from error
    if len(data) < 8 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise DatasetError(f"dataset.path: {path} is not an IDX file of bytes; expected {LAYOUT}.")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise DatasetError(
            f"dataset.path: {path} holds {len(data) - offset} bytes for shape {shape}; the file is "
            f"truncated; expected {LAYOUT}."
        )
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


@dataclass
class FashionMnistSource(MnistSource):
    """Fashion-MNIST, downloaded and cached, or from `dataset.path` (folder or .npz)."""

    name: str = "fashion_mnist"
    # Folder URL of the four release files (a mirror with the same files works).
    url: str = URL

    def load(self) -> LoadedDataset:
        if self.path:
            path = Path(self.path).expanduser()
            if path.suffix == ".npz":
                arrays = read_npz_arrays(path, ARRAY_KEYS, layout=LAYOUT)
                return self._from_arrays(arrays, path, LAYOUT)
            if not path.is_dir():
                raise DatasetError(
                    f"dataset.path={path}: no such folder or .npz; expected {LAYOUT}."
                )
            files = {key: path / name for key, (name, _) in FILES.items()}
            missing = [f.name for f in files.values() if not f.is_file()]
            if missing:
                raise DatasetError(
                    f"dataset.path={path}: no {', '.join(missing)}; expected {LAYOUT}."
                )
        else:
            path = Path(self.url)
            files = {
                key: fetch(
                    self.url.rstrip("/") + "/" + name,
                    f"fashion-mnist/{name}",
                    md5=md5,
                    what=f"Fashion-MNIST {name}",
                    manual=f"download the four files from {URL} and pass dataset.path=<folder>",
                )
                for key, (name, md5) in FILES.items()
            }
        arrays = {key: read_idx(file) for key, file in files.items()}
        return self._from_arrays(arrays, path, LAYOUT)
