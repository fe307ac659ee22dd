"""Side effects of training, run by the loop on the chief between tf.function calls.

Each callback has an interval `every` (in steps); the loop calls it after the train call that
reaches a multiple of `every`, and once more at the last step. Callbacks read the state and
the step's metrics and write files; they never change training variables.
"""

from __future__ import annotations

import logging
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from omegaconf import DictConfig
from tqdm.auto import tqdm

from gantrain.checkpointing import Checkpoints
from gantrain.hooks import Callback, Progress  # the protocol; re-exported for the loop
from gantrain.logging import tags
from gantrain.logging.images import make_grid, save_png
from gantrain.logging.stats import JsonlWriter
from gantrain.logging.tensorboard import TensorBoardWriter
from gantrain.training.sampling import Sampler
from gantrain.training.state import GANState

log = logging.getLogger("gantrain")


def learning_rate(optimizer: Any) -> float:
    return float(tf.convert_to_tensor(optimizer.learning_rate).numpy())


class MetricsLogger(Callback):
    """Scalars to TensorBoard and one line of `stats.jsonl` per logged step."""

    def __init__(
        self,
        state: GANState,
        tensorboard: TensorBoardWriter,
        stats_path: Path,
        *,
        every: int,
        batch_size: int,
        steps_per_epoch: float,
        start_step: int,
        real_per_step: int | None = None,
    ) -> None:
        self.state = state
        self.tensorboard = tensorboard
        self.stats = JsonlWriter(stats_path)
        self.every = every
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        # Real images D sees per step (n_critic batches); default one batch.
        self.real_per_step = real_per_step or batch_size
        self._last = (start_step, 0.0)
        self.last_record: dict[str, float] = {}

    def on_step(self, progress: Progress) -> None:
        last_step, last_seconds = self._last
        seconds = progress.train_seconds - last_seconds
        images = (progress.step - last_step) * self.batch_size
        self._last = (progress.step, progress.train_seconds)
        scalars = {name: float(value.numpy()) for name, value in progress.metrics.items()}
        scalars["lr_generator"] = learning_rate(self.state.g_optimizer)
        scalars["lr_discriminator"] = learning_rate(self.state.d_optimizer)
        scalars["images_per_sec"] = images / seconds if seconds > 0 else 0.0
        scalars["epoch"] = progress.step / self.steps_per_epoch
        scalars["kimg"] = progress.step * self.real_per_step / 1000.0
        self.tensorboard.scalars(scalars, progress.step)
        record = {"step": progress.step, **scalars}
        record["elapsed_sec"] = float(self.state.elapsed_sec.numpy())
        self.stats.write(record)
        self.last_record = record
        bad = [k for k in ("g_loss", "d_loss") if not math.isfinite(scalars.get(k, 0.0))]
        if bad:
            log.warning("step %d: %s is not finite", progress.step, ", ".join(bad))

    def close(self) -> None:
        self.stats.close()
        self.tensorboard.close()


class _TqdmHandler(logging.Handler):
    """Writes log records above the bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _swap_console_handlers() -> list[tuple[logging.Handler, logging.Handler]]:
    """Replace the root logger's console handlers by tqdm-aware twins (same level/format)."""
    root = logging.getLogger()
    swapped = []
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler and handler.stream in (sys.stderr, sys.stdout):
            twin = _TqdmHandler(handler.level)
            twin.setFormatter(handler.formatter)
            for log_filter in handler.filters:
                twin.addFilter(log_filter)
            root.removeHandler(handler)
            root.addHandler(twin)
            swapped.append((handler, twin))
    return swapped


def in_notebook() -> bool:
    """True inside a Jupyter/Colab kernel, where stderr is no TTY but a bar still shows (the
    test tqdm.auto makes to pick its notebook widget)."""
    ipython = sys.modules.get("IPython")
    try:
        shell = ipython.get_ipython() if ipython is not None else None
        return shell is not None and "IPKernelApp" in shell.config
    except (AttributeError, TypeError):
        return False


class ProgressBar(Callback):
    """tqdm bar: step, losses, images/s and ETA; plain log lines when stderr is neither a TTY
    nor a notebook's output (tqdm.auto draws a widget there, or text without ipywidgets)."""

    def __init__(
        self, logger: MetricsLogger, *, start_step: int, max_steps: int, enabled: bool
    ) -> None:
        self.logger = logger
        self.every = 1
        self.max_steps = max_steps
        interactive = enabled and (sys.stderr.isatty() or in_notebook())
        self.bar = tqdm(
            total=max_steps,
            initial=start_step,
            unit="step",
            dynamic_ncols=True,
            disable=not interactive,
            file=sys.stderr,
        )
        self._step = start_step
        self._log_lines = enabled and not interactive
        self._swapped = _swap_console_handlers() if interactive else []

    def on_step(self, progress: Progress) -> None:
        self.bar.update(progress.step - self._step)
        self._step = progress.step
        record = self.logger.last_record
        if record.get("step") != progress.step:
            return
        summary = {
            "g_loss": f"{record['g_loss']:.3f}",
            "d_loss": f"{record['d_loss']:.3f}",
            "img/s": f"{record['images_per_sec']:.0f}",
        }
        self.bar.set_postfix(summary, refresh=False)
        if self._log_lines:
            log.info(
                "step %d/%d  %s",
                progress.step,
                self.max_steps,
                "  ".join(f"{k} {v}" for k, v in summary.items()),
            )

    def close(self) -> None:
        self.bar.close()
        root = logging.getLogger()
        for handler, twin in self._swapped:
            root.removeHandler(twin)
            root.addHandler(handler)
        self._swapped = []


