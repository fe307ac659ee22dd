"""`trainer.deterministic=true`: bit-identical results for the same config, seed and step.

Every random stream of a run is already a function of (seed, step): data order
(data/pipeline.py), latents (stateless, step.py), dropout (SeedGenerator states in GANState).
What remains are kernels whose floating-point reduction order varies between runs
(multi-threaded reductions, some GPU kernels); TensorFlow's op determinism picks deterministic
ones, at some speed cost, and raises if an op has none.

Op determinism is process-global and Hydra's basic launcher runs a sweep's jobs in one
process, so it is put back as it was when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tensorflow as tf
from tensorflow.python.framework import config as tf_config


@contextlib.contextmanager
def op_determinism(enabled: bool) -> Iterator[None]:
    """Turn TensorFlow op determinism on for the block when `enabled`, then restore it."""
    before = tf_config.is_op_determinism_enabled()
    if enabled and not before:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if tf_config.is_op_determinism_enabled() != before:
            # The public API can only turn it on; TensorFlow's own switch turns it off.
            if before:
                tf.config.experimental.enable_op_determinism()
            else:
                tf_config.disable_op_determinism()
