"""Reading arrays from `.npz` archives safely (no pickles) with user-facing errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from gantrain.errors import DatasetError

NPY_MAGIC = b"\x93NUMPY"


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
    kind = _not_an_archive(path)
    if kind:
        raise DatasetError(f"{setting}={path} is not an .npz archive ({kind}); expected {layout}.")
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
    except ValueError as error:
        if "allow_pickle" not in str(error):
            raise _unreadable(path, error, layout, setting) from error
        # numpy suggests loading it with allow_pickle=True: never (a pickle can run code).
        raise DatasetError(
            f"{setting}={path} holds object (pickled) arrays, which gantrain never loads since "
            f"unpickling can run code; save plain numeric arrays (np.savez): expected {layout}."
        ) from error
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise _unreadable(path, error, layout, setting) from error


def _not_an_archive(path: Path) -> str | None:
    """What the file is instead, when its first bytes are not a zip archive's (an .npz is a
    zip file): numpy would otherwise read a `.npy` or a pickle in its place."""
    try:
        with path.open("rb") as file:
            head = file.read(len(NPY_MAGIC))
    except OSError:
        return None  # np.load reports it below
    if head.startswith(NPY_MAGIC):
        return "it is a single .npy array, as np.save writes; np.savez writes an archive"
    if not zipfile.is_zipfile(path):
        return "not even a zip file, which an .npz is: truncated, or of another format"
    return None


def _unreadable(path: Path, error: Exception, layout: str, setting: str) -> DatasetError:
    detail = " ".join(str(error).split())[:200]
    return DatasetError(
        f"{setting}={path} is not a readable .npz archive ({type(error).__name__}: {detail}); "
        f"the file may be truncated or of another format: expected {layout}."
    )
