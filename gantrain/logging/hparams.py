"""A run's hyperparameters for TensorBoard's HParams dashboard.

Each run writes one HParams "session start" into its `tb/` folder: the flattened resolved
config (`optimizer.generator.lr`, `generator.widths`, `loss._target_`, ...). The dashboard
takes a session's metrics from the scalar tags of the same folder and shows their last value,
so the final losses (and any evaluator metric logged there, such as `fid`) sit beside the
hyperparameters. `tensorboard --logdir <multirun dir>` then shows one row per job, with the
swept keys first (the dashboard sorts the keys whose values differ to the front).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

HParamValue = bool | int | float | str


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, HParamValue]:
    """Nested mapping -> {"a.b.c": value}; lists become JSON text, None becomes "null".

    The HParams plugin takes only bool, int, float and str values.
    """
    flat: dict[str, HParamValue] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        elif value is None:
            flat[name] = "null"
        else:
            flat[name] = json.dumps(value, default=str)
    return flat


def run_hparams(config: DictConfig) -> dict[str, HParamValue]:
    """The hyperparameters of a run: its resolved config, flattened (Hydra's node left out)."""
    values = OmegaConf.to_container(config, resolve=True)
    assert isinstance(values, dict)
    values.pop("hydra", None)
    return flatten(values)
