"""`strategy:` configs: each a `StrategySpec` dataclass that creates a tf.distribute strategy."""

from __future__ import annotations

import abc
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


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes files (always, unless multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
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
