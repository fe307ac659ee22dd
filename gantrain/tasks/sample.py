"""`python -m gantrain sample run_dir=DIR output=PATH [mode=samples|classes|interpolate] ...`.

Output by the path's suffix: `.npz` arrays, `.png` one picture (grid or strip), `.gif` an
animation (interpolations), anything else a folder of one PNG per image. Latents and labels
come from gantrain.generation; images from the run's sampling generator (EMA weights when the
checkpoint has them, standing batch-norm statistics as the training grids), truncated in w
with `truncation_psi`/`truncation_cutoff` for generators with a mapping network (StyleGAN2).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
import numpy as np
from omegaconf import DictConfig

from gantrain.errors import ConfigError, writing
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, user_errors

if TYPE_CHECKING:
    import keras

    from gantrain.config import RunConfig
    from gantrain.data.base import DatasetSpec
    from gantrain.training.sampling import Sampler

log = logging.getLogger("gantrain")

MODES = ("samples", "classes", "interpolate")
EMA_KEY = "generator_ema"


def run_checkpoint(run_dir: str | os.PathLike, checkpoint: str | None) -> str:
    """What `checkpoint=` names for `run_dir=`: a path as given, or a name inside the run
    (`ckpt-5000`, `best/ckpt-5000`: under <run_dir>/checkpoints/, as `--help` says)."""
    from gantrain.checkpointing import CHECKPOINT_DIR

    if not checkpoint:
        return str(run_dir)
    given = Path(checkpoint).expanduser()
    if given.is_absolute() or given.is_dir() or Path(f"{given}.index").exists():
        return str(given)
    inside = Path(run_dir) / CHECKPOINT_DIR / given
    return str(inside) if Path(f"{inside}.index").exists() else str(given)


def trained_config(run_dir: Path, checkpoint: str) -> DictConfig:
    """The config a checkpoint was trained with: saved beside it, else the run's Hydra copy.

    Read as untrusted data: only gantrain's own `_target_`s pass (gantrain.run_dir_config).
    """
    from gantrain.run_dir_config import load_trained_config

    return load_trained_config(run_dir, checkpoint)


def has_ema(prefix: str) -> bool:
    """True if the checkpoint holds EMA generator weights (GANState.generator_ema)."""
    import tensorflow as tf

    try:
        names = [name for name, _ in tf.train.list_variables(prefix)]
    except (tf.errors.OpError, ValueError):
        return False  # unreadable: the restore that follows reports it in one line
    return any(name.startswith(f"{EMA_KEY}/") for name in names)


def truncation_setting(cfg: DictConfig) -> tuple[float, int | None]:
    """(psi, cutoff) from a command's `truncation_psi` / `truncation_cutoff` keys, checked.

    Any finite psi is accepted, as the reference's generate.py and MappingNetwork do (psi > 1
    exaggerates, psi < 0 mirrors through w_avg); cutoff is a count of leading ws, or null.
    """
    psi, cutoff = cfg.truncation_psi, cfg.truncation_cutoff
    if isinstance(psi, bool) or not isinstance(psi, int | float) or not math.isfinite(psi):
        raise ConfigError(
            f"truncation_psi={psi}: must be a finite number (1 = no truncation; 0.5 to 0.7 "
            "are usual)."
        )
    if cutoff is not None and (isinstance(cutoff, bool) or not isinstance(cutoff, int)):
        raise ConfigError(f"truncation_cutoff={cutoff}: must be a whole number >= 1, or null.")
    if cutoff is not None and cutoff < 1:
        raise ConfigError(
            f"truncation_cutoff={cutoff}: must be >= 1 (how many of the first ws to truncate), "
            "or null for all of them."
        )
    return float(psi), cutoff


def load_sampler(
    run_dir: str,
    checkpoint: str | None = None,
    *,
    ema: bool = True,
    truncation: tuple[float, int | None] | None = None,
) -> tuple[Sampler, DatasetSpec, str]:
    """(sampler, spec, checkpoint prefix) for a run's latest or given checkpoint.

    ema=True draws from the EMA generator's weights when the checkpoint has them (they give
    better samples than the raw weights); ema=False, or a run trained without EMA, from the
    generator itself.

    truncation=(psi, cutoff) sets the truncation of the sampler's private copy (StyleGAN2's
    mapping network; psi 1 = off, whatever the run's generator.truncation_psi); a psi other
    than 1 for a generator without a mapping network is a ConfigError. None leaves the copy
    as the checkpointed generator is.
    """
    import tensorflow as tf

    from gantrain.checkpointing import find_checkpoint, restore_into
    from gantrain.config import load_run_config
    from gantrain.training.build import build_generator, build_sampler
    from gantrain.training.sampling import truncation_mapping

    prefix = find_checkpoint(run_checkpoint(run_dir, checkpoint))
    run = load_run_config(trained_config(Path(run_dir), prefix))
    spec = run.dataset.spec()
    generator = build_generator(run, spec)
    _check_truncatable(run, generator, truncation)
    key = EMA_KEY if ema and has_ema(prefix) else "generator"
    restore_into(tf.train.Checkpoint(**{key: generator}), prefix, complete=False)
    log.debug("sampling %s weights of %s", key, prefix)
    sampler = build_sampler(run, spec, generator)
    sampler.refresh()
    if truncation is not None and truncation_mapping(sampler.model) is not None:
        sampler.set_truncation(*truncation)
    return sampler, spec, prefix


def _check_truncatable(
    run: RunConfig, generator: keras.Model, truncation: tuple[float, int | None] | None
) -> None:
    """One-line ConfigError when truncation is asked of a generator that cannot truncate."""
    from gantrain.training.sampling import truncation_mapping

    if truncation is None or truncation[0] == 1.0 or truncation_mapping(generator) is not None:
        return  # psi 1 truncates nothing, so any generator takes it (a cutoff has no effect)
    from gantrain.logging.hparams import choices_from_targets

    name = choices_from_targets({"generator": run.raw.generator}).get("generator", "?")
    raise ConfigError(
        f"truncation_psi={truncation[0]:g}: generator={name} has no mapping network to "
        "truncate; truncation needs generator=stylegan2"
    )


@dataclass
class Plan:
    """What to draw: latents (N, latent_dim), labels (N,) or None, and how to lay out a
    picture of them: `columns` (0: square-ish) and `order` (picture position -> image)."""

    latents: np.ndarray
    labels: np.ndarray | None
    columns: int = 0
    order: np.ndarray | None = None


def plan(cfg: DictConfig, latent_dim: int, num_classes: int) -> Plan:
    """The latents and labels of the chosen mode (see configs/sample.yaml)."""
    from gantrain import generation as gen

    truncation = cfg.truncation
    if cfg.mode == "interpolate":
        keys = gen.seed_latents(cfg.seeds, latent_dim, truncation)
        z = gen.interpolation_path(keys, cfg.steps)
        labels = None
        if num_classes:
            cycle = gen.label_cycle(0 if cfg.labels is None else cfg.labels, num_classes)
            if len(cycle) != 1:
                raise ConfigError(f"labels={cfg.labels}: interpolate takes one class (labels=3).")
            labels = np.full(len(z), cycle[0], np.int32)
        return Plan(z, labels, columns=len(z))
    if cfg.mode == "classes":
        if not num_classes:
            raise ConfigError("mode=classes: this run's generator is unconditional.")
        row = gen.draw_latents(cfg.seed, cfg.per_class, latent_dim, truncation)
        z, labels = gen.class_grid(row, gen.label_cycle(cfg.labels, num_classes))
        return Plan(z, labels, columns=cfg.per_class)
    z = gen.draw_latents(cfg.seed, cfg.num_samples, latent_dim, truncation)
    cycle = gen.label_cycle(cfg.labels, num_classes)
    if cycle is None:
        return Plan(z, None)
    labels = np.resize(np.asarray(cycle, np.int32), len(z))
    if len(cycle) == 1:
        return Plan(z, labels)
    # Sample i has class cycle[i % k]; the picture puts one cycle position per row.
    order = np.argsort(np.arange(len(z)) % len(cycle), kind="stable")
    return Plan(z, labels, columns=-(-len(z) // len(cycle)), order=order)


def _check(cfg: DictConfig) -> Path:
    output = Path(cfg.output)
    if cfg.mode not in MODES:
        raise ConfigError(f"mode={cfg.mode}: must be one of {', '.join(MODES)}.")
    for key in ("num_samples", "per_class", "batch_size", "frame_ms"):
        if cfg[key] <= 0:
            raise ConfigError(f"{key}={cfg[key]}: must be a positive number.")
    if output.suffix == ".gif" and cfg.mode != "interpolate":
        raise ConfigError(f"output={output}: a .gif is an interpolation; add mode=interpolate.")
    if output.suffix not in ("", ".npz", ".png", ".gif"):
        raise ConfigError(
            f"output={output}: use .npz (arrays), .png (a grid), .gif (an interpolation) or a "
            "folder (one PNG per image)."
        )
    if output.suffix and output.is_dir():
        raise ConfigError(f"output={output} is a folder; give a file name, or a folder name.")
    if not output.suffix and output.exists() and not output.is_dir():
        raise ConfigError(f"output={output} is a file; a folder output needs a new name.")
    taken = [p for p in _outputs(output, grid=cfg.grid) if p.exists()]
    if taken and not cfg.overwrite:
        what = "the folder already holds files" if not output.suffix else f"{taken[0]} exists"
        raise ConfigError(
            f"output={output}: {what}; pass overwrite=true to replace, or pick another output=."
        )
    return output


def _outputs(output: Path, *, grid: bool) -> list[Path]:
    """The paths `write` would replace (for a folder: the folder, if it holds anything)."""
    if not output.suffix:
        return [output] if output.is_dir() and any(output.iterdir()) else []
    if output.suffix == ".npz" and grid:
        return [output, output.with_suffix(".png")]
    return [output]


def write(
    output: Path,
    images: np.ndarray,
    drawn: Plan,
    *,
    grid: bool,
    frame_ms: int,
    truncation: dict[str, float | int | None] | None = None,
) -> list[Path]:
    """Write images float32 (N, H, W, C) in [-1, 1] as `output` asks; returns the files.

    `truncation` ({"psi", "cutoff"}, Sampler.truncation_used) goes into an .npz as the scalars
    `truncation_psi` and, when not null, `truncation_cutoff`, so `eval images=` can record it.
    """
    from gantrain.logging.images import make_grid, save_gif, save_png, to_uint8

    latents, labels = drawn.latents, drawn.labels
    in_order = images if drawn.order is None else images[drawn.order]
    picture = make_grid(in_order, columns=drawn.columns or None)
    written = []
    if output.suffix == ".npz":
        from gantrain.atomic import atomic_writer

        output.parent.mkdir(parents=True, exist_ok=True)
        extra = {} if labels is None else {"labels": labels}
        if truncation is not None:
            extra["truncation_psi"] = np.float32(truncation["psi"])
            if truncation["cutoff"] is not None:
                extra["truncation_cutoff"] = np.int32(truncation["cutoff"])
        with atomic_writer(output, "wb") as file:  # a full disk leaves no half archive
            np.savez(file, images=images, latents=latents, **extra)
        written.append(output)
        if grid:
            written.append(save_png(picture, output.with_suffix(".png")))
    elif output.suffix == ".png":
        written.append(save_png(picture, output))
    elif output.suffix == ".gif":
        frames = [make_grid(image[None], padding=0) for image in images]
        written.append(save_gif(frames, output, frame_ms=frame_ms))
    else:
        pixels = to_uint8(images)
        for index, image in enumerate(pixels):
            suffix = "" if labels is None else f"_class{int(labels[index])}"
            written.append(save_png(image, output / f"{index:06d}{suffix}.png"))
        if grid:
            written.append(save_png(picture, output / "grid.png"))
    return written


@hydra.main(config_path=CONFIG_PATH, config_name="sample", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    output = _check(cfg)
    truncation = truncation_setting(cfg)
    sampler, _, prefix = load_sampler(
        cfg.run_dir, cfg.checkpoint, ema=cfg.ema, truncation=truncation
    )
    drawn = plan(cfg, sampler.latent_dim, sampler.num_classes)
    images = sampler.generate(drawn.latents, drawn.labels, batch_size=cfg.batch_size)
    used = sampler.truncation_used()
    cutoff = "all ws" if used["cutoff"] is None else used["cutoff"]
    fix = "free some space or pick another output=; no file was left half-written"
    with writing(output, fix):
        written = write(
            output, images, drawn, grid=cfg.grid, frame_ms=cfg.frame_ms, truncation=used
        )
    log.info(
        "wrote %d %s image(s) from %s to %s%s",
        len(images),
        cfg.mode,
        prefix,
        written[0] if len(written) == 1 else f"{output} ({len(written)} files)",
        "" if used["psi"] == 1.0 else f" (truncation psi {used['psi']:g}, cutoff {cutoff})",
    )
