"""`python -m gantrain export run_dir=DIR output=PATH`: the generator as a SavedModel."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, user_errors

log = logging.getLogger("gantrain")


@hydra.main(config_path=CONFIG_PATH, config_name="export", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    from gantrain import __version__
    from gantrain.checkpointing import checkpoint_step
    from gantrain.export import export_generator
    from gantrain.tasks.sample import has_ema, load_sampler

    sampler, spec, prefix = load_sampler(cfg.run_dir, cfg.checkpoint, ema=cfg.ema)
    metadata = {
        "run_dir": str(Path(cfg.run_dir).resolve()),
        "checkpoint": str(Path(prefix).resolve()),
        "step": checkpoint_step(prefix),
        "ema": bool(cfg.ema and has_ema(prefix)),
        "dataset": spec.name,
        "gantrain": __version__,
    }
    path = export_generator(sampler, cfg.output, metadata)
    inputs = "latent, label" if sampler.num_classes else "latent"
    log.info(
        "exported the generator of %s to %s (serving_default: %s -> images %s in [-1, 1])",
        prefix,
        path,
        inputs,
        tuple(spec.image_shape),
    )
