"""Dropout whose masks are drawn for the global batch, so replicas get different masks.

Keras's `Dropout` draws its mask from a `SeedGenerator` whose state is mirrored: under a
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

    Inputs (B, ...) per replica; the mask is drawn for (B * replicas, ...) and rows
    [replica * B, (replica + 1) * B) are used. The cost is R times the mask's random
    numbers per replica, small next to the convolutions around it.
    """

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if not training or self.rate == 0:
            return inputs
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        replica = context.replica_id_in_sync_group if context is not None else 0
        shape = tf.shape(inputs)
        if self.noise_shape is not None:
            shape = tf.convert_to_tensor(
                [shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
            )
        ones = tf.ones(tf.concat([[shape[0] * replicas], shape[1:]], 0), inputs.dtype)
        kept = keras.random.dropout(ones, self.rate, seed=self.seed_generator)
        return inputs * kept[replica * shape[0] : (replica + 1) * shape[0]]
