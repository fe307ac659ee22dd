"""Any image dataset of tensorflow-datasets, read by index through `tfds.data_source`.

`dataset=tfds dataset.name=celeb_a dataset.split=train` reads the TFDS dataset prepared in
`dataset.data_dir` (default: TFDS's own, ~/tensorflow_datasets). TFDS's random-access data
source (ArrayRecord files) lets the pipeline read examples in the (seed, step) permutation, so
the order and exact resume are the same as for every other source, and only the batches in
flight are in memory. Nothing is downloaded unless `dataset.download=true`; a dataset prepared
in TFRecord format (TFDS's default before 4.9.3 and for `tfds build` without
`--file_format=array_record`) has no random access and is refused with the fix.

The image feature is found by type (or named with `dataset.image_key`); a `ClassLabel` feature
named `label` (or `dataset.label_key`) gives the labels. Images that are not square or not all
of one size are fitted with `dataset.fit` to `dataset.resolution` while reading.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # access.py imports TensorFlow; only readers need it
    from gantrain.data.access import ExampleReader

from gantrain.data.base import DatasetSource, DatasetSpec, LoadedDataset
from gantrain.data.folder import FITS, fit_image, parse_color
from gantrain.errors import ConfigError, DatasetError

log = logging.getLogger("gantrain")


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ConfigError(
            "dataset=tfds needs tensorflow-datasets: pip install 'gantrain[tfds]'."
        ) from None
    return tfds


@dataclass
class TfdsSource(DatasetSource):
    """`dataset.name` is the TFDS name (`cifar10`, `celeb_a`, `lsun/bedroom`, ...)."""

    name: str = "???"
    split: str = "train"
    data_dir: str | None = None
    # Feature names; null finds the image feature by type and uses `label` if it is a ClassLabel.
    image_key: str | None = None
    label_key: str | None = None
    # null keeps the images' size (they must be square and all of one size).
    resolution: int | None = None
    fit: str = "center_crop"
    background: str = "white"
    download: bool = False

    def check(self) -> None:  # any TFDS split expression is fine; TFDS checks it
        if not self.name or self.name == "???":
            raise ConfigError(
                "dataset.name is not set: dataset=tfds needs dataset.name=<a TFDS dataset name, "
                "e.g. celeb_a or lsun/bedroom>."
            )
        if self.resolution is not None and self.resolution <= 0:
            raise ConfigError(f"dataset.resolution={self.resolution}: must be positive or null.")
        if self.fit not in FITS:
            raise ConfigError(f"dataset.fit={self.fit!r}: choose one of {', '.join(FITS)}.")
        parse_color(self.background, "dataset.background")

    def _builder(self):
        tfds = _import_tfds()
        where = self.data_dir or "TFDS's default data dir (~/tensorflow_datasets)"
        try:
            builder = tfds.builder(self.name, data_dir=self.data_dir)
        except Exception as error:  # DatasetNotFoundError and friends: name what was asked
            raise DatasetError(
                f"dataset.name={self.name}: not a TFDS dataset found in {where} "
                f"({type(error).__name__}: {str(error).splitlines()[0][:160]})."
            ) from None
        if self.download:
            builder.download_and_prepare(file_format="array_record")
        if not builder.is_prepared():
            raise DatasetError(
                f"dataset.name={self.name}: not prepared in {where}; build it with "
                f"`tfds build {self.name} --file_format=array_record` (or dataset.download=true), "
                "or point dataset.data_dir at a folder holding it."
            )
        return builder

    def _features(self, builder) -> tuple[str, Any, str | None, Any]:
        tfds = _import_tfds()
        features = builder.info.features
        image_key = self.image_key
        if image_key is None:
            images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
            if not images:
                raise DatasetError(f"dataset.name={self.name}: has no image feature.")
            image_key = images[0]
        if image_key not in dict(features.items()):
            raise ConfigError(
                f"dataset.image_key={image_key}: {self.name} has the features "
                f"{', '.join(features.keys())}."
            )
        found = dict(features.items())
        label_key = self.label_key
        if label_key is None and isinstance(found.get("label"), tfds.features.ClassLabel):
            label_key = "label"
        if label_key is not None and not isinstance(found.get(label_key), tfds.features.ClassLabel):
            raise ConfigError(
                f"dataset.label_key={label_key}: not a ClassLabel feature of {self.name}."
            )
        return image_key, features[image_key], label_key, features[label_key] if label_key else None

    def _shape(self, image_feature) -> tuple[int, int, int]:
        height, width, channels = image_feature.shape
        channels = 3 if channels in (None, 4) else int(channels)
        if self.resolution is None:
            if height is None or width is None or height != width:
                raise ConfigError(
                    f"dataset.resolution is null but {self.name}'s images are "
                    f"{height}x{width} (None = varies); set dataset.resolution=<side> "
                    "(fitted with dataset.fit)."
                )
            return int(height), int(width), channels
        return self.resolution, self.resolution, channels

    def _split_size(self, builder) -> int:
        try:
            return int(builder.info.splits[self.split].num_examples)
        except (KeyError, ValueError, TypeError) as error:
            raise ConfigError(
                f"dataset.split={self.split!r}: {self.name} has the splits "
                f"{', '.join(builder.info.splits.keys())} ({error})."
            ) from None

    def spec(self) -> DatasetSpec:
        builder = self._builder()
        _, image_feature, _, label_feature = self._features(builder)
        return DatasetSpec(
            name=self.name,
            image_shape=self._shape(image_feature),
            num_classes=int(label_feature.num_classes) if label_feature is not None else 0,
            num_examples=self._split_size(builder),
        )

    def _open(self):
        builder = self._builder()
        image_key, image_feature, label_key, label_feature = self._features(builder)
        shape = self._shape(image_feature)
        try:
            source = builder.as_data_source(split=self.split)
        except Exception as error:
            raise DatasetError(
                f"dataset.name={self.name}: no random-access data source for split "
                f"{self.split!r} ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                f"TFDS reads by index only from array_record files: rebuild with "
                f"`tfds build {self.name} --file_format=array_record`."
            ) from None
        background = parse_color(self.background, "dataset.background")

        def as_image(array: np.ndarray) -> np.ndarray:
            if array.ndim == 2:
                array = array[..., None]
            if tuple(array.shape) == shape:
                return array.astype(np.uint8, copy=False)
            from PIL import Image

            mode = {1: "L", 3: "RGB", 4: "RGBA"}[array.shape[-1]]
            image = Image.fromarray(array if mode != "L" else array[..., 0], mode)
            return fit_image(image, shape[0], shape[2], fit=self.fit, background=background)

        def read_images(indices: np.ndarray) -> np.ndarray:
            examples = source.__getitems__([int(i) for i in indices])
            return np.stack([as_image(np.asarray(e[image_key])) for e in examples])

        count = len(source)
        labels = None
        if label_key is not None:
            # Labels of the whole split up front (4 bytes each), without decoding any image.
            labels = self._read_labels(builder, label_key, count)
        spec = DatasetSpec(
            name=self.name,
            image_shape=shape,
            num_classes=int(label_feature.num_classes) if label_feature is not None else 0,
            num_examples=count,
        )
        if label_feature is not None:
            log.info("dataset %s: %d classes", self.name, label_feature.num_classes)
        return spec, read_images, labels

    def _read_labels(self, builder, label_key: str, count: int) -> np.ndarray:
        tfds = _import_tfds()
        # Skip decoding the images: read only the label of each example.
        decoders = {
            key: tfds.decode.SkipDecoding()
            for key, feature in builder.info.features.items()
            if key != label_key
        }
        source = builder.as_data_source(split=self.split, decoders=decoders)
        labels = np.empty(count, np.int32)
        for start in range(0, count, 4096):
            rows = source.__getitems__(list(range(start, min(start + 4096, count))))
            labels[start : start + len(rows)] = [int(r[label_key]) for r in rows]
        return labels

    def examples(self) -> ExampleReader:
        from gantrain.data.access import FunctionReader, mirrored

        spec, read_images, labels = self._open()
        reader = FunctionReader(spec, read_images, labels)
        return mirrored(reader) if self.xflip else reader

    def load(self) -> LoadedDataset:
        """Every image in memory (small datasets; training reads by index instead)."""
        spec, read_images, labels = self._open()
        count = spec.num_examples
        images = np.concatenate(
            [read_images(np.arange(i, min(i + 1024, count))) for i in range(0, count, 1024)]
        )
        return LoadedDataset(spec=spec, images=images, labels=labels)
