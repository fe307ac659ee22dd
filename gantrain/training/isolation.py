"""One training job's process-global TensorFlow/Keras state, undone when the job ends.

Hydra's basic launcher runs every job of a sweep in one process (the joblib launcher reuses
its worker processes too). TensorFlow and Keras keep state per process: the mixed-precision
policy, op determinism, functions-run-eagerly, Keras's layer-name counters and its graph and
kernel caches. A job that changed any of it, or failed half-way, would change the next job.
`isolated_job` puts all of it back, whatever way the job ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

import keras
import tensorflow as tf
from tensorflow.python.framework import config as tf_config


@contextlib.contextmanager
def isolated_job() -> Iterator[None]:
    """Run a job, then restore the global state it may have changed (also on an error)."""
    policy = keras.mixed_precision.global_policy().name
    deterministic = tf_config.is_op_determinism_enabled()
    eager = tf.config.functions_run_eagerly()
    try:
        yield
    finally:
        # Drops Keras's global state (name counters, the dtype policy, the default graph)
        # and TensorFlow's kernel caches; the job's models and tf.functions become garbage.
        keras.backend.clear_session(free_memory=False)
        keras.mixed_precision.set_global_policy(policy)
        if tf_config.is_op_determinism_enabled() != deterministic:
            # TensorFlow has only a private switch back; the public API can only turn it on.
            if deterministic:
                tf.config.experimental.enable_op_determinism()
            else:
                tf_config.disable_op_determinism()
        tf.config.run_functions_eagerly(eager)
        gc.collect()
