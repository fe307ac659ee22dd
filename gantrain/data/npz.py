"""Reading arrays from `.npz` archives safely (no pickles) with user-facing errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from gantrain.errors import DatasetError


def read_npz_arrays(path: Path, keys: tuple[str, ...], *, layout: str) -> dict[str, np.ndarray]:
    """Read `keys` from the npz at `path`; `layout` describes the expected file for errors.

    `allow_pickle=False`: a downloaded archive can never execute code on load.
    """
    if not path.exists():
        raise DatasetError(f"dataset.path={path}: no such file; expected {layout}.")
    if path.is_dir():
        raise DatasetError(f"dataset.path={path} is a directory; expected a file: {layout}.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise DatasetError(
                    f"dataset.path={path}: the archive has no {', '.join(missing)} "
                    f"(it has {', '.join(archive.files) or 'nothing'}); expected {layout}."
                )
            return {k: archive[k] for k in keys}
    except DatasetError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise DatasetError(
            f"dataset.path={path} is not a readable .npz archive ({type(error).__name__}: "
            f"{error}); the file may be truncated or of another format: expected {layout}."
        ) from error
