"""FusedBatchNormalization: Keras's BatchNormalization with the fused kernel in training."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.models.global_batch import FusedBatchNormalization, global_batch_norm
from gantrain.training.determinism import op_determinism


def _pair(shape: tuple[int, ...], **kwargs) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    plain = keras.layers.BatchNormalization(**kwargs)
    fused = FusedBatchNormalization(**kwargs)
    plain.build(shape)
    fused.build(shape)
    rng = np.random.default_rng(0)
    weights = [rng.normal(1.0, 0.3, w.shape).astype("float32") for w in plain.weights]
    weights[-1] = np.abs(weights[-1])  # the moving variance
    plain.set_weights(weights)
    fused.set_weights(weights)
    return plain, fused


def _graph_ops(layer: keras.layers.Layer, x: tf.Tensor) -> set[str]:
    fn = tf.function(lambda t: layer(t, training=True))
    return {op.type for op in fn.get_concrete_function(x).graph.get_operations()}


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((8, 5, 5, 3), {}),
        ((8, 12), {}),
        ((1, 4, 4, 2), {"momentum": 0.9, "epsilon": 1e-4}),
        ((6, 3, 3, 4), {"center": False, "scale": False}),
    ],
)
def test_training_call_equals_keras_batch_norm(shape, kwargs) -> None:
    plain, fused = _pair(shape, **kwargs)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape).astype("float32"))
    assert "FusedBatchNormV3" in _graph_ops(fused, x)
    assert "FusedBatchNormV3" not in _graph_ops(plain, x)  # the comparison is not Keras vs Keras
    plain, fused = _pair(shape, **kwargs)  # tracing above updated the moving statistics
    results = []
    for layer in (plain, fused):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(tf.sin(y) * tf.range(y.shape[-1], dtype=tf.float32))
            grad_x, *grad_w = inner.gradient(loss, [x, *layer.trainable_weights])
            penalty = tf.reduce_sum(tf.square(grad_x))  # R1 / path length: a double backprop
        second = outer.gradient(penalty, x)
        results.append((y, grad_x, grad_w, second, [w.numpy() for w in layer.weights]))
    (y0, gx0, gw0, s0, w0), (y1, gx1, gw1, s1, w1) = results
    np.testing.assert_allclose(y1, y0, atol=2e-5)
    np.testing.assert_allclose(gx1, gx0, atol=2e-5)
    for a, b in zip(gw1, gw0, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(s1, s0, rtol=1e-3, atol=1e-4)
    for a, b in zip(w1, w0, strict=True):  # moving mean and (biased) variance updated alike
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_inference_and_unsupported_cases_take_keras_path() -> None:
    _, fused = _pair((4, 3, 3, 2))
    x = tf.random.normal((4, 3, 3, 2))
    inference = {op.type for op in tf.function(lambda t: fused(t, training=False))
                 .get_concrete_function(x).graph.get_operations()}  # fmt: skip
    assert "FusedBatchNormV3" not in inference
    channels_first = FusedBatchNormalization(axis=1)
    channels_first.build((4, 2, 3, 3))
    assert "FusedBatchNormV3" not in _graph_ops(channels_first, tf.random.normal((4, 2, 3, 3)))
    sequence = FusedBatchNormalization()
    sequence.build((4, 5, 2))
    assert "FusedBatchNormV3" not in _graph_ops(sequence, tf.random.normal((4, 5, 2)))
    with op_determinism(True):  # trainer.deterministic=true keeps Keras's kernels
        assert "FusedBatchNormV3" not in _graph_ops(fused, x)
    assert "FusedBatchNormV3" in _graph_ops(fused, x)


def test_mixed_precision_output_dtype_and_values() -> None:
    plain, fused = _pair((8, 4, 4, 3), dtype="mixed_float16")
    x = tf.cast(tf.random.normal((8, 4, 4, 3)), tf.float16)
    y0, y1 = plain(x, training=True), fused(x, training=True)
    assert y1.dtype == tf.float16
    np.testing.assert_allclose(tf.cast(y1, tf.float32), tf.cast(y0, tf.float32), atol=2e-3)


def test_one_replica_builds_the_fused_layer_and_saves_like_keras(tmp_path) -> None:
    layer = global_batch_norm(momentum=0.8)
    assert type(layer) is FusedBatchNormalization and layer.momentum == 0.8
    assert layer.name.startswith("batch_normalization")  # Keras's names, as before
    assert FusedBatchNormalization(name="bn").name == "bn"
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, layer(inputs))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe mode: a registered class, no code
    assert type(loaded.layers[-1]) is FusedBatchNormalization
    x = tf.random.normal((3, 4, 4, 2))
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_checkpoints_of_keras_batch_norm_models_restore_into_fused_ones(tmp_path) -> None:
    def build(layer_type) -> keras.Model:
        inputs = keras.Input((6,))
        x = keras.layers.Dense(4)(inputs)
        return keras.Model(inputs, layer_type()(x))

    old = build(keras.layers.BatchNormalization)
    old(tf.random.normal((5, 6)), training=True)  # moving statistics away from 0 and 1
    path = tf.train.Checkpoint(generator=old).write(str(tmp_path / "ckpt"))
    new = build(FusedBatchNormalization)
    tf.train.Checkpoint(generator=new).read(path).assert_consumed()
    for a, b in zip(new.weights, old.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
