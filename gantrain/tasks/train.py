"""`python -m gantrain train [overrides]`: train a GAN into a Hydra run dir.

In a sweep (`-m`) every job runs inside `isolated_job`, and a job that fails with a user error
is recorded and scored as the worst objective instead of ending the sweep (see gantrain.sweeps).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from gantrain.errors import GantrainError
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, user_errors

if TYPE_CHECKING:
    from gantrain.training.loop import TrainResult

log = logging.getLogger("gantrain")


def train_in_run_dir(cfg: DictConfig) -> TrainResult:
    """Validate `cfg` and train into the run dir of the Hydra job that is running.

    The one training path of `gantrain train` and of `gantrain.train` (gantrain/api.py).
    Hydra 1.2+ does not chdir: this writes where Hydra says the run lives.
    """
    from gantrain.config import load_run_config
    from gantrain.training.loop import train

    return train(load_run_config(cfg), Path(HydraConfig.get().runtime.output_dir))


@hydra.main(config_path=CONFIG_PATH, config_name="train", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> float | None:
    """Validate the config, train, and return `objective.metric` of the final step.

    The return value is what a sweeper (Optuna) optimizes: a float, or None when the run was
    already at `trainer.max_steps`.
    """
    from gantrain.tfimport import import_tensorflow_quietly

    # A no-op under the CLI; in a launcher's worker process (joblib, submitit) this keeps
    # TensorFlow's C++ start-up notes off the console.
    import_tensorflow_quietly()
    from gantrain.sweeps import load_objective, record_failure
    from gantrain.training.isolation import isolated_job

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    objective = load_objective(cfg)
    with isolated_job():
        try:
            result = train_in_run_dir(cfg)
            if not in_sweep and objective.metric not in result.metrics:
                return None  # only sweepers read the objective; a single run has succeeded
            return objective.value(result.metrics)
        except Exception as error:
            if not in_sweep:
                raise
            record_failure(run_dir, error)
            if not isinstance(error, GantrainError):
                raise  # a bug: Hydra reports it with its traceback after the batch
            log.debug("traceback of the error below", exc_info=True)
            log.error("error: %s", error)
            log.error(
                "job %s failed; the sweep goes on (objective %s=%g)",
                hydra_cfg.job.num,
                objective.metric,
                objective.worst,
            )
            return objective.worst
