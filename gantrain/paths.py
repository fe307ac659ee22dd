"""Files named by config values are written inside the run dir, never beside or above it."""

from __future__ import annotations

import os
from pathlib import Path

from gantrain.errors import ConfigError


def inside_run_dir(run_dir: Path, name: str, key: str) -> Path:
    """`run_dir / name` for a file name taken from config `key`; ConfigError if it would land
    outside `run_dir` (an absolute path, `..`, a symlink out)."""
    root = Path(run_dir).resolve()
    path = (root / name).resolve()
    if not name or Path(name).is_absolute() or os.path.commonpath([root, path]) != str(root):
        raise ConfigError(
            f"{key}={name!r} would write outside the run dir {run_dir}; use a plain file name."
        )
    return root / name
