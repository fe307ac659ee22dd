"""gantrain as a library: `compose`, `train`, `load`, `evaluate` (and `gantrain.keras` for fit).

Each function runs the command line's own code, so a notebook and a shell give the same
configs, losses, run dirs and numbers:

- `compose(overrides)`: the `train` config Hydra composes for `gantrain train OVERRIDES`,
  validated as the train task validates it (the same schemas and one-line errors).
- `train(cfg or overrides, run_dir=...)`: a Hydra job like the CLI's (`.hydra/`, `train.log`)
  whose task is gantrain/tasks/train.py's `train_in_run_dir`, the CLI's training path;
  resumes from the run dir's checkpoints like a rerun of the same command.
- `load(run_dir | FILE.keras)`: the sampling generator `gantrain sample` draws from (through
  gantrain/tasks/sample.py's `load_sampler`, so a run dir's config is read as untrusted data
  there), wrapped as a `Generator`.
- `evaluate(images | run_dir, metrics=[...])`: the JSON-able object `gantrain eval` prints.

Errors are gantrain's own exception types (gantrain/errors.py) with the CLI's one-line
messages; nothing here raises SystemExit. `TrainingInterrupted` (a BaseException) still ends
a train call after Ctrl-C or SIGTERM once a checkpoint is saved; calling `train` again resumes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

from gantrain.errors import ConfigError, GantrainError

if TYPE_CHECKING:
    import keras
    from PIL import Image

    from gantrain.training.sampling import Sampler

log = logging.getLogger("gantrain")

CONFIG_MODULE = "gantrain.configs"


# -- Hydra, as the CLI runs it ----------------------------------------------------------------


@contextlib.contextmanager
def _own_hydra() -> Iterator[None]:
    """A clean global Hydra for gantrain's compose calls; the caller's is put back after.

    Hydra keeps one global instance and refuses a second initialization; a notebook may hold
    its own (or a previous call's, after an error).
    """
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    backup = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        yield
    finally:
        restore_gh_from_backup(backup)


def _check_overrides(command: str, overrides: list[str]) -> None:
    """The CLI's one-line checks of a command line, raised as ConfigError."""
    from gantrain.cli import check_group_choices
    from gantrain.overrides import check_overrides

    if not all(isinstance(item, str) for item in overrides):
        raise ConfigError(
            f"overrides: give a list of strings such as ['trainer.max_steps=500'], "
            f"not {overrides!r}."
        )
    problem = check_group_choices(overrides) or check_overrides(command, overrides)
    if problem:
        raise ConfigError(problem.removeprefix("gantrain: "))


def _composition_error(error: Exception) -> ConfigError:
    flat = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return ConfigError(f"cannot apply the overrides: {flat.split(' Config search path:')[0]}")


def _compose(command: str, overrides: list[str]) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from gantrain.tasks.common import HYDRA_VERSION_BASE

    with _own_hydra():
        _check_overrides(command, overrides)
        with initialize_config_module(
            config_module=CONFIG_MODULE, job_name=command, version_base=HYDRA_VERSION_BASE
        ):
            try:
                return hydra_compose(config_name=command, overrides=overrides)
            except (HydraException, OmegaConfBaseException) as error:
                raise _composition_error(error) from error


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """The validated `train` config of `gantrain train OVERRIDES` (Hydra's `hydra` node left out).

    Raises ConfigError with the CLI's one-line message for an unknown option, key or value.
    The result can be changed (`cfg.trainer.max_steps = 500`) and passed to `train`.
    """
    from gantrain.config import load_run_config
    from gantrain.tfimport import import_tensorflow_quietly

    cfg = _compose("train", list(overrides))
    import_tensorflow_quietly()  # validation imports the builders (Keras, TensorFlow)
    load_run_config(cfg)
    return cfg


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Undo the job's logging setup afterwards (Hydra's job_logging replaces the root
    handlers, as for the CLI; a notebook keeps its own once the call returns)."""
    names = ("", "gantrain", "tensorflow", "absl")
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
    try:
        yield
    finally:
        for name, (handlers, level, propagate, disabled) in saved.items():
            logger = logging.getLogger(name)
            for handler in logger.handlers:
                if handler not in handlers:
                    handler.close()
            logger.handlers = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled


@dataclass(frozen=True)
class TrainRun:
    """What `train` returns: the step reached, the last logged scalars (`g_loss`, `d_loss`,
    ..., plus evaluator results such as `fid` when `trainer.eval_every` > 0), the run dir
    (absolute) and the checkpoint the run resumed from (None for a fresh start)."""

    step: int
    metrics: Mapping[str, float]
    run_dir: Path
    resumed_from: str | None


def _train_task(cfg: DictConfig) -> Any:
    """The job's task: the CLI's training path, isolated like a CLI job."""
    from gantrain.tasks.train import train_in_run_dir
    from gantrain.training.isolation import isolated_job

    try:
        with isolated_job():
            return train_in_run_dir(cfg)
    except GantrainError:
        # As the CLI does: the traceback into train.log (DEBUG reaches only the file); the
        # caller gets the exception itself rather than a console line.
        log.debug("traceback of the error below", exc_info=True)
        raise


def train(
    config: DictConfig | Sequence[str] = (), *, run_dir: str | os.PathLike | None = None
) -> TrainRun:
    """Train like `gantrain train` and return the result.

    `config`: overrides (`["trainer.max_steps=500", "loss=hinge"]`), composed exactly as the
    CLI composes them (`.hydra/overrides.yaml` records them), or a config from `compose`
    (changed or not; `.hydra/config.yaml` records it, `overrides.yaml` is then empty).
    `run_dir`: where the run lives (`hydra.run.dir`); None: the CLI's default,
    `outputs/train/<date>_<time>` under the working directory. A run dir with checkpoints
    continues from the latest one (`trainer.resume=auto`), exactly as a rerun of the CLI.

    The progress bar is tqdm's: a widget in Jupyter (with ipywidgets), text elsewhere.
    Raises GantrainError subclasses (ConfigError, DatasetError, NonFiniteLossError, ...) with
    the CLI's one-line messages; `train.log` in the run dir holds the traceback.
    """
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.utils import run_job
    from hydra.errors import HydraException
    from hydra.types import HydraContext, RunMode
    from omegaconf import open_dict
    from omegaconf.errors import OmegaConfBaseException

    from gantrain.cli import quote_value
    from gantrain.tasks.common import HYDRA_VERSION_BASE
    from gantrain.tfimport import import_tensorflow_quietly

    if isinstance(config, DictConfig):
        task_cfg, overrides = config, []
    elif isinstance(config, str) or not isinstance(config, Sequence | ListConfig):
        raise ConfigError(
            "train(config): give a config from gantrain.compose(...) or a list of overrides "
            f"such as ['trainer.max_steps=500'], not {type(config).__name__}."
        )
    else:
        task_cfg, overrides = None, [str(item) for item in config]
    arguments = list(overrides)
    if run_dir is not None:
        arguments.append(f"hydra.run.dir={quote_value(str(Path(run_dir).expanduser()))}")
    import_tensorflow_quietly()
    with _own_hydra():
        _check_overrides("train", arguments)
        with initialize_config_module(
            config_module=CONFIG_MODULE, job_name="train", version_base=HYDRA_VERSION_BASE
        ):
            # The steps of Hydra's own `Hydra.run` (what @hydra.main does for the CLI), with
            # the task part of the config replaced when a composed config was given.
            from hydra._internal.callbacks import Callbacks

            hydra_app = GlobalHydra.instance().hydra
            try:
                job_cfg = hydra_app.compose_config(
                    config_name="train", overrides=arguments, run_mode=RunMode.RUN
                )
            except (HydraException, OmegaConfBaseException) as error:
                raise _composition_error(error) from error
            if task_cfg is not None:
                with open_dict(job_cfg):
                    for key in [k for k in job_cfg if k != "hydra"]:
                        del job_cfg[key]
                    for key, value in task_cfg.items():
                        if key != "hydra":
                            job_cfg[key] = value
            job_cfg.hydra.mode = RunMode.RUN
            callbacks = Callbacks(job_cfg)
            callbacks.on_run_start(config=job_cfg, config_name="train")
            with _logging_restored():
                job = run_job(
                    hydra_context=HydraContext(
                        config_loader=hydra_app.config_loader, callbacks=callbacks
                    ),
                    task_function=_train_task,
                    config=job_cfg,
                    job_dir_key="hydra.run.dir",
                    job_subdir_key=None,
                    configure_logging=True,
                )
                callbacks.on_run_end(config=job_cfg, config_name="train", job_return=job)
    result = job.return_value  # re-raises the task's exception
    return TrainRun(
        step=result.step,
        metrics=dict(result.metrics),
        run_dir=Path(job.hydra_cfg.hydra.runtime.output_dir),
        resumed_from=result.resumed_from,
    )


# -- generators -------------------------------------------------------------------------------


def _sample_request(**values: Any) -> DictConfig:
    """The `sample` command's settings (configs/sample.yaml) for gantrain.tasks.sample.plan."""
    return OmegaConf.create(
        {
            "mode": "samples",
            "num_samples": 64,
            "seed": 0,
            "per_class": 8,
            "seeds": [0, 1],
            "steps": 8,
            "truncation": None,
            "labels": None,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()},
        }
    )


