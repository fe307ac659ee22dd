"""gantrain's Adam and AdamW update with TensorFlow's fused kernel and match Keras's exactly."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain import optim
from gantrain.distribute.mirrored import MirroredStrategy

SHAPES = [(7, 5), (3, 3, 2, 4), (5,)]


def _weights(seed: int = 0) -> list[keras.Variable]:
    rng = np.random.default_rng(seed)
    return [keras.Variable(rng.normal(size=shape).astype("float32")) for shape in SHAPES]


def _gradients(step: int) -> list[tf.Tensor]:
    rng = np.random.default_rng(100 + step)
    return [tf.constant(rng.normal(size=shape).astype("float32")) for shape in SHAPES]


def _train(optimizer: keras.optimizers.Optimizer, steps: int = 6) -> list[np.ndarray]:
    weights = _weights()
    optimizer.build(weights)

    @tf.function
    def apply(gradients: list[tf.Tensor]) -> None:
        optimizer.apply_gradients(zip(gradients, weights, strict=True))

    for step in range(steps):
        apply(_gradients(step))
    return [w.numpy() for w in weights] + [m.numpy() for m in optimizer._momentums]


def _assert_same(ours: list[np.ndarray], keras_: list[np.ndarray]) -> None:
    for a, b in zip(ours, keras_, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("lr", [1e-2, "linear"])
def test_fused_adam_equals_keras_adam(lr: object) -> None:
    def learning_rate() -> object:  # a fresh schedule per optimizer
        if lr != "linear":
            return lr
        return keras.optimizers.schedules.PolynomialDecay(
            1e-2, decay_steps=6, end_learning_rate=0.0
        )

    kwargs = {"beta_1": 0.5, "beta_2": 0.99, "epsilon": 1e-7}
    ours = optim.Adam(learning_rate=learning_rate(), **kwargs)
    _assert_same(_train(ours), _train(keras.optimizers.Adam(learning_rate(), **kwargs)))


def test_fused_adamw_equals_keras_adamw() -> None:
    kwargs = {"learning_rate": 1e-2, "weight_decay": 0.1, "beta_1": 0.0, "beta_2": 0.9}
    _assert_same(_train(optim.AdamW(**kwargs)), _train(keras.optimizers.AdamW(**kwargs)))


def test_the_builders_return_the_fused_optimizers_and_it_runs_the_fused_kernel() -> None:
    assert type(optim.adam(lr=1e-3)) is optim.Adam
    assert type(optim.adamw(lr=1e-3)) is optim.AdamW
    optimizer = optim.adam(lr=1e-3)
    weights = _weights()
    optimizer.build(weights)

    @tf.function
    def apply(gradients: list[tf.Tensor]) -> None:
        optimizer.apply_gradients(zip(gradients, weights, strict=True))

    graph = apply.get_concrete_function(_gradients(0)).graph
    ops = {op.type for op in graph.get_operations()}
    for function in graph._functions.values():  # the distributed update's inner functions
        ops |= {op.type for op in function.graph.get_operations()}
    assert "ResourceApplyAdam" in ops


def test_sparse_gradients_take_keras_own_update() -> None:
    """An embedding's IndexedSlices gradient (a conditional G's label embedding)."""

    def run(optimizer: keras.optimizers.Optimizer) -> np.ndarray:
        table = keras.Variable(np.arange(12, dtype="float32").reshape(4, 3))
        optimizer.build([table])
        for step in range(3):
            with tf.GradientTape() as tape:
                rows = tf.gather(table.value, [1, 3, 1])
                loss = tf.reduce_sum(rows * float(step + 1))
            gradient = tape.gradient(loss, table.value)
            assert isinstance(gradient, tf.IndexedSlices)
            optimizer.apply_gradients([(gradient, table)])
        return table.numpy()

    kwargs = {"learning_rate": 0.1, "beta_1": 0.5}
    np.testing.assert_allclose(
        run(optim.Adam(**kwargs)), run(keras.optimizers.Adam(**kwargs)), rtol=1e-6
    )


def test_fused_adam_under_mirrored_strategy_equals_one_device() -> None:
    # gantrain's one strategy per device set: a second MirroredStrategy in the process would
    # share collective instance keys with it.
    strategy = MirroredStrategy(num_cpu_devices=2).create()
    with strategy.scope():
        weights = _weights()
        optimizer = optim.Adam(learning_rate=1e-2, beta_1=0.5)
        optimizer.build(weights)

    @tf.function
    def apply(gradients: list[tf.Tensor]) -> None:
        def replica(grads: list[tf.Tensor]) -> None:
            # Each replica contributes half: the all-reduced sum is the whole gradient.
            optimizer.apply_gradients(zip([g / 2 for g in grads], weights, strict=True))

        strategy.run(replica, (gradients,))

    for step in range(4):
        apply(_gradients(step))
    expected = _train(keras.optimizers.Adam(learning_rate=1e-2, beta_1=0.5), steps=4)
    _assert_same([w.numpy() for w in weights], expected[: len(SHAPES)])
    for weight in weights:  # both replicas' copies moved alike
        copies = weight.value.values
        np.testing.assert_array_equal(copies[0].numpy(), copies[1].numpy())
