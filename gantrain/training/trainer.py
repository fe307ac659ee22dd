"""Building one training launch from a validated config: the `Trainer`.

`Trainer.build` makes what a launch needs to know where it stands (data, state inside the
strategy's scope, checkpoints, the restore per `trainer.resume`); `Trainer.prepare` then
makes what only a launch that trains needs (run metadata, the data iterator from the start
step, the compiled step and the callbacks). The loop (loop.py) only runs them. Callbacks are
assembled in one place, `build_callbacks`.
"""

from __future__ import annotations

import json
import logging
import platform
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from omegaconf import OmegaConf

from gantrain.budget import target_steps
from gantrain.checkpointing import Checkpoints, ensure_writable, resolve_resume
from gantrain.config import RunConfig
from gantrain.data.base import DatasetSpec
from gantrain.data.pipeline import steps_per_epoch, train_dataset
from gantrain.distribute import distribute_dataset, is_chief, per_replica_batch_size, worker_id
from gantrain.eval.callback import EvaluationCallback, build_eval_callback, eval_settings_for
from gantrain.eval.settings import EvalSettings
from gantrain.hooks import Callback
from gantrain.logging import tags
from gantrain.logging.hparams import hydra_context, run_hparams
from gantrain.logging.stats import drop_records_after, repair_torn_tail
from gantrain.logging.tensorboard import TensorBoardWriter
from gantrain.training.augmentation import check_augment
from gantrain.training.build import build_sampler, build_state, build_train_step
from gantrain.training.callbacks import (
    Checkpointer,
    MetricsLogger,
    ProgressBar,
    RealGrid,
    SampleGrid,
    WorkerCheckpointer,
)
from gantrain.training.nonfinite import NonFiniteMonitor
from gantrain.training.state import GANState
from gantrain.training.step import TrainStep

log = logging.getLogger("gantrain")


def check_run(run: RunConfig) -> None:
    """Checks of settings that only training code knows (config.py stays below training/):
    called before anything is built, so a typo fails at startup."""
    check_augment(run.trainer.augment)


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
    path = run_dir / "run_info.jsonl"
    repair_torn_tail(path)  # a launch killed mid-line must not glue this record onto it
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(record, default=str) + "\n")