def picture(images: np.ndarray, *, columns: int | None = None) -> Image.Image:
    """Images (N, H, W, C) in [-1, 1] tiled into one PIL image (shown inline by Jupyter);
    the grid `gantrain sample output=FILE.png` writes."""
    from PIL import Image

    from gantrain.logging.images import make_grid

    grid = make_grid(np.asarray(images), columns=columns)
    return Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)


class Generator:
    """A trained generator, drawing images as `gantrain sample` does (same latents per seed).

    From `gantrain.load`. Images are float32 NHWC in [-1, 1]. `keras_model` is the Keras model
    itself (latent [, labels] -> images; EMA weights and standing batch-norm statistics when
    loaded from a run dir), e.g. for `keras_model.save("g.keras")` or fine-tuning.
    """

    def __init__(
        self, sampler: Sampler, *, checkpoint: str | None, step: int | None, source: str
    ) -> None:
        self._sampler = sampler
        self.checkpoint = checkpoint
        self.step = step
        self.source = source
        self.latent_dim = sampler.latent_dim
        self.num_classes = sampler.num_classes
        self.image_shape = tuple(int(d) for d in sampler.model.output_shape[1:])

    def __repr__(self) -> str:
        kind = f"{self.num_classes} classes" if self.num_classes else "unconditional"
        return (
            f"Generator({self.source}, step {self.step}, latent_dim {self.latent_dim}, {kind}, "
            f"images {self.image_shape})"
        )

    @property
    def keras_model(self) -> keras.Model:
        from gantrain.models.saving import as_generator_model

        return as_generator_model(self._sampler.model)

    def _draw(self, request: DictConfig, batch_size: int):
        from gantrain.tasks.sample import plan

        for key in ("num_samples", "per_class", "steps"):
            if int(request[key]) <= 0:
                raise ConfigError(f"{key}={request[key]}: must be a positive number.")
        drawn = plan(request, self.latent_dim, self.num_classes)
        images = self._sampler.generate(drawn.latents, drawn.labels, batch_size=batch_size)
        return images, drawn

    def sample(
        self,
        n: int = 64,
        *,
        seed: int = 0,
        labels: int | Sequence[int] | None = None,
        truncation: float | None = None,
        batch_size: int = 256,
    ) -> np.ndarray:
        """`n` images (n, H, W, C) float32 in [-1, 1]: those of `gantrain sample
        num_samples=n seed=S output=FILE.npz` with the same `labels` and `truncation`.

        `labels` (class-conditional generators): a class, or a list cycled through (image i
        gets labels[i % len]); None: every class in turn. `truncation` t: the truncation
        trick (BigGAN), latent components with |z| > t redrawn; None: plain N(0, 1).
        """
        request = _sample_request(num_samples=n, seed=seed, labels=labels, truncation=truncation)
        return self._draw(request, batch_size)[0]

    def grid(
        self,
        n: int = 64,
        *,
        seed: int = 0,
        labels: int | Sequence[int] | None = None,
        truncation: float | None = None,
    ) -> Image.Image:
        """The picture `gantrain sample num_samples=n output=FILE.png` writes (a PIL image;
        conditional generators get one row per class of the label cycle)."""
        request = _sample_request(num_samples=n, seed=seed, labels=labels, truncation=truncation)
        images, drawn = self._draw(request, 256)
        in_order = images if drawn.order is None else images[drawn.order]
        return picture(in_order, columns=drawn.columns or None)

    def interpolate(
        self,
        seeds: Sequence[int] = (0, 1),
        steps: int = 8,
        *,
        label: int | None = None,
        truncation: float | None = None,
    ) -> np.ndarray:
        """Frames (steps * (len(seeds) - 1) + 1, H, W, C) along the spherical path through
        the first latent of each seed (`gantrain sample mode=interpolate`); `label`: the
        class of every frame (conditional generators; None: class 0).
        `picture(frames, columns=len(frames))` gives the strip."""
        request = _sample_request(
            mode="interpolate", seeds=list(seeds), steps=steps, labels=label, truncation=truncation
        )
        return self._draw(request, 256)[0]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the generator as a `.keras` file (what `gantrain export format=keras` writes)."""
        from gantrain.models.saving import save_generator

        metadata = {"source": self.source, "checkpoint": self.checkpoint, "step": self.step}
        return save_generator(self._sampler.model, path, metadata)


def load(
    source: str | os.PathLike, checkpoint: str | os.PathLike | None = None, *, ema: bool = True
) -> Generator:
    """The generator of a training run dir (its latest checkpoint, or `checkpoint=`), or of
    a `.keras` file from `gantrain export format=keras` / `Generator.save`.

    As `gantrain sample`: EMA weights when the checkpoint has them (`ema=False`: the raw
    generator), batch-norm standing statistics recomputed. A run dir's config is read as
    untrusted data (no code runs from it); a `.keras` file loads with safe_mode=True.
    """
    from gantrain.tfimport import import_tensorflow_quietly

    import_tensorflow_quietly()
    path = Path(source).expanduser()
    if path.suffix == ".keras":
        if checkpoint is not None:
            raise ConfigError("checkpoint= picks a checkpoint of a run dir, not of a .keras file.")
        from gantrain.models.saving import load_generator
        from gantrain.training.sampling import Sampler

        model = load_generator(path)
        sampler = Sampler(model, model, standing_stats=0, seed=0)  # statistics are in the file
        step = model.metadata.get("step")
        return Generator(sampler, checkpoint=None, step=step, source=str(path))
    from gantrain.checkpointing import checkpoint_step
    from gantrain.tasks.sample import load_sampler

    sampler, _, prefix = load_sampler(
        str(path), None if checkpoint is None else str(checkpoint), ema=ema
    )
    return Generator(sampler, checkpoint=prefix, step=checkpoint_step(prefix), source=str(path))


# -- evaluation -------------------------------------------------------------------------------


def _override_value(value: Any) -> str:
    from gantrain.cli import quote_value

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    return quote_value(str(value))


def evaluate(
    source: np.ndarray | str | os.PathLike,
    *,
    metrics: Sequence[str] = ("fid", "kid", "is", "pr"),
    protocol: str | Mapping[str, Any] | None = None,
    checkpoint: str | os.PathLike | None = None,
    labels: np.ndarray | None = None,
    dataset: str = "mnist",
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """The object `gantrain eval` prints: every metric by name plus `protocol`.

    `source`: a run dir (its latest checkpoint or `checkpoint=`; as `eval run_dir=`, one line
    per evaluator is appended to its metric-<name>.jsonl), an `.npz` of images (`eval
    images=`), or images (N, H, W, C) uint8 or float in [-1, 1] with optional `labels` (N,).
    `metrics`: evaluator names (`eval=[...]`). `protocol`: a named protocol
    (`eval.protocol`: default, fid50k_full, ...) or a dict of `eval.` settings such as
    {"num_samples": 2000, "extractor": "domain"}. `dataset`: the real data images are compared
    with (a run uses its own). `overrides`: any further `eval` command overrides.
    """
    from gantrain.tfimport import import_tensorflow_quietly

    arguments = [f"eval=[{','.join(metrics)}]"]
    if isinstance(protocol, str):
        arguments.append(f"eval.protocol={_override_value(protocol)}")
    elif isinstance(protocol, Mapping):
        arguments += [f"eval.{key}={_override_value(value)}" for key, value in protocol.items()]
    elif protocol is not None:
        raise ConfigError(
            f"protocol={protocol!r}: give a protocol name or a dict of eval settings."
        )
    with tempfile.TemporaryDirectory(prefix="gantrain-eval-") as scratch:
        in_memory = isinstance(source, np.ndarray)
        if in_memory:
            # Through a file, so arrays and .npz files pass the same checks (load_images).
            images_file = Path(scratch) / "images.npz"
            extra = {} if labels is None else {"labels": np.asarray(labels)}
            np.savez(images_file, images=source, **extra)
            arguments += [f"images={images_file}", f"dataset={dataset}"]
        else:
            path = Path(source).expanduser()
            if labels is not None:
                raise ConfigError("labels= goes with images given as an array.")
            if path.suffix == ".npz":
                arguments += [f"images={_override_value(str(path))}", f"dataset={dataset}"]
            else:
                arguments.append(f"run_dir={_override_value(str(path))}")
                if checkpoint is not None:
                    arguments.append(f"checkpoint={_override_value(str(checkpoint))}")
        if checkpoint is not None and (in_memory or path.suffix == ".npz"):
            raise ConfigError("checkpoint= picks a checkpoint of run_dir=; give a run dir too.")
        cfg = _compose("evaluate", [*arguments, *overrides])
        import_tensorflow_quietly()
        from gantrain.eval.settings import check_evaluator_counts, load_eval_settings
        from gantrain.tasks.evaluate import score_images, score_run

        settings = load_eval_settings(cfg)
        if cfg.run_dir:
            for warning in check_evaluator_counts(settings):
                log.warning("%s", warning)
            return score_run(cfg, settings)
        record = score_images(cfg, settings)
        if in_memory:
            record["protocol"]["images"] = f"array of {len(source)} images"
        return record
