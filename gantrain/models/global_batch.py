"""Layers whose training-time behaviour is defined over the global batch, not the replica's.

Under a multi-replica strategy each replica sees B / R examples. Batch statistics and dropout
masks computed per replica would make training depend on the replica count; these layers make
it the same as on one device with the global batch (tested: MirroredStrategy over 2 replicas
gives the default strategy's losses).

Batch norm: `global_batch_norm` returns a Keras BatchNormalization that all-reduces its
moments over the replicas (`synchronized=True`) when the model is built under a
multi-replica strategy, and otherwise `FusedBatchNormalization`, the same layer whose training
call is TensorFlow's fused kernel (the synchronized path costs extra work even on one device).

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
from keras.src.utils import naming as keras_naming  # Keras's layer auto-names
from tensorflow.python.framework import config as tf_config  # no public reader


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
    if replicas > 1:
        return keras.layers.BatchNormalization(synchronized=True, **kwargs)
    return FusedBatchNormalization(**kwargs)


@keras.saving.register_keras_serializable(package="gantrain")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` (same arguments, weights and results) whose training
    call on (B, C) or (B, H, W, C) inputs is TensorFlow's fused kernel (`FusedBatchNormV3`:
    moments, normalization and, in the backward pass, every gradient in one op each way).

    Keras 3 builds batch norm from separate moments, normalization and update ops; for the
    default DCGAN generator's three batch norms the fused kernel took its forward and backward
    pass from 50.8 to 46.3 ms at batch 32 on this CPU (one process, alternating blocks), with
    outputs, gradients and moving statistics equal to Keras's within the 2e-5 that
    tests/unit/test_fused_batch_norm.py asserts.
    The moving variance keeps Keras's biased batch variance (the kernel returns the unbiased
    one, which is rescaled). Everything else takes Keras's own path: inference, masks,
    renorm, synchronized statistics, other axes or ranks, and runs with op determinism on
    (the fused backward is not promised deterministic on GPUs).
    """

    def __init__(self, **kwargs) -> None:
        if kwargs.get("name") is None:
            # Keras's own names (batch_normalization_3), shared counter with Keras's layers:
            # summaries, get_layer() and messages read as before the kernel changed.
            kwargs["name"] = keras_naming.auto_name("batch_normalization")
        super().__init__(**kwargs)

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)  # Keras computes batch norm in float32, as here
        channels = x.shape[-1]
        x4 = x if x.shape.rank == 4 else tf.reshape(x, [-1, 1, 1, channels])
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        y, mean, unbiased, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x4,
            scale=gamma,
            offset=beta,
            mean=tf.zeros([0]),
            variance=tf.zeros([0]),
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        count = tf.cast(tf.size(x4) // channels, tf.float32)
        variance = unbiased * tf.maximum(count - 1.0, 0.0) / count  # Keras's biased variance
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))
        y = y if x.shape.rank == 4 else tf.reshape(y, tf.shape(x))
        return tf.cast(y, self.compute_dtype)

    def _fused_applies(self, inputs, training, mask) -> bool:
        rank = inputs.shape.rank
        return (
            training is True
            and self.trainable
            and mask is None
            and not self.renorm
            and not self.synchronized
            and rank in (2, 4)
            and self.axis in (-1, rank - 1)
            and inputs.shape[-1] is not None
            and not tf_config.is_op_determinism_enabled()
        )
