"""`strategy:` configs: each a `StrategySpec` dataclass that creates a tf.distribute strategy.

Some strategies configure the TensorFlow runtime (logical CPU devices, collective ops) and must
be created before the first TensorFlow op of the process; `train()` creates the strategy before
anything else for that reason.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

from gantrain.errors import ConfigError


@dataclass
class StrategySpec(abc.ABC):
    """Base schema of every `strategy:` config."""

    @abc.abstractmethod
    def create(self) -> tf.distribute.Strategy:
        """Build the strategy (before any model is built)."""

    def check(self) -> None:
        """Validate fields; subclasses add their own checks."""


@dataclass
class DefaultStrategy(StrategySpec):
    """The default (no-op) strategy: one device, whatever TensorFlow places ops on."""

    def create(self) -> tf.distribute.Strategy:
        return tf.distribute.get_strategy()


_STRATEGIES: dict[tuple, tf.distribute.Strategy] = {}


def once_per_process(
    key: tuple, factory: Callable[[], tf.distribute.Strategy]
) -> tf.distribute.Strategy:
    """The strategy made by `factory` for `key`, made once per process and then reused.

    Strategies that all-reduce with collective ops number their collective instances per
    strategy object; a second strategy over the same devices in the same process (the next
    multirun job, the next test) reuses those numbers with other tensor shapes, and the run
    fails with "Shape mismatch in the collective instance N" (seen on TF 2.21).
    """
    if key not in _STRATEGIES:
        _STRATEGIES[key] = factory()
    return _STRATEGIES[key]


def _cluster(strategy: tf.distribute.Strategy) -> dict[str, list[str]]:
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver.cluster_spec().as_dict() if resolver is not None else {}


def num_workers(strategy: tf.distribute.Strategy) -> int:
    """Processes (chief + workers) that train together; 1 unless multi-worker."""
    cluster = _cluster(strategy)
    return max(1, sum(len(cluster.get(job, [])) for job in ("chief", "worker")))


def worker_id(strategy: tf.distribute.Strategy) -> str:
    """'chief', or 'worker<N>': names this process's scratch files on multi-worker runs."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type in (None, "chief"):
        return "chief"
    return f"{resolver.task_type}{resolver.task_id}"


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes files (always, unless multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not _cluster(strategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().jobs
    )


def per_replica_batch_size(strategy: tf.distribute.Strategy, global_batch_size: int) -> int:
    """The per-replica batch; the global batch must divide evenly."""
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ConfigError(
            f"trainer.batch_size={global_batch_size} does not divide evenly over {replicas} "
            f"replicas; use a multiple of {replicas}."
        )
    return global_batch_size // replicas


def runtime_started_error(where: str, what: str, error: RuntimeError) -> ConfigError:
    """The one-line error for a runtime setting made after TensorFlow already ran an op."""
    return ConfigError(
        f"{where}: {what} must happen before TensorFlow runs its first op, but this process "
        f"already started it ({str(error).splitlines()[0]}); run each such training in a "
        "fresh process (`python -m gantrain train ...`; no multirun with this strategy)."
    )
