"""Prepared datasets: `prepare` (folders, zips, dataset.json, image quirks, resume, refusals),
reading them back by index, bad input, x-flip, and the multi-worker split of each batch."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import gantrain.data.prepare as prepare_module
from gantrain.data.access import FunctionReader, InMemoryReader, mirrored
from gantrain.data.base import DatasetSpec, LoadedDataset
from gantrain.data.folder import fit_image
from gantrain.data.pipeline import train_dataset
from gantrain.data.prepare import PrepareOptions, list_source, prepare
from gantrain.data.prepared import MANIFEST, PreparedSource, read_manifest
from gantrain.errors import ConfigError, DatasetError

RES = 8


def _rng_image(rng, height: int, width: int, mode: str = "RGB") -> Image.Image:
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(array[..., 0] if mode == "L" else array, mode)


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cat/ and dog/ with non-square, RGBA and palette images, plus one broken file."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for label, name in enumerate(("cat", "dog")):
        (root / name).mkdir()
        for i in range(6):
            _rng_image(rng, 10 + i, 14 - label).save(root / name / f"{i:02d}.png")
    _rng_image(rng, 9, 9, "RGBA").save(root / "cat" / "alpha.png")
    _rng_image(rng, 12, 12).convert("P").save(root / "dog" / "palette.gif")
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    return root


def _prepare(source: Path, output: Path, **settings) -> dict:
    settings.setdefault("resolution", RES)
    settings.setdefault("workers", 1)
    return prepare(
        PrepareOptions(source=str(source), output=str(output), **settings), progress_bar=False
    )


@pytest.fixture(scope="module")
def prepared(class_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("prepared") / "cats_dogs"
    # Tiny shards (3 images of 192 bytes each) so that several shards are exercised.
    _prepare(class_folder, output, shard_mb=600 / 2**20)
    return output


def test_prepare_folder_with_classes(prepared: Path, class_folder: Path) -> None:
    manifest = json.loads((prepared / MANIFEST).read_text())
    assert manifest["count"] == 14 and manifest["shape"] == [RES, RES, 3]
    assert manifest["label_names"] == ["cat", "dog"] and manifest["labeled"]
    assert manifest["source"]["skipped_unreadable"] == 1
    assert manifest["source"]["skipped_first"] == ["dog/broken.jpg"]
    assert len(manifest["shards"]) == 5 and all(len(s["sha256"]) == 64 for s in manifest["shards"])
    reader = PreparedSource(path=str(prepared)).examples()
    assert reader.spec == DatasetSpec("prepared", (RES, RES, 3), 2, 14)
    names = [n for n in list_source(str(class_folder)).names if n != "dog/broken.jpg"]
    images, labels = reader.take(np.arange(14))
    assert labels.tolist() == [0] * 7 + [1] * 7
    for i in (0, 3, 6, 13):  # examples from different shards, in listing order
        with Image.open(class_folder / names[i]) as image:
            expected = fit_image(image, RES, 3)
        np.testing.assert_array_equal(images[i], expected)


def test_fit_policies_alpha_and_grayscale() -> None:
    wide = Image.new("RGB", (8, 4), (10, 20, 30))
    padded = fit_image(wide, 8, 3, fit="pad", background=(255, 0, 0))
    assert padded[0, 0].tolist() == [255, 0, 0] and padded[4, 4].tolist() == [10, 20, 30]
    assert fit_image(wide, 8, 3, fit="resize")[0, 0].tolist() == [10, 20, 30]
    clear = Image.new("RGBA", (4, 4), (0, 255, 0, 0))  # fully transparent green
    assert fit_image(clear, 4, 3, background=(0, 0, 255))[0, 0].tolist() == [0, 0, 255]
    assert fit_image(clear, 4, 3, background=None)[0, 0].tolist() == [0, 255, 0]  # dropped
    assert fit_image(Image.new("L", (4, 4), 7), 4, 1).shape == (4, 4, 1)


def test_zip_with_stylegan_labels_and_grayscale_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as out:
        labels = []
        for i in range(5):
            name = f"00000/img{i:08d}.png"
            image = _rng_image(rng, 8, 8, "L")
            from io import BytesIO

            buffer = BytesIO()
            image.save(buffer, format="PNG")
            out.writestr(name, buffer.getvalue())
            labels.append([name, i % 3])
        out.writestr("dataset.json", json.dumps({"labels": labels}))
    manifest = _prepare(archive, tmp_path / "out")
    assert manifest["shape"] == [RES, RES, 1] and manifest["label_origin"] == "dataset.json"
    assert manifest["num_classes"] == 3
    _, read = PreparedSource(path=str(tmp_path / "out")).examples().take(np.arange(5))
    assert read.tolist() == [0, 1, 2, 0, 1]


def test_existing_output_is_refused_unless_overwrite(
    prepared: Path, class_folder, tmp_path
) -> None:
    before = {p.name: p.read_bytes() for p in prepared.iterdir()}
    with pytest.raises(DatasetError, match="already a prepared dataset; pass overwrite=true"):
        _prepare(class_folder, prepared)
    assert {p.name: p.read_bytes() for p in prepared.iterdir()} == before
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not a prepared dataset; refusing"):
        _prepare(class_folder, other, overwrite=True)
    copy = tmp_path / "copy"
    _prepare(class_folder, copy, resolution=4)
    _prepare(class_folder, copy, overwrite=True)
    assert read_manifest(copy).shape == (RES, RES, 3)
    assert not copy.with_name("copy.old").exists() and not copy.with_name("copy.partial").exists()


def test_interrupted_prepare_looks_incomplete_then_resumes(
    class_folder: Path, prepared: Path, tmp_path: Path, monkeypatch, caplog
) -> None:
    output = tmp_path / "out"
    hashed = []
    real_hash = prepare_module.file_sha256

    def interrupt_on_third_shard(path):
        hashed.append(path)
        if len(hashed) == 3:
            raise KeyboardInterrupt
        return real_hash(path)

    monkeypatch.setattr(prepare_module, "file_sha256", interrupt_on_third_shard)
    with pytest.raises(KeyboardInterrupt):
        _prepare(class_folder, output, shard_mb=600 / 2**20)
    assert not output.exists()
    with pytest.raises(DatasetError, match=r"manifest.json: missing.*\.partial folder"):
        PreparedSource(path=str(output)).spec()
    monkeypatch.setattr(prepare_module, "file_sha256", real_hash)
    with caplog.at_level(logging.INFO, logger="gantrain"):
        manifest = _prepare(class_folder, output, shard_mb=600 / 2**20)
    assert "resuming after 2 finished shard(s)" in caplog.text
    reference = json.loads((prepared / MANIFEST).read_text())
    assert manifest["shards"] == reference["shards"]  # byte-identical to an uninterrupted run


def _broken_copy(prepared: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in prepared.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing_shard", r"shard-00002-of-00005.array_record: missing"),
        ("truncated", r"shard-00001-of-00005.array_record: \d+ bytes, the manifest says"),
        ("altered", r"shard-00003-of-00005.array_record: SHA-256 differs"),
        ("newer", r"manifest.json: format version 99 is newer"),
        ("no_manifest", r"manifest.json: missing"),
    ],
)
def test_damaged_prepared_dataset_is_one_line_naming_the_file(
    prepared: Path, tmp_path: Path, damage: str, message: str
) -> None:
    copy = _broken_copy(prepared, tmp_path)
    shards = sorted(copy.glob("shard-*"))
    if damage == "missing_shard":
        shards[2].unlink()
    elif damage == "truncated":
        shards[1].write_bytes(shards[1].read_bytes()[:-100])
    elif damage == "altered":
        data = bytearray(shards[3].read_bytes())
        data[len(data) // 3] ^= 0xFF
        shards[3].write_bytes(bytes(data))
    elif damage == "newer":
        manifest = json.loads((copy / MANIFEST).read_text())
        (copy / MANIFEST).write_text(json.dumps({**manifest, "format_version": 99}))
    else:
        (copy / MANIFEST).unlink()
    with pytest.raises(DatasetError, match=message) as error:
        PreparedSource(path=str(copy)).examples()
    assert "\n" not in str(error.value)


def test_prepared_source_config_errors() -> None:
    with pytest.raises(ConfigError, match="dataset.path is not set"):
        PreparedSource().check()
    with pytest.raises(ConfigError, match="dataset.verify='fast'"):
        PreparedSource(path="x", verify="fast").check()


def test_streamed_batches_equal_in_memory_ones_and_resume_exactly(prepared: Path) -> None:
    source = PreparedSource(path=str(prepared))
    streamed = source.examples()
    memory = source.load()
    full = iter(train_dataset(streamed, batch_size=4, seed=3))
    same = iter(train_dataset(memory, batch_size=4, seed=3))
    batches = [next(full) for _ in range(7)]  # two epochs (3 batches each) and one more
    for batch in batches:
        other = next(same)
        np.testing.assert_array_equal(batch["image"].numpy(), other["image"].numpy())
        np.testing.assert_array_equal(batch["label"].numpy(), other["label"].numpy())
    resumed = iter(train_dataset(streamed, batch_size=4, seed=3, start_step=4))
    for batch in batches[4:]:
        np.testing.assert_array_equal(batch["image"].numpy(), next(resumed)["image"].numpy())


def test_xflip_doubles_with_mirrored_copies() -> None:
    images = np.arange(2 * 2 * 3 * 1, dtype=np.uint8).reshape(2, 2, 3, 1)
    data = LoadedDataset(DatasetSpec("toy", (2, 3, 1), 2, 2), images, np.array([0, 1], np.int32))
    reader = mirrored(InMemoryReader(data))
    assert reader.spec.num_examples == 4
    batch = reader.batch_reader()(tf.constant([3, 0], tf.int64))
    np.testing.assert_array_equal(batch["image"].numpy()[0], images[1][:, ::-1])
    np.testing.assert_array_equal(batch["image"].numpy()[1], images[0])
    assert batch["label"].numpy().tolist() == [1, 0]
    taken, taken_labels = reader.take(np.array([3, 0]))
    np.testing.assert_array_equal(taken, batch["image"].numpy())
    assert taken_labels.tolist() == [1, 0]
    assert PreparedSource(path="x", xflip=True).xflip


def test_each_worker_reads_only_its_rows_of_every_global_batch() -> None:
    count = 16
    images = np.arange(count, dtype=np.uint8).reshape(count, 1, 1, 1)
    asked: list[list[int]] = []

    def read_images(indices: np.ndarray) -> np.ndarray:
        asked.append(indices.tolist())
        return images[indices]

    reader = FunctionReader(DatasetSpec("toy", (1, 1, 1), 0, count), read_images, None)
    whole = next(iter(train_dataset(reader, batch_size=8, seed=5)))
    rows = ((whole["image"].numpy()[:, 0, 0, 0] + 1) * 127.5).round().astype(int).tolist()
    asked.clear()
    # Worker 1 of 2, one replica each: rows 4..7 of each global batch.
    context = tf.distribute.InputContext(
        num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2
    )
    mine = next(iter(train_dataset(reader, batch_size=8, seed=5, context=context)))
    got = ((mine["image"].numpy()[:, 0, 0, 0] + 1) * 127.5).round().astype(int).tolist()
    assert got == rows[4:]
    assert asked and all(len(a) == 4 for a in asked)  # never the whole global batch
