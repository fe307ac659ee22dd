"""`trainer.jit_compile`: the train step compiled by XLA, and a clear error when it cannot be.

Only the per-replica step is compiled: reading the input iterator is not an XLA op. XLA pays
off on GPUs and TPUs (fused kernels); on this project's CPU benchmark it was slower than the
default (README, Speed), so it is off by default. XLA draws random numbers with its own
kernels: same distributions, other values than without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from gantrain.errors import ConfigError

_UNSUPPORTED = re.compile(
    r"Detected unsupported operations when trying to compile graph [^:]*: (.+)"
)
_XLA_HINTS = ("XLA_", "tf2xla", "jit_compile", "XlaCompile", "xla::")


def compiled(fn: Callable[..., Any], enabled: bool) -> Callable[..., Any]:
    """`fn` as an XLA-compiled tf.function when `enabled`, else unchanged."""
    return tf.function(fn, jit_compile=True) if enabled else fn


def compile_error(error: tf.errors.OpError) -> ConfigError | None:
    """The user-facing error for an XLA compilation failure; None for any other error."""
    text = str(error)
    found = _UNSUPPORTED.search(text)
    if found:
        ops = sorted(set(re.findall(r"(\w+) \(No registered", found.group(1)))) or [
            found.group(1)[:120]
        ]
        detail = f"unsupported op(s): {', '.join(ops)}"
    elif "tfvariable_on_a_different_device" in text:
        # Seen with MirroredStrategy over logical CPU devices (TF 2.21): the compiled replica
        # step reads another replica's variables (tensorflow#45940 and XLA's known issues).
        detail = "a variable lives on another device than the compiled replica step"
    elif any(hint in text for hint in _XLA_HINTS):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        detail = next((line for line in lines if any(h in line for h in _XLA_HINTS)), lines[0])
        detail = detail[:200]
    else:
        return None
    return ConfigError(
        f"trainer.jit_compile=true: XLA cannot compile the train step ({detail}); set "
        "trainer.jit_compile=false to train without XLA."
    )
