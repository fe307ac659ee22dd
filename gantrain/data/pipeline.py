"""The training input pipeline: batches in an order that is a pure function of (seed, step).

Epoch e visits the examples in the permutation `stateless_shuffle(range(N), seed=[seed, e])`
and drops the last `N % batch_size` of them (drop_remainder), so step s reads batch
`s % steps_per_epoch` of epoch `s // steps_per_epoch`. A resumed run builds the pipeline at its
restored step and reads exactly the batches an uninterrupted run would have read, without
checkpointing a shuffle buffer.

The pipeline only decides indices; an `ExampleReader` (gantrain/data/access.py) reads them, from
memory or, for datasets larger than memory, from disk a batch at a time (parallel reads,
prefetched). A multi-worker run slices each global batch of *indices* to the worker's rows
before reading, so workers read disjoint parts of every global batch.
"""

from __future__ import annotations

import tensorflow as tf

from gantrain.data.access import ExampleReader, InMemoryReader
from gantrain.data.base import LoadedDataset
from gantrain.errors import ConfigError

_FOREVER = 2**62


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Full batches per epoch (the remainder is dropped)."""
    return num_examples // batch_size


def train_dataset(
    data: LoadedDataset | ExampleReader,
    *,
    batch_size: int,
    seed: int,
    start_step: int = 0,
    context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Endless dataset of `{"image": float32 (B, H, W, C) in [-1, 1], "label": int32 (B,)}`.

    `batch_size` is the global batch; unlabeled datasets get label 0. With `context` (a
    multi-worker input pipeline) it yields the per-replica batches of that pipeline's
    replicas instead, replica by replica (see gantrain.distribute.data.replica_slices), and
    reads only their examples.
    """
    reader = InMemoryReader(data) if isinstance(data, LoadedDataset) else data
    num_examples = reader.spec.num_examples
    per_epoch = steps_per_epoch(num_examples, batch_size)
    if per_epoch == 0:
        raise ConfigError(
            f"trainer.batch_size={batch_size} is larger than the dataset "
            f"({reader.spec.name}: {num_examples} images); lower trainer.batch_size."
        )
    read = reader.batch_reader()
    seed = tf.constant(seed, tf.int64)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples), seed=tf.stack([seed, epoch])
        )
        order = tf.reshape(order[: per_epoch * batch_size], [per_epoch, batch_size])
        return tf.data.Dataset.from_tensor_slices(order)

    def decode(indices: tf.Tensor) -> dict[str, tf.Tensor]:
        batch = read(indices)
        image = tf.cast(batch["image"], tf.float32) / 127.5 - 1.0
        return {"image": image, "label": batch["label"]}

    start_epoch = start_step // per_epoch
    indices = (
        tf.data.Dataset.range(start_epoch, _FOREVER)
        .flat_map(epoch_batches)
        .skip(start_step - start_epoch * per_epoch)
    )
    if context is not None:
        from gantrain.distribute.data import replica_slices

        indices = replica_slices(indices, context, batch_size)
    dataset = indices.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Each element is already a whole global batch (or, with `context`, this worker's part of
    # one): shard by data for multi-worker runs.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
