"""`python -m gantrain export run_dir=DIR output=PATH [format=savedmodel|keras]`: the generator
as a TensorFlow SavedModel folder or a `.keras` file."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gantrain.errors import ConfigError
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, user_errors

log = logging.getLogger("gantrain")

FORMATS = ("savedmodel", "keras")


@hydra.main(config_path=CONFIG_PATH, config_name="export", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    from gantrain import __version__
    from gantrain.checkpointing import checkpoint_step
    from gantrain.export import export_generator
    from gantrain.tasks.sample import has_ema, load_sampler

    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format}: use one of {', '.join(FORMATS)}.")
    sampler, spec, prefix = load_sampler(cfg.run_dir, cfg.checkpoint, ema=cfg.ema)
    metadata = {
        "run_dir": str(Path(cfg.run_dir).resolve()),
        "checkpoint": str(Path(prefix).resolve()),
        "step": checkpoint_step(prefix),
        "ema": bool(cfg.ema and has_ema(prefix)),
        "dataset": spec.name,
        "gantrain": __version__,
    }
    inputs = "latent, label" if sampler.num_classes else "latent"
    if cfg.format == "keras":
        from gantrain.models.saving import save_generator

        path = save_generator(sampler.model, cfg.output, metadata)
        log.info(
            "saved the generator of %s to %s (Keras: %s -> images %s in [-1, 1]; load with "
            "keras.saving.load_model(path, safe_mode=True) after import gantrain.models.saving)",
            prefix,
            path,
            inputs,
            tuple(spec.image_shape),
        )
        return
    path = export_generator(sampler, cfg.output, metadata)
    log.info(
        "exported the generator of %s to %s (serving_default: %s -> images %s in [-1, 1])",
        prefix,
        path,
        inputs,
        tuple(spec.image_shape),
    )
