"""The outer training loop: plain Python around the compiled train step.

Build everything (inside the strategy's scope), restore per `trainer.resume`, then call the
train step `steps_per_loop` steps at a time and run the due callbacks on the chief.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import OmegaConf

from gantrain.checkpointing import Checkpoints, ensure_writable, resolve_resume
from gantrain.config import RunConfig
from gantrain.data.pipeline import steps_per_epoch, train_dataset
from gantrain.distribute import distribute_dataset, is_chief, per_replica_batch_size, worker_id
from gantrain.errors import TrainingInterrupted
from gantrain.eval.callback import build_eval_callback, eval_settings_for
from gantrain.logging.hparams import run_hparams
from gantrain.logging.stats import drop_records_after
from gantrain.logging.tensorboard import TensorBoardWriter
from gantrain.training.build import build_sampler, build_state, build_train_step
from gantrain.training.callbacks import (
    Callback,
    Checkpointer,
    MetricsLogger,
    Progress,
    ProgressBar,
    SampleGrid,
    WorkerCheckpointer,
)
from gantrain.training.determinism import op_determinism
from gantrain.training.interrupt import InterruptRequest
from gantrain.training.nonfinite import NonFiniteMonitor
from gantrain.training.precision import precision_policy
from gantrain.training.state import GANState
from gantrain.training.step import TrainStep

log = logging.getLogger("gantrain")


@dataclass(frozen=True)
class TrainResult:
    """How a `train` call ended: the step reached, the last logged scalars and the latest
    evaluator results (`fid`, ... when `trainer.eval_every` > 0)."""

    step: int
    metrics: Mapping[str, float]
    resumed_from: str | None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_run_info(run: RunConfig, run_dir: Path, resumed_from: str | None) -> None:
    """Append one line per launch to run_info.jsonl: what ran, where, with which versions."""
    from gantrain import __version__

    record = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "gantrain": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "git_commit": _git_commit(),
        "seed": run.trainer.seed,
        "resumed_from": resumed_from,
        "config": OmegaConf.to_container(run.raw, resolve=True),
    }
    with (run_dir / "run_info.jsonl").open("a", encoding="utf-8") as file:
        file.write(json.dumps(record, default=str) + "\n")


def train(run: RunConfig, run_dir: str | os.PathLike) -> TrainResult:
    """Train per `run`, writing checkpoints, samples, TensorBoard and stats into `run_dir`.

    Raises NonFiniteLossError (a NaN/inf loss with trainer.on_nan=stop) and
    TrainingInterrupted (SIGTERM/SIGINT, after saving a checkpoint). On a multi-worker run
    only the chief writes `run_dir`; the other workers save their checkpoints into scratch
    dirs that they delete (saving may need every worker).
    """
    # The strategy comes first, before any TensorFlow op: multi-worker and logical-device
    # strategies configure the runtime, which TensorFlow allows only before it starts.
    strategy = run.strategy.create()
    # Op determinism and the dtype policy are process-global: set for this run only
    # (multirun jobs share a process).
    with op_determinism(run.trainer.deterministic), precision_policy(run.trainer.precision):
        return _train(run, Path(run_dir), strategy)


def _train(run: RunConfig, run_dir: Path, strategy: tf.distribute.Strategy) -> TrainResult:
    ensure_writable(run_dir)
    trainer = run.trainer
    keras.utils.set_random_seed(trainer.seed)
    per_replica_batch_size(strategy, trainer.batch_size)
    resume_from = resolve_resume(trainer.resume, run_dir)
    eval_settings = eval_settings_for(run)  # validated now: a typo fails before any work

    data = run.dataset.examples()  # in memory, or read from disk batch by batch
    spec = data.spec
    # A step reads n_critic batches, so an epoch takes fewer (generator) steps.
    per_epoch = steps_per_epoch(spec.num_examples, trainer.batch_size) / trainer.n_critic
    with strategy.scope():
        state = build_state(run, spec)
    chief = is_chief(strategy)
    checkpoints = Checkpoints(
        state.checkpoint(), run_dir, step=state.step, max_to_keep=trainer.checkpoints_to_keep
    )
    if chief:
        ensure_writable(checkpoints.directory)
    if resume_from:
        checkpoints.restore(resume_from)
        log.info("resumed from %s at step %d", resume_from, int(state.step.numpy()))
    start_step = int(state.step.numpy())
    if start_step >= trainer.max_steps:
        log.info(
            "nothing to do: the run is at step %d and trainer.max_steps=%d; raise "
            "trainer.max_steps to train further.",
            start_step,
            trainer.max_steps,
        )
        return TrainResult(start_step, {}, resume_from)
    if chief:
        write_run_info(run, run_dir, resume_from)
        dropped = drop_records_after(run_dir / run.logging.stats_file, start_step)
        if dropped:
            log.info("dropped %d stats records logged after step %d", dropped, start_step)

    def make_dataset(context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        return train_dataset(
            data,
            batch_size=trainer.batch_size,
            seed=trainer.seed,
            start_step=start_step * trainer.n_critic,
            context=context,
        )

    dataset = distribute_dataset(
        strategy, make_dataset, trainer.batch_size, make_local=make_dataset
    )
    iterator = iter(dataset)
    step_fn = build_train_step(run, state, strategy, trainer.batch_size)
    # Samples come from the EMA generator when there is one.
    sampled = state.generator if state.generator_ema is None else state.generator_ema
    callbacks: list[Callback] = []
    evaluation = None
    if not chief:
        callbacks = [
            WorkerCheckpointer(state, every=trainer.checkpoint_every, worker=worker_id(strategy))
        ]
    if chief:
        tensorboard = TensorBoardWriter(run_dir / "tb", enabled=run.logging.tensorboard)
        tensorboard.hparams(run_hparams(run.raw))
        logger = MetricsLogger(
            state,
            tensorboard,
            run_dir / run.logging.stats_file,
            every=trainer.log_every,
            batch_size=trainer.batch_size,
            steps_per_epoch=per_epoch,
            start_step=start_step,
        )
        callbacks = [
            logger,
            ProgressBar(
                logger,
                start_step=start_step,
                max_steps=trainer.max_steps,
                enabled=run.logging.progress_bar,
            ),
            SampleGrid(
                state,
                build_sampler(run, spec, sampled),
                tensorboard,
                run_dir / "samples",
                every=trainer.sample_every,
                columns=run.logging.sample_grid,
            ),
            Checkpointer(checkpoints, run.raw, every=trainer.checkpoint_every),
        ]
        if eval_settings is not None:
            evaluation = build_eval_callback(
                run, eval_settings, spec, state, tensorboard, run_dir, start_step
            )
            callbacks.append(evaluation)
    log.info(
        "training %s on %s (%d images, %.0f steps per epoch) from step %d to %d, batch %d, "
        "%d replica(s), %s%s; run dir %s",
        state.generator.name,
        spec.name,
        spec.num_examples,
        per_epoch,
        start_step,
        trainer.max_steps,
        trainer.batch_size,
        strategy.num_replicas_in_sync,
        trainer.precision,
        ", XLA" if trainer.jit_compile else "",
        run_dir,
    )
    result_metrics: dict[str, float] = {}
    monitor = NonFiniteMonitor(state, trainer.on_nan, latest_checkpoint=checkpoints.latest)
    try:
        with InterruptRequest() as interrupt:
            result_metrics = _run_loop(
                state,
                step_fn,
                iterator,
                callbacks,
                trainer.max_steps,
                trainer.steps_per_loop,
                monitor=monitor,
                interrupt=interrupt,
                latest_checkpoint=checkpoints.latest,
            )
    finally:
        for callback in callbacks:
            callback.close()
    if evaluation is not None:  # the latest evaluator results (fid, ...) for sweepers
        result_metrics.update(evaluation.latest)
    return TrainResult(int(state.step.numpy()), result_metrics, resume_from)


def _run_loop(
    state: GANState,
    step_fn: TrainStep,
    iterator: Iterator,
    callbacks: list[Callback],
    max_steps: int,
    steps_per_loop: int,
    *,
    monitor: NonFiniteMonitor,
    interrupt: InterruptRequest,
    latest_checkpoint: Callable[[], str | None],
) -> dict[str, float]:
    step = int(state.step.numpy())
    elapsed_before = float(state.elapsed_sec.numpy())
    train_seconds = 0.0
    launched = time.perf_counter()
    metrics: Mapping[str, tf.Tensor] = {}
    while step < max_steps:
        num_steps = min(steps_per_loop, max_steps - step)
        started = time.perf_counter()
        metrics = step_fn(iterator, num_steps)
        step += num_steps
        train_seconds += time.perf_counter() - started
        state.elapsed_sec.assign(elapsed_before + time.perf_counter() - launched)
        # Before any callback: with on_nan=stop a diverged state must not be checkpointed.
        metrics = monitor.check(metrics)
        progress = Progress(step, train_seconds, metrics, final=step >= max_steps)
        for callback in callbacks:
            if callback.due(progress):
                callback.on_step(progress)
        if interrupt.signal_name and not progress.final:
            for callback in callbacks:
                if callback.saves_state and not callback.due(progress):
                    callback.on_step(progress)
            raise TrainingInterrupted(
                f"interrupted by {interrupt.signal_name} at step {step}; saved "
                f"{latest_checkpoint() or 'nothing (not the chief)'}. Run the same command "
                "again to resume (trainer.resume=auto)."
            )
    return {name: float(value.numpy()) for name, value in metrics.items()}
