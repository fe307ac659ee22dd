"""`python -m gantrain train [overrides]`: train a GAN into a Hydra run dir."""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, user_errors


@hydra.main(config_path=CONFIG_PATH, config_name="train", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> float | None:
    """Validate the config, train, and return the final generator loss (for sweepers)."""
    from gantrain.config import load_run_config
    from gantrain.training.loop import train

    run = load_run_config(cfg)
    # Hydra 1.2+ does not chdir: write where Hydra says the run lives.
    result = train(run, Path(HydraConfig.get().runtime.output_dir))
    return result.metrics.get("g_loss")
