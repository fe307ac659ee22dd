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
import tempfile
from importlib import resources
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

_COULD_NOT_OVERRIDE = re.compile(r"Could not override '([^']+)'")


def _compose(config_name: str, overrides: list[str], *, hydra: bool = False) -> DictConfig:
    from hydra import compose, initialize_config_module

    from gantrain.tasks.common import HYDRA_VERSION_BASE

    with initialize_config_module(
        config_module="gantrain.configs", version_base=HYDRA_VERSION_BASE
    ):
        return compose(config_name=config_name, overrides=overrides, return_hydra_config=hydra)


def run_dir_problem(run_dir: Path) -> str | None:
    """Why `run_dir` cannot be created or written, judged by its nearest existing ancestor.

    Permissions alone do not tell (root may write anywhere by them, yet a pseudo-filesystem
    such as /proc refuses every new entry), so a uniquely named probe folder is created there
    and removed again; nothing of the run dir itself is created before Hydra does it.
    """
    try:
        existing = run_dir
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
    except OSError as error:  # ENAMETOOLONG from stat(): a component or the path is too long
        return error.strerror or str(error)
    if not existing.is_dir():
        return f"{existing} is not a directory"
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    too_long = [p for p in run_dir.relative_to(existing).parts if len(os.fsencode(p)) > name_max]
    if too_long:
        return f"the name {too_long[0][:40]}... is longer than the {name_max} bytes a name may have"
    try:
        probe = tempfile.mkdtemp(prefix=".gantrain-probe-", dir=existing)
        os.rmdir(probe)
    except OSError as error:
        return f"{existing} refuses new folders ({error.strerror or error})"
    return None


def missing_keys(config: DictConfig) -> list[str]:
    """The keys left at `???` (required on the command line), outside Hydra's own node."""
    found: list[str] = []
    for key in config:
        if key == "hydra":
            continue
        if OmegaConf.is_missing(config, key):
            found.append(str(key))
            continue
        node = config._get_node(key)
        if OmegaConf.is_config(node):
            try:
                found += sorted(OmegaConf.missing_keys(node))
            except OmegaConfBaseException:  # an interpolation only Hydra's run resolves
                continue
    return found


def _user_config_dirs(args: list[str]) -> tuple[list[str], list[str]] | None:
    """(overrides, user config folders) from the arguments, with `--config-dir DIR` / `-cd DIR`
    taken out; None when another flag (-m, --help, --cfg, ...) hands the run to Hydra."""
    overrides, folders = [], []
    rest = iter(args)
    for arg in rest:
        flag, _, value = arg.partition("=")
        if flag in ("--config-dir", "-cd"):
            folders.append(value or next(rest, ""))
        elif arg.startswith("-"):
            return None
        else:
            overrides.append(arg)
    return overrides, folders


def _yaml_check(command: str, overrides: list[str], folders: list[str]) -> str | None:
    """One line if a config file the run would read (the user's own, through hydra.searchpath
    or --config-dir) is not plain YAML; everything else about them is left to Hydra."""
    import yaml

    from gantrain.errors import yaml_problem

    if folders:
        paths = ",".join(f"file://{Path(f).expanduser().resolve()}" for f in folders)
        overrides = [*overrides, f"hydra.searchpath=[{paths}]"]
    try:
        _compose(command, overrides, hydra=True)
    except yaml.YAMLError as error:
        return f"gantrain: {yaml_problem(error)}"
    except Exception:  # anything else is for Hydra to report, in its own way
        return None
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
    split = _user_config_dirs(args)
    if split is None:
        return None
    overrides, folders = split
    if folders or any(a.startswith("hydra.searchpath") for a in overrides):
        return _yaml_check(command, overrides, folders)
    import yaml
    from hydra.errors import HydraException

    from gantrain.errors import yaml_problem

    try:
        config = _compose(command, overrides, hydra=True)
    except yaml.YAMLError as error:
        return f"gantrain: {yaml_problem(error)}"
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
        shown = (
            str(run_dir)
            if len(str(run_dir)) <= 160
            else f"{str(run_dir)[:80]}...{str(run_dir)[-60:]}"
        )
        return (
            f"gantrain: cannot create the run dir {shown}: {problem}; pick another hydra.run.dir."
        )
    missing = missing_keys(config)
    if missing:
        given = " ".join(f"{key}=..." for key in missing)
        return (
            f"gantrain {command}: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} required: give {given} "
            f"(`gantrain {command} --help` says what each key is)."
        )
    return None
