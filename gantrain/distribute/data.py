"""Feeding global batches to the replicas of a strategy.

The input pipeline yields *global* batches in an order fixed by (seed, step). Replica r of R
gets rows [r * B/R, (r + 1) * B/R) of each, the same slice the train step takes of the global
latents, so every strategy sees the same examples per step and a run does not depend on how
many replicas or workers it uses.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from gantrain.distribute.base import num_workers


def replica_slices(
    dataset: tf.data.Dataset, context: tf.distribute.InputContext, global_batch_size: int
) -> tf.data.Dataset:
    """Per-replica batches of this input pipeline's replicas, replica by replica.

    `dataset` yields global batches (nested tensors with leading dimension
    `global_batch_size`); the result yields, for each of them, the per-replica batches of
    the replicas fed by `context.input_pipeline_id`, in replica order (tf.distribute hands
    a pipeline's consecutive elements to its local replicas in turn).
    """
    per_replica = context.get_per_replica_batch_size(global_batch_size)
    local = context.num_replicas_in_sync // context.num_input_pipelines
    first = context.input_pipeline_id * local * per_replica

    def split(batch):
        def rows(tensor: tf.Tensor) -> tf.Tensor:
            mine = tensor[first : first + local * per_replica]
            return tf.reshape(mine, [local, per_replica, *tensor.shape[1:]])

        return tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(rows, batch))

    return dataset.flat_map(split)


def distribute_dataset(
    strategy: tf.distribute.Strategy,
    make_dataset: Callable[[], tf.data.Dataset],
    global_batch_size: int,
    make_local: Callable[[tf.distribute.InputContext], tf.data.Dataset] | None = None,
) -> tf.distribute.DistributedDataset:
    """`make_dataset()`'s global batches spread over `strategy`'s replicas.

    On one machine tf.distribute splits each global batch itself. With several workers each
    builds the pipeline and keeps only its replicas' rows (`replica_slices`): explicit,
    instead of relying on auto-sharding, which would split by file or by element.
    `make_local(context)`, when given, builds those per-replica batches itself (the training
    pipeline slices its indices before reading, so workers read disjoint parts of each
    global batch from disk); otherwise every worker reads whole global batches.
    """
    if num_workers(strategy) == 1:
        return strategy.experimental_distribute_dataset(make_dataset())
    if make_local is not None:
        return strategy.distribute_datasets_from_function(make_local)
    return strategy.distribute_datasets_from_function(
        lambda context: replica_slices(make_dataset(), context, global_batch_size)
    )
