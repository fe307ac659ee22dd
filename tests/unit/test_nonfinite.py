"""The NaN guard around the optimizer apply: one replica's NaN stops every replica's update."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO

# Runs in a fresh process: logical CPU devices must be configured before any TensorFlow op.
SCRIPT = textwrap.dedent(
    """
    import json, sys, types
    import keras, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from gantrain.training.nonfinite import apply_if_finite

    strategy = (
        tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        if sys.argv[1] == "mirrored" else tf.distribute.get_strategy()
    )
    counter = dict(aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA, trainable=False)
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        optimizer = keras.optimizers.Adam(0.1)
        optimizer.build(model.trainable_variables)
        state = types.SimpleNamespace(
            step=tf.Variable(0, dtype=tf.int64, **counter),
            skipped_updates=tf.Variable(0, dtype=tf.int64, **counter),
            last_nonfinite_step=tf.Variable(0, dtype=tf.int64, **counter),
        )

    @tf.function
    def train_step(batch, poison):
        def replica(x):
            context = tf.distribute.get_replica_context()
            last = context.replica_id_in_sync_group == context.num_replicas_in_sync - 1
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(
                    tf.reduce_sum(model(x), -1), global_batch_size=4
                )
                # NaN on the last replica only: the others' losses are fine.
                loss = tf.where(poison & last, tf.constant(float("nan")), loss)
            variables = model.trainable_variables
            grads = tape.gradient(loss, variables)
            apply_if_finite(state, loss, optimizer, grads, variables)
            state.step.assign_add(1)

        strategy.run(replica, args=(batch,))

    batches = iter(strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(tf.ones((4, 3))).repeat()
    ))
    weights = []
    for poison in (False, True, False):
        train_step(next(batches), tf.constant(poison))
        weights.append([np.asarray(v.numpy()).tolist() for v in model.trainable_variables])
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "changed": [weights[0] != weights[1], weights[1] != weights[2]],
        "finite": bool(all(np.isfinite(np.asarray(v.numpy())).all()
                           for v in model.trainable_variables)),
        "iterations": int(optimizer.iterations.numpy()),
        "skipped": int(state.skipped_updates.numpy()),
        "last_nonfinite_step": int(state.last_nonfinite_step.numpy()),
    }))
    """
)


@pytest.mark.slow
def test_a_nan_on_one_replica_skips_the_update_on_all() -> None:
    # MirroredStrategy takes the cross-replica branch (merge_call); the default strategy's
    # branch runs in every training test (tests/integration/test_faults.py poisons it).
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, "mirrored"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    # Step 2 (poisoned) changed nothing; steps 1 and 3 did.
    assert report["changed"] == [False, True]
    assert report["finite"]
    assert report["iterations"] == 2
    assert report["skipped"] == 1
    assert report["last_nonfinite_step"] == 2
