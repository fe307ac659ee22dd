"""Random access to a dataset's examples by index, for the input pipeline.

The pipeline (gantrain/data/pipeline.py) decides which indices a batch holds; an
`ExampleReader` turns a batch of indices into images and labels inside tf.data. In-memory
datasets gather from one constant; datasets larger than memory (prepared shards, TFDS data
sources) read each batch from disk in a `tf.numpy_function`, which tf.data runs on several
threads at once (parallel reads) and ahead of the train step (prefetch).
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from gantrain.data.base import DatasetSpec, LoadedDataset

Batch = dict[str, tf.Tensor]


class ExampleReader(abc.ABC):
    """Examples 0 .. spec.num_examples - 1, read a batch of indices at a time."""

    spec: DatasetSpec

    @abc.abstractmethod
    def batch_reader(self) -> Callable[[tf.Tensor], Batch]:
        """A traceable function: int64 indices (B,) -> {"image": uint8 (B, H, W, C),
        "label": int32 (B,)} (label 0 for unlabeled data). Called once per pipeline, eagerly,
        so it may create the constants it reads from."""

    @abc.abstractmethod
    def take(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The same examples in numpy: uint8 (B, H, W, C) and int32 labels (B,) or None."""


def _labels_or_zeros(labels: np.ndarray | None, count: int) -> tf.Tensor:
    if labels is None:
        return tf.zeros([count], tf.int32)
    return tf.constant(np.asarray(labels, np.int32))


class InMemoryReader(ExampleReader):
    """A `LoadedDataset`'s arrays, gathered from a constant (the whole dataset in memory)."""

    def __init__(self, data: LoadedDataset) -> None:
        self.data = data
        self.spec = data.spec

    def batch_reader(self) -> Callable[[tf.Tensor], Batch]:
        images = tf.constant(self.data.images)
        labels = _labels_or_zeros(self.data.labels, len(self.data.images))

        def read(indices: tf.Tensor) -> Batch:
            return {"image": tf.gather(images, indices), "label": tf.gather(labels, indices)}

        return read

    def take(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        labels = None if self.data.labels is None else self.data.labels[indices]
        return self.data.images[indices], labels


class FunctionReader(ExampleReader):
    """Images from `read_images(indices) -> uint8 (B, H, W, C)`, called in numpy; labels
    (4 bytes per example) in memory. Only the batches in flight are in memory."""

    def __init__(
        self,
        spec: DatasetSpec,
        read_images: Callable[[np.ndarray], np.ndarray],
        labels: np.ndarray | None,
    ) -> None:
        self.spec = spec
        self.read_images = read_images
        self.labels = None if labels is None else np.asarray(labels, np.int32)

    def batch_reader(self) -> Callable[[tf.Tensor], Batch]:
        labels = _labels_or_zeros(self.labels, self.spec.num_examples)
        shape = self.spec.image_shape

        def read(indices: tf.Tensor) -> Batch:
            # stateful=False: the same indices always give the same images, so tf.data may
            # run many of these calls at once.
            images = tf.numpy_function(self.read_images, [indices], tf.uint8, stateful=False)
            images = tf.ensure_shape(images, [None, *shape])
            return {"image": images, "label": tf.gather(labels, indices)}

        return read

    def take(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        labels = None if self.labels is None else self.labels[indices]
        return self.read_images(np.asarray(indices)), labels


class MirroredReader(ExampleReader):
    """2N examples: the N of `base`, then the same N flipped left to right (x-flip)."""

    def __init__(self, base: ExampleReader) -> None:
        self.base = base
        self.count = base.spec.num_examples
        spec = base.spec
        self.spec = DatasetSpec(
            name=spec.name,
            image_shape=spec.image_shape,
            num_classes=spec.num_classes,
            num_examples=2 * spec.num_examples,
        )

    def batch_reader(self) -> Callable[[tf.Tensor], Batch]:
        read_base = self.base.batch_reader()
        count = tf.constant(self.count, tf.int64)

        def read(indices: tf.Tensor) -> Batch:
            indices = tf.cast(indices, tf.int64)
            batch = read_base(indices % count)
            flip = tf.reshape(indices >= count, [-1, 1, 1, 1])
            image = tf.where(flip, tf.reverse(batch["image"], axis=[2]), batch["image"])
            return {"image": image, "label": batch["label"]}

        return read

    def take(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        indices = np.asarray(indices)
        images, labels = self.base.take(indices % self.count)
        flip = indices >= self.count
        images = images.copy()
        images[flip] = images[flip][:, :, ::-1]
        return images, labels


def mirrored(reader: ExampleReader) -> ExampleReader:
    """`reader` doubled with mirrored copies (`dataset.xflip=true`)."""
    return MirroredReader(reader)
