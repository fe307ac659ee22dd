"""Evaluators installed by any package, found through the entry-point group
`gantrain.evaluators`.

A package makes an evaluator available by declaring, in its pyproject.toml::

    [project.entry-points."gantrain.evaluators"]
    sharpness = "my_package.sharpness:SharpnessEvaluator"

and it is then listed by `python -m gantrain list-plugins` and selected with
`+eval.sharpness.plugin=sharpness` (or a YAML node with `plugin: sharpness`).
gantrain declares its own evaluators in the same group.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any

from gantrain.errors import ConfigError

GROUP = "gantrain.evaluators"


@dataclass(frozen=True)
class Plugin:
    """One declared evaluator: its name, `module:attr` target and the distribution."""

    name: str
    value: str
    distribution: str

    @property
    def target(self) -> str:
        """The `module.attr` dotted path (the form `_target_` uses)."""
        module, _, attr = self.value.partition(":")
        return f"{module.strip()}.{attr.strip()}" if attr else module.strip()


def plugins() -> dict[str, Plugin]:
    """Installed evaluators by name (a later duplicate name is reported, not silently used)."""
    found: dict[str, Plugin] = {}
    for entry in metadata.entry_points(group=GROUP):
        dist = getattr(entry, "dist", None)
        plugin = Plugin(entry.name, entry.value, dist.name if dist is not None else "?")
        previous = found.get(entry.name)
        if previous is not None and previous.value != plugin.value:
            raise ConfigError(
                f"two installed packages declare the evaluator '{entry.name}' "
                f"({previous.distribution}: {previous.value}; {plugin.distribution}: "
                f"{plugin.value}); uninstall one of them."
            )
        found[entry.name] = plugin
    return found


def plugin_target(name: str, where: str) -> str:
    """The dotted path of the installed evaluator `name`, or a one-line error listing them."""
    available = plugins()
    if name not in available:
        names = ", ".join(sorted(available)) or "none"
        raise ConfigError(
            f"{where}.plugin={name}: no installed evaluator of that name (entry-point group "
            f"{GROUP}); installed: {names}. `python -m gantrain list-plugins` lists them."
        )
    return available[name].target


def describe_plugins() -> list[dict[str, Any]]:
    """Rows for `list-plugins`: name, target, distribution."""
    return [
        {"name": p.name, "target": p.value, "distribution": p.distribution}
        for p in sorted(plugins().values(), key=lambda p: p.name)
    ]