class SampleGrid(Callback):
    """The fixed latent grid through the sampling generator -> samples/step_NNNNNN.png + TB.

    Class-conditional generators draw one row per class (see `GANState.grid_labels`). A fresh
    run also writes the grid of the untrained generator at step 0 (`on_start`), so progress
    shows against the start as well as against the real images (`RealGrid`).
    """

    def __init__(
        self,
        state: GANState,
        sampler: Sampler,
        tensorboard: TensorBoardWriter,
        directory: Path,
        *,
        every: int,
        columns: int,
    ) -> None:
        self.state = state
        self.sampler = sampler
        self.tensorboard = tensorboard
        self.directory = directory
        self.every = every
        self.columns = columns

    def on_step(self, progress: Progress) -> None:
        self.write(progress.step)

    def on_start(self, step: int) -> None:
        if step == 0:
            self.write(0)

    def write(self, step: int) -> None:
        self.sampler.refresh()
        images = self.sampler.generate(self.state.grid_z, self.state.grid_labels)
        grid = make_grid(images, columns=self.columns)
        save_png(grid, self.directory / f"step_{step:06d}.png")
        self.tensorboard.image(tags.SAMPLES_TAG, grid, step, description=tags.SAMPLES_DESCRIPTION)


class RealGrid(Callback):
    """A grid of real training images, the target of the sample grid: written once, when a
    run starts at step 0, to `samples/real.png` and TensorBoard (`samples/real`).

    Same layout as the sample grid: with `grid_labels` (a class-conditional run), row r holds
    real images of the class the sample grid's row r asks for.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None,
        tensorboard: TensorBoardWriter,
        directory: Path,
        *,
        count: int,
        columns: int,
        grid_labels: np.ndarray | None = None,
    ) -> None:
        self.images, self.labels = images, labels
        self.tensorboard = tensorboard
        self.directory = directory
        self.count, self.columns = count, columns
        self.grid_labels = grid_labels

    def due(self, progress: Progress) -> bool:
        return False

    def on_step(self, progress: Progress) -> None:
        """Never due: the grid is written by `on_start`."""

    def pick(self) -> np.ndarray:
        """uint8 images (count, H, W, C): the first ones, or the first of each grid row's class."""
        if self.grid_labels is None or self.labels is None:
            return self.images[: self.count]
        seen: dict[int, int] = {}
        picked = []
        for label in np.asarray(self.grid_labels)[: self.count]:
            where = np.flatnonzero(self.labels == label)
            index = seen.get(int(label), 0)
            seen[int(label)] = index + 1
            picked.append(self.images[where[index % len(where)]] if len(where) else None)
        blank = np.zeros_like(self.images[0])
        return np.stack([blank if p is None else p for p in picked])

    def on_start(self, step: int) -> None:
        if step != 0:
            return
        images = self.pick().astype(np.float32) / 127.5 - 1.0
        grid = make_grid(images, columns=self.columns)
        save_png(grid, self.directory / "real.png")
        self.tensorboard.image(tags.REAL_TAG, grid, 0, description=tags.REAL_DESCRIPTION)


class Checkpointer(Callback):
    """Saves the full state (and the config it was trained with) every `every` steps."""

    saves_state = True

    def __init__(self, checkpoints: Checkpoints, config: DictConfig | None, *, every: int) -> None:
        self.checkpoints = checkpoints
        self.config = config
        self.every = every

    def on_step(self, progress: Progress) -> None:
        started = time.perf_counter()
        path = self.checkpoints.save(self.config)
        log.debug("saved %s in %.2fs", path, time.perf_counter() - started)


class WorkerCheckpointer(Checkpointer):
    """A non-chief worker's Checkpointer on a multi-worker run.

    Every worker must save when the chief does (saving may run collective ops over all of
    them); the others save into a scratch dir of their own, deleted when training stops.
    """

    def __init__(self, state: GANState, *, every: int, worker: str) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix=f"gantrain-{worker}-"))
        checkpoints = Checkpoints(state.checkpoint(), self.scratch, step=state.step, max_to_keep=1)
        super().__init__(checkpoints, None, every=every)

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
