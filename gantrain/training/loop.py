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

from gantrain.budget import parse_max_time, target_steps
from gantrain.config import RunConfig, TrainerConfig
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
    """Where a run stops: the one place the loop asks (gantrain/budget.py).

    The budgets: `max_steps`; `max_kimg` thousand real images (`images_per_step` a step),
    whichever binds first (`target_steps`); `max_time` seconds of training summed over every
    launch (None: no limit). `steps_for_next_call(step)` is the length of the next train call
    (at most `steps_per_loop`, never past the target step); `finished(step, elapsed_sec)` ends
    the run after a call, and its callbacks see that call as the final one (so it logs, saves
    a checkpoint and evaluates).
    """

    max_steps: int
    steps_per_loop: int = 1
    max_kimg: float = 0.0
    images_per_step: int = 1
    max_time: float | None = None

    @classmethod
    def of(cls, trainer: TrainerConfig) -> StopCondition:
        return cls(
            trainer.max_steps,
            trainer.steps_per_loop,
            max_kimg=trainer.max_kimg,
            images_per_step=trainer.batch_size * trainer.n_critic,
            max_time=parse_max_time(trainer.max_time),
        )

    @property
    def target_steps(self) -> int:
        """The step the run ends at unless `max_time` ends it first."""
        return target_steps(self.max_steps, self.max_kimg, self.images_per_step)

    def steps_for_next_call(self, step: int) -> int:
        return min(self.steps_per_loop, self.target_steps - step)

    def out_of_time(self, elapsed_sec: float) -> bool:
        return self.max_time is not None and elapsed_sec >= self.max_time

    def finished(self, step: int, elapsed_sec: float = 0.0) -> bool:
        return step >= self.target_steps or self.out_of_time(elapsed_sec)

    def reason(self, step: int, elapsed_sec: float = 0.0) -> str:
        """Which budget a run at `step` after `elapsed_sec` of training has used up."""
        if self.out_of_time(elapsed_sec) and step < self.target_steps:
            return f"trainer.max_time={self.max_time:g}s ({elapsed_sec:.0f}s trained)"
        if self.target_steps < self.max_steps:
            return (
                f"trainer.max_kimg={self.max_kimg:g} (step {self.target_steps} at "
                f"{self.images_per_step} real images a step)"
            )
        return f"trainer.max_steps={self.max_steps}"

    def nothing_to_do(self, step: int, elapsed_sec: float = 0.0) -> str | None:
        """Why a launch at `step` trains nothing (None when it has work)."""
        if not self.finished(step, elapsed_sec):
            return None
        used = self.reason(step, elapsed_sec)
        return (
            f"nothing to do: the run is at step {step} and has used its budget, {used}; "
            f"raise {used.split('=')[0]} to train further."
        )


def train(
    run: RunConfig,
    run_dir: str | os.PathLike,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> TrainResult:
    """Train per `run`, writing checkpoints, samples, TensorBoard and stats into `run_dir`.

    `clock` (seconds) measures the training time `trainer.max_time` limits; tests inject one.

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
        stop = StopCondition.of(run.trainer)
        reason = stop.nothing_to_do(trainer.start_step, float(trainer.state.elapsed_sec.numpy()))
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
                    clock=clock,
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
    callbacks that save state run once more and TrainingInterrupted is raised. `clock`
    measures the training time (`state.elapsed_sec`, what `max_time` limits).
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
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.state = state
        self.step_fn = step_fn
        self.iterator = iterator
        self.callbacks = list(callbacks)
        self.stop = stop
        self.monitor = monitor
        self.interrupt = interrupt
        self.latest_checkpoint = latest_checkpoint
        self.clock = clock

    def run(self) -> dict[str, float]:
        state = self.state
        step = int(state.step.numpy())
        elapsed_before = float(state.elapsed_sec.numpy())
        train_seconds = 0.0
        launched = self.clock()
        metrics: Mapping[str, tf.Tensor] = {}
        for callback in self.callbacks:
            callback.on_start(step)  # the step-0 sample grid, the real images
        finished = self.stop.finished(step, elapsed_before)
        while not finished:
            num_steps = self.stop.steps_for_next_call(step)
            started = time.perf_counter()
            metrics = self.step_fn(self.iterator, num_steps)
            step += num_steps
            train_seconds += time.perf_counter() - started
            elapsed = elapsed_before + self.clock() - launched
            state.elapsed_sec.assign(elapsed)
            # Before any callback: with on_nan=stop a diverged state must not be checkpointed.
            metrics = self.monitor.check(metrics)
            # Decided once per call, so the callbacks and the loop agree on the last one.
            finished = self.stop.finished(step, elapsed)
            if finished and step < self.stop.target_steps:
                log.info(
                    "step %d: stopping, %s reached; saving a checkpoint (rerun with a larger "
                    "budget to continue)",
                    step,
                    self.stop.reason(step, elapsed),
                )
            self._run_callbacks(Progress(step, train_seconds, metrics, final=finished))
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
