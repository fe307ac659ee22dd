"""dataset=tfds on a tiny TFDS dataset built here (array_record files, nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from gantrain.data.base import DatasetSpec  # noqa: E402
from gantrain.data.pipeline import train_dataset  # noqa: E402
from gantrain.data.tfds import TfdsSource  # noqa: E402
from gantrain.errors import ConfigError, DatasetError  # noqa: E402

COUNT = 12


def _image(i: int, height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), 10 * i, np.uint8)


class GantrainTinyImages(tfds.core.GeneratorBasedBuilder):
    """12 train / 4 test images, 8x8 RGB, labels i % 3; a second config with 6x10 images."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="square"),
        tfds.core.BuilderConfig(name="wide"),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        shape = (8, 8, 3) if self.builder_config.name == "square" else (None, None, 3)
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=shape),
                    "label": tfds.features.ClassLabel(names=["a", "b", "c"]),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(COUNT), "test": self._generate_examples(4)}

    def _generate_examples(self, count: int):
        height, width = (8, 8) if self.builder_config.name == "square" else (6, 10)
        for i in range(count):
            yield i, {"image": _image(i, height, width), "label": i % 3}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tfds")
    for config in ("square", "wide"):
        GantrainTinyImages(
            config=config, data_dir=str(root), file_format="array_record"
        ).download_and_prepare()
    return root


def test_reads_images_and_labels_by_index(data_dir: Path) -> None:
    source = TfdsSource(name="gantrain_tiny_images/square", data_dir=str(data_dir))
    source.check()
    reader = source.examples()
    assert reader.spec == DatasetSpec("gantrain_tiny_images/square", (8, 8, 3), 3, COUNT)
    # TFDS stores examples in its own (hashed) order: every image must come with its label.
    images, labels = reader.take(np.arange(COUNT))
    assert sorted(images[:, 0, 0, 0].tolist()) == [10 * i for i in range(COUNT)]
    assert labels.tolist() == [v // 10 % 3 for v in images[:, 0, 0, 0].tolist()]
    batch = next(iter(train_dataset(reader, batch_size=4, seed=0)))
    values = ((batch["image"].numpy()[:, 0, 0, 0] + 1) * 127.5).round() / 10
    assert batch["label"].numpy().tolist() == [int(v) % 3 for v in values]
    test = TfdsSource(name="gantrain_tiny_images/square", data_dir=str(data_dir), split="test")
    assert test.spec().num_examples == 4


def test_non_square_images_need_a_resolution_then_are_fitted(data_dir: Path) -> None:
    wide = TfdsSource(name="gantrain_tiny_images/wide", data_dir=str(data_dir))
    with pytest.raises(ConfigError, match="set dataset.resolution"):
        wide.spec()
    fitted = TfdsSource(name="gantrain_tiny_images/wide", data_dir=str(data_dir), resolution=4)
    images, _ = fitted.examples().take(np.arange(COUNT))
    assert images.shape == (COUNT, 4, 4, 3)
    assert sorted(images[:, 0, 0, 0].tolist()) == [10 * i for i in range(COUNT)]


def test_missing_or_unprepared_dataset_is_one_line(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a TFDS dataset found") as error:
        TfdsSource(name="no_such_dataset_here", data_dir=str(data_dir)).spec()
    assert "\n" not in str(error.value)
    # A registered TFDS dataset that is not in data_dir: never downloaded, the fix is named.
    with pytest.raises(DatasetError, match="not prepared in .*tfds build mnist"):
        TfdsSource(name="mnist", data_dir=str(tmp_path)).spec()
    with pytest.raises(ConfigError, match="dataset.name is not set"):
        TfdsSource().check()
