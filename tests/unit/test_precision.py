"""Loss scaling across replicas: one replica's overflow is every replica's overflow."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gantrain.distribute import MirroredStrategy
from gantrain.training.precision import _agree_on_overflow


def _per_replica(strategy, values_by_replica: list[float]) -> list[np.ndarray]:
    table = tf.constant(values_by_replica, tf.float32)

    @tf.function
    def run():
        def replica():
            index = tf.distribute.get_replica_context().replica_id_in_sync_group
            grads = [tf.fill([3], table[index]), None]
            agreed = _agree_on_overflow(grads)
            assert agreed[1] is None
            return agreed[0]

        return strategy.run(replica)

    return [t.numpy() for t in strategy.experimental_local_results(run())]


def test_an_overflow_on_one_replica_reaches_all_of_them() -> None:
    strategy = MirroredStrategy(num_cpu_devices=2).create()
    first, second = _per_replica(strategy, [1.0, np.inf])
    assert np.isnan(first).all() and np.isnan(second).all()


def test_finite_gradients_pass_unchanged() -> None:
    strategy = MirroredStrategy(num_cpu_devices=2).create()
    first, second = _per_replica(strategy, [1.5, -2.0])
    np.testing.assert_array_equal(first, [1.5] * 3)
    np.testing.assert_array_equal(second, [-2.0] * 3)
