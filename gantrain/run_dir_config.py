"""Reading the config a run dir was trained with, treating it as data from a stranger.

A run dir may have been downloaded. Its `checkpoints/config.yaml` (or `.hydra/config.yaml`)
names `_target_`s that `sample`, `export` and `eval run_dir=` import and call to rebuild the
models, so an unchecked `_target_: os.system` would run code. Every command that rebuilds
anything from a run dir's config reads it through `load_trained_config`, which
- parses the YAML with a safe loader (OmegaConf's: a SafeLoader; a Python tag such as
  `!!python/object/apply:os.system` is an error, never a call), and
- accepts only `_target_`s gantrain itself ships: the ones its packaged configs (the group
  options: every architecture, loss, optimizer, dataset, strategy, evaluator) name, plus the
  evaluators installed packages declare (code the user installed, not code a file brought).

Anything else is a one-line ConfigError naming the key. Your own builders (trained with
`generator._target_=my_package.build`) are accepted when you say so on your machine:
`GANTRAIN_TRUSTED_TARGETS=my_package.` (comma-separated prefixes of dotted paths).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gantrain.errors import ConfigError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

TRUST_ENV = "GANTRAIN_TRUSTED_TARGETS"
HYDRA_CONFIG = Path(".hydra") / "config.yaml"


def _yaml_files(folder: Traversable) -> Iterator[Traversable]:
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _yaml_files(entry)
        elif entry.name.endswith(".yaml"):
            yield entry


def _targets_in(value: Any) -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every `_target_` in a plain container, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "_target_":
                yield "_target_", item
            else:
                for where, target in _targets_in(item):
                    yield f"{key}.{where}", target
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for where, target in _targets_in(item):
                yield f"{index}.{where}", target


@functools.cache
def packaged_targets() -> frozenset[str]:
    """Every `_target_` the packaged configs (gantrain.configs) name."""
    found = set()
    for file in _yaml_files(resources.files("gantrain.configs")):
        for _, target in _targets_in(yaml.safe_load(file.read_text(encoding="utf-8"))):
            if isinstance(target, str):
                found.add(target)
    return frozenset(found)


def _plugin_targets() -> set[str]:
    from gantrain.eval.discovery import plugins

    try:
        return {plugin.target for plugin in plugins().values()}
    except ConfigError:
        return set()  # two packages claim one name: `eval` reports that itself


def _trusted_prefixes() -> list[str]:
    return [p.strip() for p in os.environ.get(TRUST_ENV, "").split(",") if p.strip()]


def is_allowed_target(target: str) -> bool:
    """True if a run dir's config may name `target` (see the module docstring)."""
    if target in packaged_targets() or target in _plugin_targets():
        return True
    return any(target == p or target.startswith(p) for p in _trusted_prefixes())


def check_targets(cfg: DictConfig, source: str | os.PathLike) -> None:
    """Raise ConfigError unless every `_target_` in `cfg` (read from `source`) is allowed."""
    try:
        values = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException:
        # An interpolation that only resolves inside Hydra: judge the raw strings (a target
        # that is an interpolation is refused below, since it is not a plain dotted path).
        values = OmegaConf.to_container(cfg, resolve=False)
    for where, target in _targets_in(values):
        if isinstance(target, str) and is_allowed_target(target):
            continue
        raise ConfigError(
            f"{source}: {where}={target!r} is not one of gantrain's own builders; a run dir's "
            "config may only name gantrain's architectures, losses, optimizers, datasets and "
            "strategies, since a run dir may come from someone else and its targets run as "
            f"code. If it is your own code, trust it with {TRUST_ENV}=<module prefix>."
        )


def read_config_file(path: str | os.PathLike) -> DictConfig:
    """A YAML mapping as a DictConfig, parsed safely; ConfigError (one line) if it is not."""
    path = Path(path)
    try:
        cfg = OmegaConf.load(path)
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())[:200]
        raise ConfigError(
            f"{path}: not a plain YAML config ({type(error).__name__}: {detail}); gantrain "
            "reads run dir configs as data only (no Python tags)."
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read ({error}).") from error
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{path}: expected a YAML mapping (a training config), found a list.")
    return cfg


def load_trained_config(run_dir: str | os.PathLike, checkpoint: str | os.PathLike) -> DictConfig:
    """The checked config a checkpoint was trained with: `config.yaml` beside it, else the
    run dir's `.hydra/config.yaml`. Raises ConfigError for a config that names code gantrain
    does not ship (see the module docstring) or that is not plain YAML."""
    from gantrain.checkpointing import CONFIG_FILE

    run_dir = Path(run_dir)
    for path in (Path(checkpoint).parent / CONFIG_FILE, run_dir / HYDRA_CONFIG):
        if path.exists():
            cfg = read_config_file(path)
            check_targets(cfg, path)
            return cfg
    raise ConfigError(
        f"run_dir={run_dir}: no config found beside {checkpoint} nor in {run_dir}/.hydra; "
        "is it a gantrain training run dir?"
    )
