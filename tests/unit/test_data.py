"""MNIST loading and the deterministic input pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gantrain.data.base import DatasetSpec, LoadedDataset
from gantrain.data.mnist import MnistSource
from gantrain.data.pipeline import steps_per_epoch, train_dataset
from gantrain.errors import ConfigError, DatasetError


def _dataset(count: int, labels: bool = True) -> LoadedDataset:
    images = np.arange(count, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 1), np.uint8)
    return LoadedDataset(
        spec=DatasetSpec("toy", (2, 2, 1), 10, count),
        images=images,
        labels=np.arange(count, dtype=np.int32) % 10 if labels else None,
    )


def _ids(batch) -> list[int]:
    return [int(v) for v in batch["label"].numpy()]


def test_packaged_mnist_is_the_real_one() -> None:
    data = MnistSource().load()
    assert data.images.shape == (60_000, 28, 28, 1) and data.images.dtype == np.uint8
    assert data.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.spec == DatasetSpec("mnist", (28, 28, 1), 10, 60_000)
    assert len(MnistSource(split="test").load().images) == 10_000
    assert len(MnistSource(split="all").load().images) == 70_000


def test_mnist_from_a_local_path(tiny_mnist: Path) -> None:
    data = MnistSource(path=str(tiny_mnist)).load()
    assert data.images.shape == (256, 28, 28, 1)
    assert data.spec.num_examples == 256


def test_pipeline_shapes_range_and_dtypes(tiny_mnist: Path) -> None:
    data = MnistSource(path=str(tiny_mnist)).load()
    batch = next(iter(train_dataset(data, batch_size=32, seed=0)))
    assert batch["image"].shape == (32, 28, 28, 1)
    assert batch["image"].dtype.name == "float32"
    assert batch["label"].dtype.name == "int32"
    image = batch["image"].numpy()
    assert image.min() == -1.0 and image.max() == 1.0


def test_each_epoch_is_a_permutation_without_the_remainder() -> None:
    data = _dataset(10)  # 10 examples, batch 3: 3 batches per epoch, 1 example dropped
    assert steps_per_epoch(10, 3) == 3
    iterator = iter(train_dataset(data, batch_size=3, seed=1))
    epochs = [[_ids(next(iterator)) for _ in range(3)] for _ in range(4)]
    for epoch in epochs:
        seen = [i for batch in epoch for i in batch]
        assert len(seen) == 9 and len(set(seen)) == 9  # drop_remainder: 9 of 10, no repeats
        assert all(len(batch) == 3 for batch in epoch)
    assert epochs[0] != epochs[1]  # reshuffled every epoch


def test_order_is_a_function_of_seed_and_step() -> None:
    data = _dataset(50)
    full = iter(train_dataset(data, batch_size=4, seed=7))
    reference = [_ids(next(full)) for _ in range(40)]
    for start in (0, 5, 12, 13, 37):
        resumed = iter(train_dataset(data, batch_size=4, seed=7, start_step=start))
        assert [_ids(next(resumed)) for _ in range(3)] == reference[start : start + 3]
    other_seed = iter(train_dataset(data, batch_size=4, seed=8))
    assert [_ids(next(other_seed)) for _ in range(3)] != reference[:3]


def test_unlabeled_data_gets_label_zero() -> None:
    batch = next(iter(train_dataset(_dataset(8, labels=False), batch_size=4, seed=0)))
    assert _ids(batch) == [0, 0, 0, 0]


def test_batch_larger_than_dataset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="trainer.batch_size=64 is larger than the dataset"):
        train_dataset(_dataset(10), batch_size=64, seed=0)


def test_missing_path_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file.*Keras-layout mnist.npz"):
        MnistSource(path=str(tmp_path / "missing.npz")).load()


def test_directory_path_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="is a directory"):
        MnistSource(path=str(tmp_path)).load()


def test_truncated_file_is_reported_as_corrupt(tmp_path: Path, tiny_mnist: Path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(tiny_mnist.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="not an .npz archive .not even a zip file.*truncated"):
        MnistSource(path=str(broken)).load()


def test_not_an_npz_at_all(tmp_path: Path) -> None:
    text = tmp_path / "mnist.npz"
    text.write_text("hello")
    with pytest.raises(DatasetError, match="not an .npz archive .not even a zip file"):
        MnistSource(path=str(text)).load()


def test_missing_arrays_are_named(tmp_path: Path) -> None:
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=np.zeros((4, 28, 28), np.uint8))
    with pytest.raises(DatasetError, match="no y_train, x_test, y_test"):
        MnistSource(path=str(path)).load()


def test_wrong_image_shape_or_dtype(tmp_path: Path) -> None:
    path = tmp_path / "rgb.npz"
    arrays = {
        "x_train": np.zeros((4, 32, 32, 3), np.uint8),
        "y_train": np.zeros(4, np.uint8),
        "x_test": np.zeros((2, 32, 32, 3), np.uint8),
        "y_test": np.zeros(2, np.uint8),
    }
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=r"expected uint8 \(N, 28, 28\)"):
        MnistSource(path=str(path)).load()
    arrays.update(
        x_train=np.zeros((4, 28, 28), np.float32), x_test=np.zeros((2, 28, 28), np.float32)
    )
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match="float32"):
        MnistSource(path=str(path)).load()


def test_pickled_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pickled.npz"
    objects = np.array([{"a": 1}] * 4, dtype=object)
    np.savez(path, x_train=objects, y_train=objects, x_test=objects, y_test=objects)
    with pytest.raises(DatasetError, match="holds object .pickled. arrays, which gantrain never"):
        MnistSource(path=str(path)).load()