@dataclass
class Trainer:
    """One launch of a run: built by `build`, completed by `prepare`, run by loop.Controller.

    `start_step` is the step the state was restored to (0 for a new run); `steps_per_epoch`
    counts generator steps (a step reads n_critic batches).
    """

    run: RunConfig
    run_dir: Path
    strategy: tf.distribute.Strategy
    spec: DatasetSpec
    data: object  # the dataset's examples (gantrain.data.base)
    state: GANState
    checkpoints: Checkpoints
    chief: bool
    resume_from: str | None
    start_step: int
    steps_per_epoch: float
    eval_settings: EvalSettings | None
    # Made by `prepare`:
    iterator: Iterator | None = None
    step_fn: TrainStep | None = None
    callbacks: list[Callback] = field(default_factory=list)
    evaluation: EvaluationCallback | None = None
    monitor: NonFiniteMonitor | None = None

    @classmethod
    def build(cls, run: RunConfig, run_dir: Path, strategy: tf.distribute.Strategy) -> Trainer:
        """Data, state and checkpoints, restored per `trainer.resume`. Call inside the run's
        op-determinism and precision settings (loop.train)."""
        ensure_writable(run_dir)
        trainer = run.trainer
        keras.utils.set_random_seed(trainer.seed)
        per_replica_batch_size(strategy, trainer.batch_size)
        resume_from = resolve_resume(trainer.resume, run_dir)
        eval_settings = eval_settings_for(run)  # validated now: a typo fails before any work

        data = run.dataset.examples()  # in memory, or read from disk batch by batch
        spec = data.spec
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
        return cls(
            run=run,
            run_dir=run_dir,
            strategy=strategy,
            spec=spec,
            data=data,
            state=state,
            checkpoints=checkpoints,
            chief=chief,
            resume_from=resume_from,
            start_step=int(state.step.numpy()),
            steps_per_epoch=per_epoch,
            eval_settings=eval_settings,
        )

    def prepare(self) -> None:
        """Run metadata, the data iterator from `start_step`, the train step, the callbacks."""
        run, trainer = self.run, self.run.trainer
        if self.chief:
            write_run_info(run, self.run_dir, self.resume_from)
            dropped = drop_records_after(self.run_dir / run.logging.stats_file, self.start_step)
            if dropped:
                log.info("dropped %d stats records logged after step %d", dropped, self.start_step)
        self.iterator = iter(self._dataset())
        self.step_fn = build_train_step(run, self.state, self.strategy, trainer.batch_size)
        self.callbacks, self.evaluation = build_callbacks(self)
        self.monitor = NonFiniteMonitor(
            self.state, trainer.on_nan, latest_checkpoint=self.checkpoints.latest
        )

    def _dataset(self) -> tf.distribute.DistributedDataset:
        trainer = self.run.trainer

        def make_dataset(context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
            return train_dataset(
                self.data,
                batch_size=trainer.batch_size,
                seed=trainer.seed,
                start_step=self.start_step * trainer.n_critic,
                context=context,
            )

        return distribute_dataset(
            self.strategy, make_dataset, trainer.batch_size, make_local=make_dataset
        )

    @property
    def target_steps(self) -> int:
        """The step this run trains to: `max_steps`, or fewer when `max_kimg` binds first."""
        trainer = self.run.trainer
        return target_steps(
            trainer.max_steps, trainer.max_kimg, trainer.batch_size, trainer.n_critic
        )

    def describe(self) -> None:
        """The launch's one-line summary in the log."""
        trainer = self.run.trainer
        log.info(
            "training %s on %s (%d images, %.0f steps per epoch) from step %d to %d, batch %d, "
            "%d replica(s), %s%s; run dir %s",
            self.state.generator.name,
            self.spec.name,
            self.spec.num_examples,
            self.steps_per_epoch,
            self.start_step,
            self.target_steps,
            trainer.batch_size,
            self.strategy.num_replicas_in_sync,
            trainer.precision,
            ", XLA" if trainer.jit_compile else "",
            self.run_dir,
        )


def build_callbacks(trainer: Trainer) -> tuple[list[Callback], EvaluationCallback | None]:
    """Every callback of a launch, in the order they run after a train call (the one place
    they are assembled); the evaluation callback also on its own (its results end the run).

    Workers other than the chief only save checkpoints (saving may need every worker).
    """
    run, state, settings = trainer.run, trainer.state, trainer.run.trainer
    if not trainer.chief:
        worker = worker_id(trainer.strategy)
        return [WorkerCheckpointer(state, every=settings.checkpoint_every, worker=worker)], None
    # Samples come from the EMA generator when there is one.
    sampled = state.generator if state.generator_ema is None else state.generator_ema
    tensorboard = TensorBoardWriter(trainer.run_dir / "tb", enabled=run.logging.tensorboard)
    logger = MetricsLogger(
        state,
        tensorboard,
        trainer.run_dir / run.logging.stats_file,
        every=settings.log_every,
        batch_size=settings.batch_size,
        steps_per_epoch=trainer.steps_per_epoch,
        start_step=trainer.start_step,
        real_per_step=settings.batch_size * settings.n_critic,
    )
    callbacks: list[Callback] = [
        logger,
        ProgressBar(
            logger,
            start_step=trainer.start_step,
            max_steps=trainer.target_steps,  # the binding budget's step (max_kimg)
            enabled=run.logging.progress_bar,
        ),
        SampleGrid(
            state,
            build_sampler(run, trainer.spec, sampled),
            tensorboard,
            trainer.run_dir / "samples",
            every=settings.sample_every,
            columns=run.logging.sample_grid,
        ),
        Checkpointer(trainer.checkpoints, run.raw, every=settings.checkpoint_every),
    ]
    evaluation = None
    if trainer.eval_settings is not None:
        evaluation = build_eval_callback(
            run,
            trainer.eval_settings,
            trainer.spec,
            state,
            tensorboard,
            trainer.run_dir,
            trainer.start_step,
            sampler=build_sampler(run, trainer.spec, sampled),
        )
        callbacks.append(evaluation)
    if trainer.start_step == 0:
        callbacks.append(_real_grid(trainer, tensorboard))
    _log_hparams(trainer, tensorboard, evaluation)
    return callbacks, evaluation


def _real_grid(trainer: Trainer, tensorboard: TensorBoardWriter) -> RealGrid:
    """Real images for a fresh run's `samples/real.png`: the first examples, or for a
    class-conditional grid the first examples of each row's class (among the first few
    thousand, so a dataset on disk is not read whole)."""
    grid = trainer.run.logging.sample_grid
    labels = trainer.state.grid_labels
    count = grid * grid if labels is None else max(grid * grid * 8, 4096)
    images, image_labels = trainer.data.take(np.arange(min(count, trainer.spec.num_examples)))
    return RealGrid(
        images,
        image_labels,
        tensorboard,
        trainer.run_dir / "samples",
        count=grid * grid,
        columns=grid,
        grid_labels=None if labels is None else labels.numpy(),
    )


def _log_hparams(
    trainer: Trainer, tensorboard: TensorBoardWriter, evaluation: EvaluationCallback | None
) -> None:
    """The HParams dashboard's row of this run: the hyperparameters (swept keys first) and
    the metrics that judge it (gantrain/logging/hparams.py)."""
    choices, overrides, swept = hydra_context()
    values = run_hparams(trainer.run.raw, choices=choices, first=[*swept, *overrides])
    metrics = [(tags.tag(name), tags.description(name)) for name in tags.JUDGING]
    if evaluation is not None:
        metrics += evaluation.metric_tags()
    tensorboard.hparams(values, metrics=metrics, swept=swept)
