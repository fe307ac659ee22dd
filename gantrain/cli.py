"""`gantrain <command> [hydra overrides]`: pop the subcommand, hand the rest to Hydra.

Hydra would read `train` in `python -m gantrain train ...` as an override (hydra#2404), so the
subcommand is taken off `sys.argv` before the command's `@hydra.main` runs.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from importlib import resources

# command -> (module with a Hydra `main`, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("gantrain.tasks.train", "train a GAN (writes a run dir under outputs/)"),
    "sample": ("gantrain.tasks.sample", "draw images from a trained run into .npz or a .png grid"),
    "eval": ("gantrain.tasks.evaluate", "score a run or an .npz of samples (FID, KID, IS, ...)"),
    "list-plugins": ("gantrain.tasks.list_plugins", "list installed evaluators and eval configs"),
    "detect": ("gantrain.tasks.detect", "YOLOv3 object detection on an image or a folder"),
    "classify": ("gantrain.tasks.classify", "ImageNet top-k classes (ResNet-50) of images"),
    "report": (
        "gantrain.tasks.report",
        "tables and curves of a run or a sweep (report.md/.csv/.png)",
    ),
    "export": ("gantrain.tasks.export", "write a run's generator as a TensorFlow SavedModel"),
    "prepare": (
        "gantrain.tasks.prepare",
        "images (folder, zip, StyleGAN dataset) -> a prepared dataset for dataset=prepared",
    ),
}

# Nested commands: `gantrain eval train-classifier ...` -> (module, description).
SUBCOMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "eval": {
        "train-classifier": (
            "gantrain.tasks.train_classifier",
            "train a domain classifier (MNIST-like feature extractor)",
        ),
        "export-stats": (
            "gantrain.tasks.export_stats",
            "write the real data's mu/sigma .npz (TTUR / pytorch-fid layout)",
        ),
    },
}

# Commands whose first bare argument (no `=`) is a path: `gantrain report DIR`.
POSITIONAL = {"report": "dir"}
# Commands that never touch TensorFlow: no need to pay for importing it.
WITHOUT_TENSORFLOW = {"report", "prepare"}

USAGE = """usage: gantrain <command> [overrides] [--help] [--cfg job] [-m]

Commands:
{commands}

Each command is a Hydra app: `gantrain <command> --help` lists its config groups and options,
`--cfg job` prints the composed config, `-m` runs a sweep. Examples:
  python -m gantrain train dataset=mnist
  python -m gantrain train trainer.max_steps=2000 optimizer.generator.lr=1e-4
  python -m gantrain sample run_dir=outputs/train/<run> num_samples=64 output=samples.png
  python -m gantrain eval run_dir=outputs/train/<run> eval=[fid,kid,is,pr]
  python -m gantrain report outputs/multirun/<date_time>
"""


def usage() -> str:
    rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
    for command, nested in SUBCOMMANDS.items():
        rows += [(f"{command} {name}", help_) for name, (_, help_) in nested.items()]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name:<{width}}  {help_}" for name, help_ in rows]
    return USAGE.format(commands="\n".join(lines))


def config_groups() -> dict[str, list[str]]:
    """Config groups shipped with gantrain and their options (YAML file stems)."""
    root = resources.files("gantrain.configs")
    groups: dict[str, list[str]] = {}
    for entry in root.iterdir():
        if entry.is_dir() and not entry.name.startswith(("_", ".")) and entry.name != "hydra":
            groups[entry.name] = sorted(
                f.name[: -len(".yaml")] for f in entry.iterdir() if f.name.endswith(".yaml")
            )
    return groups


def check_group_choices(args: list[str]) -> str | None:
    """One-line error for `group=option` overrides naming an option gantrain does not have.

    Hydra would report it too, in several lines plus its search path; this says it in one
    and lists the valid options. Overrides this cannot judge (sweeps, extra search paths,
    nested keys) are left to Hydra.
    """
    if any(arg.startswith(("hydra.searchpath", "--config-dir", "-cd")) for arg in args):
        return None  # the user's own config folders may add options
    groups = config_groups()
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        group = key.lstrip("+~").split("@", 1)[0]
        if group not in groups or "." in group or value in ("null", ""):
            continue
        if any(c in value for c in ",[]()*?{}$") or value.startswith(("choice", "range")):
            continue
        if value not in groups[group]:
            valid = ", ".join(groups[group]) or "none"
            return f"gantrain: unknown {group} '{value}'; valid options: {valid}."
    return None


def quote_value(value: str) -> str:
    """A path as a Hydra override value: quoted when Hydra's grammar would misread it."""
    if re.fullmatch(r"[\w./\\:~+@%-]+", value):
        return value
    return "'" + value.replace("'", "\\'") + "'"


def main(argv: list[str] | None = None) -> int:
    """Entry point of `gantrain` and `python -m gantrain`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] == "--version":
        from gantrain import __version__

        print(f"gantrain {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command in POSITIONAL and rest and "=" not in rest[0] and not rest[0].startswith("-"):
        rest = [f"{POSITIONAL[command]}={quote_value(rest[0])}", *rest[1:]]
    if command not in COMMANDS:
        print(
            f"gantrain: unknown command '{command}'; valid commands: {', '.join(COMMANDS)}. "
            "Run `gantrain --help` for usage.",
            file=sys.stderr,
        )
        return 2
    module_name = COMMANDS[command][0]
    nested = SUBCOMMANDS.get(command, {})
    if nested and rest and rest[0] in nested:
        module_name = nested[rest[0]][0]
        command, rest = f"{command} {rest[0]}", rest[1:]
    elif nested and rest and "=" not in rest[0] and not rest[0].startswith("-"):
        print(
            f"gantrain: unknown {command} subcommand '{rest[0]}'; valid: {', '.join(nested)} "
            f"(or overrides such as run_dir=DIR).",
            file=sys.stderr,
        )
        return 2
    problem = check_group_choices(rest)
    if not problem:
        from gantrain.overrides import check_overrides

        problem = check_overrides(command, rest)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    quick = any(arg in ("--help", "-h", "--hydra-help") or arg.startswith("--cfg") for arg in rest)
    if any(arg in ("--help", "-h") for arg in rest):
        # gantrain's help (configs/hydra/help/gantrain.yaml): each group and key of this
        # command, described by the comments of its YAML files.
        rest = with_override(rest, "hydra/help=gantrain")
    if not quick and command not in WITHOUT_TENSORFLOW:
        from gantrain.tfimport import import_tensorflow_quietly

        import_tensorflow_quietly()
    # Hydra reads its overrides from sys.argv[1:] and names the app after sys.argv[0].
    sys.argv = [f"gantrain {command}", *rest]
    try:
        importlib.import_module(module_name).main()
    except BrokenPipeError:
        # `gantrain train --help | head`: the reader left; stop quietly, as `cat` would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a process killed by it
    return 0


# Hydra's flags that take a value (`--config-dir DIR`), as its argparse parser declares them.
_VALUE_FLAGS = {
    "--config-dir",
    "-cd",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--package",
    "-p",
    "--cfg",
    "-c",
    "--experimental-rerun",
}


def with_override(args: list[str], override: str) -> list[str]:
    """`args` with one more override, kept together with the others: Hydra's argparse takes
    the overrides as one positional run, so they cannot be split by a flag."""
    flags, overrides = [], []
    rest = iter(args)
    for arg in rest:
        if arg.startswith("-"):
            flags.append(arg)
            if arg in _VALUE_FLAGS:
                flags.append(next(rest, ""))
        else:
            overrides.append(arg)
    return [*flags, override, *overrides]
