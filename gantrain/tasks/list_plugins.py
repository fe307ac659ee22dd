"""`python -m gantrain list-plugins`: installed evaluators and the shipped evaluator configs."""

from __future__ import annotations

import sys
from importlib import resources

from omegaconf import OmegaConf


def eval_configs() -> list[tuple[str, str]]:
    """(option, evaluator target) of every YAML in gantrain's `eval` config group."""
    rows = []
    root = resources.files("gantrain.configs") / "eval"
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            node = OmegaConf.create(entry.read_text(encoding="utf-8"))
            for name, evaluator in node.items():
                target = evaluator.get("_target_") or f"plugin {evaluator.get('plugin')}"
                rows.append((f"eval={entry.name[: -len('.yaml')]}", f"{name}: {target}"))
    return rows


def main() -> None:
    from gantrain.errors import GantrainError
    from gantrain.eval.discovery import GROUP, describe_plugins

    if len(sys.argv) > 1:
        print("gantrain list-plugins takes no arguments.", file=sys.stderr)
        raise SystemExit(2)
    try:
        plugins = describe_plugins()
    except GantrainError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
    print(f"Evaluators installed (entry-point group {GROUP}):")
    width = max((len(p["name"]) for p in plugins), default=0)
    for plugin in plugins:
        print(f"  {plugin['name']:<{width}}  {plugin['target']}  [{plugin['distribution']}]")
    if not plugins:
        print("  (none)")
    print("\nEvaluator configs shipped with gantrain (pick with eval=[...]):")
    for option, target in eval_configs():
        print(f"  {option:<14}  {target}")
    print(
        "\nAn installed evaluator without a config: +eval.<key>.plugin=<name> "
        "(arguments as +eval.<key>.<arg>=...)."
    )
