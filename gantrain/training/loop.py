"""The outer training loop: plain Python around the compiled train step.

`train` builds a `Trainer` from the config (trainer.py: data, state, restore, step,
callbacks) and hands it to a `Controller` (after orbit's Controller), which calls the train
step `steps_per_loop` steps at a time, runs the due callbacks on the chief, and stops where
`StopCondition` says. Building and looping do not mix: the controller knows nothing of
configs, data or files.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from gantrain.config import RunConfig
from gantrain.distribute import is_chief
from gantrain.errors import TrainingInterrupted
from gantrain.hooks import Callback, Progress
from gantrain.run_lock import claim_run_dir
from gantrain.training.determinism import op_determinism
from gantrain.training.interrupt import InterruptRequest
from gantrain.training.nonfinite import NonFiniteMonitor
from gantrain.training.precision import precision_policy
from gantrain.training.state import GANState
from gantrain.training.trainer import Trainer, check_run, write_run_info

__all__ = ["Controller", "StopCondition", "TrainResult", "train", "write_run_info"]

log = logging.getLogger("gantrain")


@dataclass(frozen=True)
class TrainResult:
    """How a `train` call ended: the step reached, the last logged scalars and the latest
    evaluator results (`fid`, ... when `trainer.eval_every` > 0)."""

    step: int
    metrics: Mapping[str, float]
    resumed_from: str | None


@dataclass(frozen=True)
class StopCondition:
    """Where a run stops: the one place the loop asks (budgets in steps today).

    `steps_for_next_call(step)` is the length of the next train call (at most
    `steps_per_loop`, never past the budget); `finished(step)` ends the run after a call, and
    its callbacks see that call as the final one.
    """

    max_steps: int
    steps_per_loop: int = 1

    def steps_for_next_call(self, step: int) -> int:
        return min(self.steps_per_loop, self.max_steps - step)

    def finished(self, step: int) -> bool:
        return step >= self.max_steps

    def nothing_to_do(self, step: int) -> str | None:
        """Why a launch at `step` trains nothing (None when it has work)."""
        if not self.finished(step):
            return None
        return (
            f"nothing to do: the run is at step {step} and trainer.max_steps={self.max_steps}; "
            "raise trainer.max_steps to train further."
        )


def train(run: RunConfig, run_dir: str | os.PathLike) -> TrainResult:
    """Train per `run`, writing checkpoints, samples, TensorBoard and stats into `run_dir`.

    Raises NonFiniteLossError (a NaN/inf loss with trainer.on_nan=stop) and
    TrainingInterrupted (SIGTERM/SIGINT, after saving a checkpoint). On a multi-worker run
    only the chief writes `run_dir`; the other workers save their checkpoints into scratch
    dirs that they delete (saving may need every worker).
    """
    check_run(run)
    # The strategy comes first, before any TensorFlow op: multi-worker and logical-device
    # strategies configure the runtime, which TensorFlow allows only before it starts.
    strategy = run.strategy.create()
    # Op determinism and the dtype policy are process-global: set for this run only
    # (multirun jobs share a process). The run dir is this process's until it returns: a
    # second training there is refused, and an interrupted launch's leftovers are removed.
    with (
        op_determinism(run.trainer.deterministic),
        precision_policy(run.trainer.precision),
        claim_run_dir(run_dir, chief=is_chief(strategy)),
    ):
        trainer = Trainer.build(run, Path(run_dir), strategy)
        stop = StopCondition(run.trainer.max_steps, run.trainer.steps_per_loop)
        reason = stop.nothing_to_do(trainer.start_step)
        if reason:
            log.info(reason)
            return TrainResult(trainer.start_step, {}, trainer.resume_from)
        trainer.prepare()
        trainer.describe()
        try:
            with InterruptRequest() as interrupt:
                metrics = Controller(
                    trainer.state,
                    trainer.step_fn,
                    trainer.iterator,
                    trainer.callbacks,
                    stop=stop,
                    monitor=trainer.monitor,
                    interrupt=interrupt,
                    latest_checkpoint=trainer.checkpoints.latest,
                ).run()
        finally:
            for callback in trainer.callbacks:
                callback.close()
        if trainer.evaluation is not None:  # the latest evaluator results (fid, ...), for sweeps
            metrics.update(trainer.evaluation.latest)
        return TrainResult(int(trainer.state.step.numpy()), metrics, trainer.resume_from)


class Controller:
    """Train calls until `stop` says so, with the due callbacks after each (orbit's
    Controller, small). Returns the last call's metrics as floats.

    `step_fn(iterator, num_steps) -> metrics` advances `state.step`; `monitor` decides about
    non-finite losses before any callback sees them; on SIGTERM/SIGINT (`interrupt`) the
    callbacks that save state run once more and TrainingInterrupted is raised.
    """

    def __init__(
        self,
        state: GANState,
        step_fn: Callable[[Iterator, int], Mapping[str, tf.Tensor]],
        iterator: Iterator,
        callbacks: Sequence[Callback],
        *,
        stop: StopCondition,
        monitor: NonFiniteMonitor,
        interrupt: InterruptRequest,
        latest_checkpoint: Callable[[], str | None],
    ) -> None:
        self.state = state
        self.step_fn = step_fn
        self.iterator = iterator
        self.callbacks = list(callbacks)
        self.stop = stop
        self.monitor = monitor
        self.interrupt = interrupt
        self.latest_checkpoint = latest_checkpoint

    def run(self) -> dict[str, float]:
        state = self.state
        step = int(state.step.numpy())
        elapsed_before = float(state.elapsed_sec.numpy())
        train_seconds = 0.0
        launched = time.perf_counter()
        metrics: Mapping[str, tf.Tensor] = {}
        while not self.stop.finished(step):
            num_steps = self.stop.steps_for_next_call(step)
            started = time.perf_counter()
            metrics = self.step_fn(self.iterator, num_steps)
            step += num_steps
            train_seconds += time.perf_counter() - started
            state.elapsed_sec.assign(elapsed_before + time.perf_counter() - launched)
            # Before any callback: with on_nan=stop a diverged state must not be checkpointed.
            metrics = self.monitor.check(metrics)
            progress = Progress(step, train_seconds, metrics, final=self.stop.finished(step))
            self._run_callbacks(progress)
        return {name: float(value.numpy()) for name, value in metrics.items()}

    def _run_callbacks(self, progress: Progress) -> None:
        for callback in self.callbacks:
            if callback.due(progress):
                callback.on_step(progress)
        if self.interrupt.signal_name and not progress.final:
            for callback in self.callbacks:
                if callback.saves_state and not callback.due(progress):
                    callback.on_step(progress)
            raise TrainingInterrupted(
                f"interrupted by {self.interrupt.signal_name} at step {progress.step}; saved "
                f"{self.latest_checkpoint() or 'nothing (not the chief)'}. Run the same command "
                "again to resume (trainer.resume=auto)."
            )
