"""Imports point one way: base modules never import the layers built on them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "gantrain"

# module (file or package under gantrain/) -> packages it must not import, at any depth
# (function-level imports too: a lazy import is still an arrow).
RULES = {
    "config.py": ("gantrain.training", "gantrain.eval"),
    "hooks.py": ("gantrain.training", "gantrain.eval"),
    "eval": ("gantrain.training",),
    "regularizers": ("gantrain.training",),
    "losses": ("gantrain.training", "gantrain.regularizers"),
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", sorted(RULES))
def test_imports_point_one_way(module: str) -> None:
    root = PACKAGE / module
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
    assert files
    wrong = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if any(name == banned or name.startswith(banned + ".") for banned in RULES[module])
    ]
    assert not wrong, wrong


def test_a_bad_augment_policy_fails_before_anything_is_built(tiny_overrides, tmp_path) -> None:
    from gantrain.config import load_run_config
    from gantrain.errors import ConfigError
    from gantrain.training.loop import train
    from tests.conftest import compose_config

    run = load_run_config(compose_config(overrides=[*tiny_overrides, "trainer.augment=[flip]"]))
    with pytest.raises(ConfigError, match="unknown augmentation flip"):
        train(run, tmp_path / "run")
    assert not (tmp_path / "run").exists()
