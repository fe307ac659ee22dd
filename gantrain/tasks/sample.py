"""`python -m gantrain sample run_dir=DIR output=FILE.npz|FILE.png [num_samples=N] [seed=S]`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from gantrain.errors import ConfigError
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, user_errors

if TYPE_CHECKING:
    from gantrain.data.base import DatasetSpec
    from gantrain.training.sampling import Sampler

log = logging.getLogger("gantrain")


def trained_config(run_dir: Path, checkpoint: str) -> DictConfig:
    """The config a checkpoint was trained with: saved beside it, else the run's Hydra copy."""
    from gantrain.checkpointing import CONFIG_FILE

    for path in (Path(checkpoint).parent / CONFIG_FILE, run_dir / ".hydra" / "config.yaml"):
        if path.exists():
            return OmegaConf.load(path)
    raise ConfigError(
        f"run_dir={run_dir}: no config found beside {checkpoint} nor in {run_dir}/.hydra; "
        "is it a gantrain training run dir?"
    )


def load_sampler(run_dir: str, checkpoint: str | None = None) -> tuple[Sampler, DatasetSpec, str]:
    """(sampler, spec, checkpoint prefix) for a run's latest or given checkpoint."""
    import tensorflow as tf

    from gantrain.checkpointing import find_checkpoint, restore_into
    from gantrain.config import load_run_config
    from gantrain.training.build import build_generator, build_sampler

    prefix = find_checkpoint(checkpoint or run_dir)
    run = load_run_config(trained_config(Path(run_dir), prefix))
    spec = run.dataset.spec()
    generator = build_generator(run, spec)
    restore_into(tf.train.Checkpoint(generator=generator), prefix, complete=False)
    sampler = build_sampler(run, spec, generator)
    sampler.refresh()
    return sampler, spec, prefix


@hydra.main(config_path=CONFIG_PATH, config_name="sample", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    from gantrain.logging.images import make_grid, save_png

    output = Path(cfg.output)
    if output.suffix not in (".npz", ".png"):
        raise ConfigError(f"output={output}: must end in .npz (arrays) or .png (a grid).")
    if cfg.num_samples <= 0:
        raise ConfigError(f"num_samples={cfg.num_samples}: must be positive.")
    sampler, _, prefix = load_sampler(cfg.run_dir, cfg.checkpoint)
    latents = np.random.default_rng(cfg.seed).standard_normal(
        (cfg.num_samples, sampler.latent_dim), dtype=np.float32
    )
    images = sampler.generate(latents, batch_size=cfg.batch_size)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".npz":
        np.savez(output, images=images, latents=latents)
    else:
        save_png(make_grid(images), output)
    log.info("wrote %d samples from %s to %s", len(images), prefix, output)
