"""Reading arrays from `.npz` archives safely (no pickles) with user-facing errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from gantrain.errors import DatasetError


def read_npz_arrays(
    path: Path,
    keys: tuple[str, ...],
    *,
    layout: str,
    optional: tuple[str, ...] = (),
    setting: str = "dataset.path",
) -> dict[str, np.ndarray]:
    """Read `keys` (and those of `optional` present) from the npz at `path`.

    `layout` describes the expected file and `setting` names the config key that gave the
    path, for errors. `allow_pickle=False`: a downloaded archive can never execute code on load.
    """
    if not path.exists():
        raise DatasetError(f"{setting}={path}: no such file; expected {layout}.")
    if path.is_dir():
        raise DatasetError(f"{setting}={path} is a directory; expected a file: {layout}.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise DatasetError(
                    f"{setting}={path}: the archive has no {', '.join(missing)} "
                    f"(it has {', '.join(archive.files) or 'nothing'}); expected {layout}."
                )
            return {k: archive[k] for k in (*keys, *optional) if k in archive.files}
    except DatasetError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise DatasetError(
            f"{setting}={path} is not a readable .npz archive ({type(error).__name__}: "
            f"{error}); the file may be truncated or of another format: expected {layout}."
        ) from error
