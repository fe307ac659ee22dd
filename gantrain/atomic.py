"""Atomic file writes: readers see the old file or the new one, never half of either.

Every file gantrain replaces in place (checkpoint state and config, `stats.jsonl` after a
resume, sample grids, `best.json`, reference statistics, an export's metadata) goes through
here: the data is written to a temporary file in the same directory (a rename is atomic only
within one file system), flushed and fsynced, renamed over the target with `os.replace`, and
the directory is fsynced so the rename itself survives a power loss.

Temporary files are named `.<name>.<8 hex>.tmp` (plus a suffix some writers need): unique
per writer (two processes writing the same file cannot clobber each other's temporary),
hidden, and recognizable, so `remove_stale_temporaries` can delete the ones a killed process
left behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file or a directory (its entries: renames, new files) to the disk."""
    path = Path(path)
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temporary_name(path: str | os.PathLike, suffix: str = "") -> Path:
    """A fresh temporary path beside `path` (same directory, so a rename is atomic);
    `suffix` for writers that insist on one (Keras: `.keras`)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{suffix}")


def is_temporary(name: str) -> bool:
    """True for the names `temporary_name` makes."""
    return bool(_TEMPORARY.match(name))


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8"
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on a clean exit it replaces `path` atomically.

    `mode` is "w" (text) or "wb" (bytes). If the block raises (or the process dies), `path`
    is untouched and the temporary file is removed (a kill -9 leaves it for
    `remove_stale_temporaries`).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r}: use 'w' or 'wb'")
    path = Path(path)
    tmp = temporary_name(path)
    # "x": never write through an existing file (or a symlink someone placed there).
    file = tmp.open(mode.replace("w", "x"), encoding=None if "b" in mode else encoding)
    try:
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = "") -> Iterator[Path]:
    """A temporary file name for writers that want a path, not a file object (Keras's
    `save_model`); the file written there replaces `path` atomically on a clean exit."""
    path = Path(path)
    tmp = temporary_name(path, suffix)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replace `path` by `data` atomically; returns `path`."""
    with atomic_writer(path, "wb") as file:
        file.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Replace `path` by `text` atomically; returns `path`."""
    with atomic_writer(path, "w", encoding=encoding) as file:
        file.write(text)
    return Path(path)


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files a killed writer left in `directory` (not recursive).

    Only safe while no other process writes there: the training loop calls it on the run
    dir it holds the lock of (gantrain.run_lock). Returns what was removed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for path in directory.iterdir():
        if is_temporary(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
