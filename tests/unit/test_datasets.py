"""CIFAR-10, Fashion-MNIST and image folders, from files the tests write (never the network),
and the download cache (checksum, resume) through local file:// URLs."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantrain.config import load_run_config
from gantrain.data import download
from gantrain.data.cifar10 import Cifar10Source
from gantrain.data.fashion_mnist import FashionMnistSource
from gantrain.data.folder import ImageFolderSource
from gantrain.errors import ConfigError, DatasetError
from tests.conftest import compose_config

# -- CIFAR-10 in its release layout, tiny (tests/conftest.py writes it) ----------------------


@pytest.mark.parametrize("form", ["tar", "folder", "parent"])
def test_cifar_reads_the_release_layout(tiny_cifar10, form: str) -> None:
    root, truth = tiny_cifar10
    path = {
        "tar": root / "cifar-10-python.tar.gz",
        "folder": root / "cifar-10-batches-py",
        "parent": root,
    }[form]
    train = Cifar10Source(path=str(path)).load()
    expected = np.concatenate([truth[f"data_batch_{i}"][0] for i in range(1, 6)])
    np.testing.assert_array_equal(train.images, expected)
    assert train.labels.tolist() == [i % 10 for i in range(20)]
    assert train.spec.image_shape == (32, 32, 3) and train.spec.num_classes == 10
    test = Cifar10Source(path=str(path), split="test").load()
    np.testing.assert_array_equal(test.images, truth["test_batch"][0])
    assert len(Cifar10Source(path=str(path), split="all").load().images) == 24


def test_cifar_refuses_pickles_that_run_code(tmp_path: Path) -> None:
    class Exploit:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}))
    with pytest.raises(DatasetError, match="refusing to load"):
        Cifar10Source(path=str(folder)).load()
    assert not (tmp_path / "pwned").exists()


def test_cifar_missing_or_broken_files_are_clear_errors(tiny_cifar10, tmp_path: Path) -> None:
    root, _ = tiny_cifar10
    with pytest.raises(DatasetError, match="no such file or folder"):
        Cifar10Source(path=str(tmp_path / "nope.tar.gz")).load()
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "data_batch_1").write_bytes(
        (root / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    )
    with pytest.raises(DatasetError, match="has no data_batch_2"):
        Cifar10Source(path=str(partial)).load()
    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes((root / "cifar-10-python.tar.gz").read_bytes()[:300])
    with pytest.raises(DatasetError, match="not a readable .tar.gz"):
        Cifar10Source(path=str(truncated)).load()
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        (wrong / name).write_bytes(
            pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]})
        )
    with pytest.raises(DatasetError, match=r"expected \(N, 3072\)"):
        Cifar10Source(path=str(wrong)).load()


@pytest.mark.slow
def test_cifar_from_the_shared_jpeg_rebuild(tmp_path: Path) -> None:
    """The real 60,000 images, rebuilt by ../shared/datasets/cifar10_from_jpeg.py."""
    import subprocess
    import sys

    from tests.conftest import SHARED_DATASETS

    script = SHARED_DATASETS / "cifar10_from_jpeg.py"
    if not script.exists():
        pytest.skip(f"{script} is not available")
    subprocess.run([sys.executable, str(script), str(tmp_path), "--tar"], check=True, timeout=600)
    data = Cifar10Source(path=str(tmp_path / "cifar-10-python.tar.gz"), split="all").load()
    assert data.images.shape == (60_000, 32, 32, 3)
    np.testing.assert_array_equal(np.bincount(data.labels), [6000] * 10)
    means = data.images.reshape(-1, 3).mean(axis=0) / 255.0
    np.testing.assert_allclose(means, [0.4913, 0.4821, 0.4465], atol=2e-3)


# -- downloads -----------------------------------------------------------------------------


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_download_caches_verifies_and_reuses(tiny_cifar10, tmp_path, monkeypatch) -> None:
    root, truth = tiny_cifar10
    tarball = root / "cifar-10-python.tar.gz"
    monkeypatch.setenv("GANTRAIN_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr("gantrain.data.cifar10.MD5", _md5(tarball.read_bytes()))
    source = Cifar10Source(url=tarball.as_uri())
    data = source.load()
    cached = tmp_path / "cache" / "cifar-10-python.tar.gz"
    assert cached.read_bytes() == tarball.read_bytes()
    np.testing.assert_array_equal(data.images[:4], truth["data_batch_1"][0])
    # Cached: no second download (the URL is gone now).
    Cifar10Source(url=(tmp_path / "gone.tar.gz").as_uri()).load()


def test_download_with_a_wrong_checksum_is_refused(tiny_cifar10, tmp_path, monkeypatch) -> None:
    root, _ = tiny_cifar10
    monkeypatch.setenv("GANTRAIN_DATA", str(tmp_path))
    url = (root / "cifar-10-python.tar.gz").as_uri()
    with pytest.raises(DatasetError, match="has MD5 .* expected c58f30108f718f92721af3b95e74349a"):
        Cifar10Source(url=url).load()
    assert list(tmp_path.iterdir()) == []  # neither the file nor a .part is left behind


def test_download_failure_names_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GANTRAIN_DATA", str(tmp_path))
    with pytest.raises(DatasetError, match="cannot download CIFAR-10 .* dataset.path="):
        Cifar10Source(url=(tmp_path / "missing.tar.gz").as_uri()).load()


def test_partial_download_resumes_with_a_range_request(tmp_path, monkeypatch) -> None:
    payload = bytes(range(256)) * 40
    monkeypatch.setenv("GANTRAIN_DATA", str(tmp_path))
    (tmp_path / "file.bin.part").write_bytes(payload[:1000])
    requests = []

    def fake_open(url: str, offset: int):
        requests.append(offset)
        return io.BytesIO(payload[offset:]), len(payload), True  # the server honours Range

    monkeypatch.setattr(download, "open_url", fake_open)
    path = download.fetch(
        "https://example.invalid/file.bin", "file.bin", md5=_md5(payload), what="t", manual="m"
    )
    assert requests == [1000]
    assert path.read_bytes() == payload and not (tmp_path / "file.bin.part").exists()


def test_server_without_ranges_restarts_the_download(tmp_path, monkeypatch) -> None:
    payload = b"x" * 5000
    monkeypatch.setenv("GANTRAIN_DATA", str(tmp_path))
    (tmp_path / "file.bin.part").write_bytes(b"garbage")
    monkeypatch.setattr(
        download, "open_url", lambda url, offset: (io.BytesIO(payload), None, False)
    )
    path = download.fetch(
        "https://example.invalid/f", "file.bin", md5=_md5(payload), what="t", manual="m"
    )
    assert path.read_bytes() == payload


def test_cache_dir_defaults_to_keras(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("GANTRAIN_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert download.cache_dir() == tmp_path / "kh" / "datasets"
    monkeypatch.setenv("GANTRAIN_DATA", str(tmp_path / "gd"))
    assert download.cache_dir() == tmp_path / "gd"


# -- Fashion-MNIST ---------------------------------------------------------------------------


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _write_fashion(folder: Path) -> dict[str, np.ndarray]:
    from gantrain.data.fashion_mnist import FILES

    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "y_train": np.arange(6, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "y_test": np.array([9, 8], np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, (name, _) in FILES.items():
        (folder / name).write_bytes(_idx(arrays[key]))
    return arrays


def test_fashion_mnist_from_the_release_files_and_npz(tmp_path: Path) -> None:
    arrays = _write_fashion(tmp_path / "fashion")
    data = FashionMnistSource(path=str(tmp_path / "fashion"), split="all").load()
    assert data.images.shape == (8, 28, 28, 1)
    np.testing.assert_array_equal(data.images[:6, ..., 0], arrays["x_train"])
    assert data.labels.tolist() == [0, 1, 2, 3, 4, 5, 9, 8]
    np.savez(tmp_path / "fashion.npz", **arrays)
    test = FashionMnistSource(path=str(tmp_path / "fashion.npz"), split="test").load()
    assert test.labels.tolist() == [9, 8] and test.spec.name == "fashion_mnist"


def test_fashion_mnist_download_and_broken_files(tmp_path, monkeypatch) -> None:
    from gantrain.data import fashion_mnist

    arrays = _write_fashion(tmp_path / "server")
    files = {
        key: (name, _md5((tmp_path / "server" / name).read_bytes()))
        for key, (name, _) in fashion_mnist.FILES.items()
    }
    monkeypatch.setattr(fashion_mnist, "FILES", files)
    monkeypatch.setenv("GANTRAIN_DATA", str(tmp_path / "cache"))
    data = FashionMnistSource(url=(tmp_path / "server").as_uri()).load()
    np.testing.assert_array_equal(data.images[..., 0], arrays["x_train"])
    assert (tmp_path / "cache" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    broken = tmp_path / "broken"
    _write_fashion(broken)
    name = "train-images-idx3-ubyte.gz"
    (broken / name).write_bytes(gzip.compress(gzip.decompress((broken / name).read_bytes())[:-10]))
    with pytest.raises(DatasetError, match="truncated"):
        FashionMnistSource(path=str(broken)).load()
    with pytest.raises(DatasetError, match="no t10k-labels"):
        (broken / "t10k-labels-idx1-ubyte.gz").unlink()
        FashionMnistSource(path=str(broken)).load()


# -- image folders ---------------------------------------------------------------------------


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_labels_from_subfolders_and_skips_unreadable(tmp_path, caplog) -> None:
    for i in range(3):
        _png(tmp_path / "cat" / f"{i}.png", np.full((20, 30, 3), 10 * i, np.uint8))
    _png(tmp_path / "dog" / "a.png", np.full((40, 40, 3), 200, np.uint8))
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "dog" / "b.jpg")
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    source = ImageFolderSource(path=str(tmp_path), resolution=8)
    assert source.spec().num_classes == 2
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        data = source.load()
    assert "skipped 1 unreadable of 6 image files" in caplog.text
    assert data.images.shape == (5, 8, 8, 3) and data.images.dtype == np.uint8
    assert data.labels.tolist() == [0, 0, 0, 1, 1]
    assert data.spec.num_examples == 5


def test_image_folder_center_crop_and_resize(tmp_path: Path) -> None:
    image = np.zeros((10, 30), np.uint8)
    image[:, 10:20] = 255  # a white middle third: exactly the central square
    _png(tmp_path / "x.png", image)
    crop = ImageFolderSource(path=str(tmp_path), resolution=5, channels=1).load()
    assert crop.labels is None and crop.spec.num_classes == 0
    assert crop.images.shape == (1, 5, 5, 1) and crop.images.min() >= 250
    squash = ImageFolderSource(path=str(tmp_path), resolution=6, channels=1, fit="resize").load()
    row = squash.images[0, 3, :, 0]
    assert row[0] < 10 and row[-1] < 10 and row[3] > 200  # black | white | black, squashed


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no .png, .jpg, .jpeg files"):
        ImageFolderSource(path=str(tmp_path)).load()
    (tmp_path / "a.png").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="none of its 1 image files could be decoded"):
        ImageFolderSource(path=str(tmp_path)).load()
    with pytest.raises(ConfigError, match="dataset.channels=2"):
        ImageFolderSource(path=str(tmp_path), channels=2).check()
    with pytest.raises(ConfigError, match="dataset.path"):
        load_run_config(compose_config(overrides=["dataset=image_folder"]))


def test_conditional_training_on_unlabeled_data_is_a_clear_error(tmp_path: Path) -> None:
    from gantrain.training.build import build_state

    for i in range(2):
        _png(tmp_path / f"{i}.png", np.zeros((8, 8, 3), np.uint8))
    overrides = [
        "dataset=image_folder",
        f"dataset.path={tmp_path}",
        "dataset.resolution=28",
        "generator=cdcgan",
        "discriminator=dcgan_projection",
    ]
    run = load_run_config(compose_config(overrides=overrides))
    with pytest.raises(ConfigError, match="the dataset has no labels"):
        build_state(run, run.dataset.load().spec)
