"""One-line errors for command lines Hydra would reject with a multi-line report.

Hydra reports an override it cannot apply (a misspelled key, say) or a run dir it cannot
create in several lines plus its search path or a traceback, and exits 1. Before handing
over, the CLI composes the command's config with the same overrides; if that fails, or the
run dir cannot be created, the user gets one line naming the key (and the keys that do
exist there) or the directory.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

_COULD_NOT_OVERRIDE = re.compile(r"Could not override '([^']+)'")


def _compose(config_name: str, overrides: list[str], *, hydra: bool = False) -> DictConfig:
    from hydra import compose, initialize_config_module

    from gantrain.tasks.common import HYDRA_VERSION_BASE

    with initialize_config_module(
        config_module="gantrain.configs", version_base=HYDRA_VERSION_BASE
    ):
        return compose(config_name=config_name, overrides=overrides, return_hydra_config=hydra)


def run_dir_problem(run_dir: Path) -> str | None:
    """Why `run_dir` cannot be created or written, judged by its nearest existing ancestor."""
    existing = run_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def _nearest_keys(config_name: str, overrides: list[str], key: str) -> tuple[str, list[str]]:
    """(the deepest existing node above `key`, its keys) in the config composed with the
    other overrides (their group choices decide which keys exist)."""
    try:
        config = _compose(config_name, overrides)
    except Exception:  # the other overrides fail too: just name the bad key
        return "", []
    parent = key
    while "." in parent:
        parent = parent.rsplit(".", 1)[0]
        node = OmegaConf.select(config, parent)
        if isinstance(node, DictConfig):
            return parent, [str(k) for k in node]
    return "", []


def _sweeps_by_config(command: str, overrides: list[str]) -> bool:
    """True if the config itself asks for a multirun (`hydra.mode: MULTIRUN`, as the
    hparams_search configs do), judged from the group and hydra overrides alone."""
    from hydra.types import RunMode

    kept = [a for a in overrides if a.lstrip("+~").startswith(("hparams_search=", "hydra"))]
    try:
        config = _compose(command, kept, hydra=True)
    except Exception:
        return False
    return OmegaConf.select(config, "hydra.mode") == RunMode.MULTIRUN


def check_overrides(command: str, args: list[str]) -> str | None:
    """One-line error if `gantrain <command> <args>` would fail composing its config.

    Sweeps (-m), help and --cfg runs, and commands without a `<command>.yaml` are left to
    Hydra, which reports those in its own way.
    """
    if not resources.files("gantrain.configs").joinpath(f"{command}.yaml").is_file():
        return None
    if any(a.startswith("-") or a.startswith("hydra.searchpath") for a in args):
        return None
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = list(args)
    try:
        config = _compose(command, overrides, hydra=True)
    except (HydraException, OmegaConfBaseException) as error:
        if "requires --multirun" in str(error) and _sweeps_by_config(command, overrides):
            return None  # a sweep all the same (hparams_search=...): Hydra runs it as one
        match = _COULD_NOT_OVERRIDE.search(str(error))
        if match:
            key = match.group(1)
            others = [a for a in overrides if a.split("=", 1)[0].lstrip("+~") != key]
            parent, valid = _nearest_keys(command, others, key)
            listed = f" Valid keys of {parent}: {', '.join(valid)}." if valid else ""
            return f"gantrain: {key}: unknown key.{listed}"
        flat = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        flat = flat.split(" Config search path:")[0]
        return f"gantrain: cannot apply the overrides: {flat}"
    try:
        run_dir = Path(str(OmegaConf.select(config, "hydra.run.dir")))
    except OmegaConfBaseException:  # resolves only inside Hydra's run: leave it to Hydra
        return None
    problem = run_dir_problem(run_dir)
    if problem:
        return (
            f"gantrain: cannot create the run dir {run_dir}: {problem}; pick another hydra.run.dir."
        )
    return None
