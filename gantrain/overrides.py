"""One-line errors for command-line overrides Hydra cannot apply (a misspelled key, say).

Hydra reports them in several lines plus its search path and exits 1. Before handing over,
the CLI composes the command's config with the same overrides; if that fails, the user gets
one line naming the key, the keys that do exist there, and how to add a new one.
"""

from __future__ import annotations

import re
from importlib import resources

from omegaconf import DictConfig, OmegaConf

_COULD_NOT_OVERRIDE = re.compile(r"Could not override '([^']+)'")


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_module

    from gantrain.tasks.common import HYDRA_VERSION_BASE

    with initialize_config_module(
        config_module="gantrain.configs", version_base=HYDRA_VERSION_BASE
    ):
        return compose(config_name=config_name, overrides=overrides)


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
        _compose(command, overrides)
    except (HydraException, OmegaConfBaseException) as error:
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
    return None
