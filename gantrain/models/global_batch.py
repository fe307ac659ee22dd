"""Layers whose training-time behaviour is defined over the global batch, not the replica's.

Under a multi-replica strategy each replica sees B / R examples. Batch statistics and dropout
masks computed per replica would make training depend on the replica count; these layers make
it the same as on one device with the global batch (tested: MirroredStrategy over 2 replicas
gives the default strategy's losses).

Batch norm: `global_batch_norm` returns a Keras BatchNormalization that all-reduces its
moments over the replicas (`synchronized=True`) when the model is built under a
multi-replica strategy, and a plain one otherwise (the synchronized path costs extra work
even on one device).

Dropout: Keras's `Dropout` draws its mask from a `SeedGenerator` whose state is mirrored: under a
multi-replica strategy every replica draws the *same* mask for its slice of the batch
(measured on TF 2.21 / Keras 3.15), so examples on different replicas share dropout patterns
and a run's masks depend on the replica count. `GlobalBatchDropout` draws the mask for the
whole global batch from the same seed and keeps its replica's rows: the masks equal the
single-device ones, and training is the same under any number of replicas.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="gantrain")
class GlobalBatchDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` (same arguments) with the mask taken from the global batch.

    Inputs (B, ...) per replica; the mask is drawn for (B * replicas, ...) from the same seed
    and rows [replica * B, (replica + 1) * B) are used: the mask Keras's dropout would draw
    for the global batch on one device. With one replica it *is* Keras's dropout. With R
    replicas each draws R times the random numbers it keeps (measured on CPU: the D step
    about 20% slower when done this way on one device, hence the one-replica shortcut).
    """

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        if not training or self.rate == 0 or replicas == 1:
            # One replica holds the global batch: Keras's own dropout, at no extra cost.
            return super().call(inputs, training=training)
        replica = context.replica_id_in_sync_group
        shape = tf.shape(inputs)
        if self.noise_shape is not None:
            shape = tf.convert_to_tensor(
                [shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
            )
        ones = tf.ones(tf.concat([[shape[0] * replicas], shape[1:]], 0), inputs.dtype)
        kept = keras.random.dropout(ones, self.rate, seed=self.seed_generator)
        return inputs * kept[replica * shape[0] : (replica + 1) * shape[0]]


def global_batch_norm(**kwargs) -> keras.layers.BatchNormalization:
    """BatchNormalization(**kwargs) with statistics over the global batch.

    Call it while building the model (inside `strategy.scope()`): it synchronizes the
    moments when the strategy in scope has more than one replica.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return keras.layers.BatchNormalization(synchronized=replicas > 1, **kwargs)
