"""`gantrain <command> --help`: what each group and key does, read from the shipped YAML.

The descriptions are the comments of the packaged configs (`configs/*.yaml` and the group
files), so the help cannot drift from them: a key documented in its YAML is documented in
`--help`. Hydra renders the text through `hydra.help.template` (configs/hydra/help/
gantrain.yaml), which calls the `gantrain.help` resolver registered here with the command's
config name; the values shown are the composed ones, so `train experiment=wgan_gp_mnist --help`
shows that recipe's settings.

What a comment documents (the style of every shipped YAML):
- `key: value  # text` and indented `# more text` lines aligned under that `#`: the key;
- `# text` lines right above a key (no blank line between): the key too, shown in full under
  it (sample.yaml's `mode`);
- the comment block that opens a file: the file (a command's usage, a group option's summary);
- `- group: option  # text` in a `defaults:` list: the group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

# Group choices shown with their options in `train --help` come from these folders.
CONFIGS = "gantrain.configs"

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[\w@/.-]+):(?P<rest>.*)$")
_DEFAULT = re.compile(r"^ +- +(?P<optional>optional +)?(?P<group>[\w@/.-]+) *:(?P<rest>.*)$")
_COMMENT = re.compile(r"^(?P<indent> *)# ?(?P<text>.*)$")


@dataclass(frozen=True)
class KeyDoc:
    """A documented YAML key: its inline comment (continuations joined) and the comment block
    right above it (lines kept)."""

    key: str
    value: str
    comment: str = ""
    above: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """One line: the inline comment, else the block above joined."""
        return self.comment or " ".join(self.above)


def _split_comment(rest: str) -> tuple[str, str, int]:
    """(value, comment, column of the `#` within `rest` or -1) of the text after `key:`."""
    match = re.search(r"(^|\s)(#)\s?", rest)
    if not match:
        return rest.strip(), "", -1
    return rest[: match.start()].strip(), rest[match.end() :].strip(), match.start(2)


@dataclass
class _Parsed:
    header: list[str]
    keys: dict[str, KeyDoc]
    groups: dict[str, KeyDoc]


def _parse(text: str) -> _Parsed:
    header: list[str] = []
    keys: dict[str, KeyDoc] = {}
    groups: dict[str, KeyDoc] = {}
    block: list[str] = []
    in_header = True
    path: list[tuple[int, str]] = []  # (indent, key) of the enclosing mappings
    last: tuple[dict[str, KeyDoc], str] | None = None  # where a continuation line goes
    comment_column = -1
    in_defaults = False
    for line in text.splitlines():
        if not line.strip():
            in_header, block, last = False, [], None
            continue
        comment = _COMMENT.match(line)
        if comment:
            text_ = comment.group("text")
            column = len(comment.group("indent"))
            if last is not None and column == comment_column and column > 0:
                table, name = last
                doc = table[name]
                table[name] = KeyDoc(
                    doc.key, doc.value, f"{doc.comment} {text_}".strip(), doc.above
                )
            elif in_header and not text_.startswith("@package"):
                header.append(text_)
            elif not text_.startswith("@package"):
                block.append(text_)
            continue
        in_header = False
        default = _DEFAULT.match(line) if in_defaults else None
        if default:
            value, note, at = _split_comment(default.group("rest"))
            name = default.group("group")
            groups[name] = KeyDoc(name, value, note, tuple(block))
            last, block = (groups, name), []
            comment_column = line.index(default.group("rest")) + at if at >= 0 else -1
            continue
        match = _KEY.match(line)
        if not match:
            block, last = [], None
            continue
        indent = len(match.group("indent"))
        while path and path[-1][0] >= indent:
            path.pop()
        name = ".".join([*(k for _, k in path), match.group("key")])
        in_defaults = name == "defaults"
        path.append((indent, match.group("key")))
        value, note, at = _split_comment(match.group("rest"))
        keys[name] = KeyDoc(name, value, note, tuple(block))
        last, block = (keys, name), []
        comment_column = len(line) - len(match.group("rest")) + at if at >= 0 else -1
    return _Parsed(header, keys, groups)


def _read(relative: str) -> str:
    return resources.files(CONFIGS).joinpath(relative).read_text(encoding="utf-8")


def key_docs(relative: str) -> dict[str, KeyDoc]:
    """Every key of a packaged YAML file (dotted for nested ones) with its comments."""
    return _parse(_read(relative)).keys


def group_docs(relative: str) -> dict[str, KeyDoc]:
    """The `defaults:` entries of a packaged YAML file: group -> its choice and comments."""
    return _parse(_read(relative)).groups


def header(relative: str) -> list[str]:
    """The comment block that opens a packaged YAML file, without its `Schema:` note."""
    lines = _parse(_read(relative)).header
    return [line for line in lines if not line.startswith("Schema:")]


def group_options(group: str) -> list[str]:
    """The options of a config group (YAML file stems in its folder)."""
    folder = resources.files(CONFIGS).joinpath(group.split("@", 1)[0])
    if not folder.is_dir():
        return []
    return sorted(f.name[: -len(".yaml")] for f in folder.iterdir() if f.name.endswith(".yaml"))


def _shown(value: Any) -> str:
    """A composed value as one would type it on the command line."""
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{...}"
    return str(value)


def _value(config: DictConfig | None, key: str, fallback: str) -> str:
    if config is None:
        return fallback
    try:
        node = OmegaConf.select(config, key, throw_on_missing=False)
    except Exception:  # an interpolation only a running job resolves (${now:...})
        return fallback
    if OmegaConf.is_missing(config, key) if "." not in key else node == "???":
        return "???"
    return _shown(node)


def _rows(rows: list[tuple[str, str]], indent: int = 2) -> list[str]:
    """`left  right` lines, the rights aligned (a left longer than the column pushes its own
    right further; the line stays one line)."""
    width = min(max((len(left) for left, _ in rows), default=0), 32)
    return [" " * indent + f"{left:<{width}}  {right}".rstrip() for left, right in rows]


def _key_section(
    title: str, docs: dict[str, KeyDoc], config: DictConfig | None, prefix: str = ""
) -> list[str]:
    """One line per documented top-level key of a file (`prefix.key=value  what it does`);
    a key with a comment block above it gets that block in full beneath."""
    shown = {
        name: doc
        for name, doc in docs.items()
        if "." not in name and name not in ("defaults", "hydra")
    }
    rows = [
        (f"{prefix}{name}={_value(config, prefix + name, d.value)}", d.comment)
        for name, d in shown.items()
    ]
    lines = [title]
    for row, doc in zip(_rows(rows), shown.values(), strict=True):
        lines.append(row)
        lines += [f"      {text}" for text in doc.above]
    return lines


def _choice(config: DictConfig | None, group: str, fallback: str) -> str:
    if config is None:
        return fallback
    choices = OmegaConf.select(config, "hydra.runtime.choices")
    if not isinstance(choices, DictConfig) or group not in choices:
        return fallback  # a list group Hydra records no single choice for (eval=[...])
    return _shown(choices[group])


def _group_section(config_file: str, config: DictConfig | None) -> list[str]:
    """One line per config group of a command's defaults list: the choice, what the group is
    (its comment there) and its options."""
    rows = []
    for group, doc in group_docs(config_file).items():
        if group.startswith(("hydra/", "override")) or group == "_self_":
            continue
        options = group_options(group)
        choice = _choice(config, group, doc.value)
        listed = f"options: {', '.join(options)}" if options else ""
        what = doc.summary.rstrip(".")
        rows.append((f"{group}={choice}", "; ".join(p for p in (what, listed) if p)))
    return ["Config groups (group=option):", *_rows(rows)]


# command -> (config file, title shown, sections of `KEY=VALUE` keys: (title, file, prefix))
_TRAIN_SECTIONS = (
    ("Trainer (the loop, its budget and intervals):", "trainer/default.yaml", "trainer."),
    ("Logging:", "logging/default.yaml", "logging."),
)


def _train_help(config: DictConfig | None) -> list[str]:
    lines = [
        "usage: python -m gantrain train [group=option ...] [key=value ...] [--cfg job] [-m]",
        "",
        *header("train.yaml"),
        "",
        *_group_section("train.yaml", config),
    ]
    for title, file, prefix in _TRAIN_SECTIONS:
        lines += ["", *_key_section(title, key_docs(file), config, prefix)]
    objective = {
        k.split(".", 1)[1]: v
        for k, v in key_docs("train.yaml").items()
        if k.startswith("objective.")
    }
    lines += [
        "",
        *_key_section("Objective (what a sweep optimizes):", objective, config, "objective."),
    ]
    lines += [
        "",
        "Each group's options take their own keys (generator.latent_dim=128, "
        "optimizer.generator.lr=1e-4);",
        "`--cfg job` prints the composed config with every key, `-m` runs a sweep over "
        "comma-separated values.",
    ]
    return lines


# Groups of the non-train commands that bring keys of their own: group -> (title, file, prefix).
_GROUP_SECTIONS = {
    "eval/settings": (
        "Evaluation protocol, shared by every evaluator:",
        "eval/settings/default.yaml",
        "eval.",
    ),
}


def _command_help(config_file: str, command: str, config: DictConfig | None) -> list[str]:
    parsed = _parse(_read(config_file))
    lines = [*parsed.header, ""]
    if parsed.groups and any(not g.startswith(("hydra/", "override")) for g in parsed.groups):
        lines += [*_group_section(config_file, config), ""]
    lines += _key_section(f"Keys of `gantrain {command}` (key=value):", parsed.keys, config)
    for group in parsed.groups:
        if group in _GROUP_SECTIONS:
            title, file, prefix = _GROUP_SECTIONS[group]
            lines += ["", *_key_section(title, key_docs(file), config, prefix)]
    lines += ["", "`--cfg job` prints the composed config."]
    return lines


def _command_name(config_name: str) -> str:
    """The CLI spelling of a command from its config name (evaluate -> eval, ...)."""
    from gantrain.cli import COMMANDS, SUBCOMMANDS

    for name, (module, _) in COMMANDS.items():
        if module.rsplit(".", 1)[1] == config_name:
            return name
    for parent, nested in SUBCOMMANDS.items():
        for name, (module, _) in nested.items():
            if module.rsplit(".", 1)[1] == config_name:
                return f"{parent} {name}"
    return config_name


def help_text(config_name: str, config: DictConfig | None = None) -> str:
    """The `--help` text of the command whose config is `config_name`.yaml; `config` is the
    composed config (its values are shown), or None for the YAML's own values."""
    if config_name == "train":
        lines = _train_help(config)
    else:
        lines = _command_help(f"{config_name}.yaml", _command_name(config_name), config)
    return "\n".join(lines).rstrip() + "\n"


def _resolver(config_name: str, *, _root_: DictConfig) -> str:
    # Hydra passes the result through string.Template ($CONFIG, ...): escape our own `$`.
    return help_text(str(config_name), _root_).replace("$", "$$")


OmegaConf.register_new_resolver("gantrain.help", _resolver, replace=True)
