"""The callback protocol of the training loop: what runs between tf.function calls.

It sits below both `training/` (the loop and its own callbacks) and `eval/` (the evaluation
callback), so neither imports the other for it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass

import tensorflow as tf


@dataclass
class Progress:
    """What callbacks see after a train call.

    `train_seconds`: wall time spent in train calls during this launch (callbacks excluded);
    `metrics`: the step's scalar tensors; `final`: the last call of the run.
    """

    step: int
    train_seconds: float
    metrics: Mapping[str, tf.Tensor]
    final: bool = False


class Callback(abc.ABC):
    """Base: `on_step` runs every `every` steps and at the end; `close` when training stops."""

    every: int = 1
    #: Also run when SIGTERM/SIGINT stops training (saving state, not slow reporting).
    saves_state: bool = False

    def due(self, progress: Progress) -> bool:
        return progress.final or progress.step % self.every == 0

    @abc.abstractmethod
    def on_step(self, progress: Progress) -> None:
        """React to the train call that reached `progress.step`."""

    def on_start(self, step: int) -> None:
        """Called once before the first train call of a launch, at the step it starts from."""

    def close(self) -> None:
        """Release files and writers (called even when training fails)."""
