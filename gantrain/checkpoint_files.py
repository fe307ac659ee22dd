"""Checkpoint files on disk: which exist, which are readable, and publishing a new one safely.

A checkpoint `ckpt-<step>` is an `.index` file plus `.data-?????-of-?????` shards. The
directory's `checkpoint` file (TensorFlow's `CheckpointState` text format, so
`tf.train.latest_checkpoint` still reads it) names the latest checkpoint and the kept ones.

The rules that keep a directory usable after a crash, a kill -9 or a full disk at any moment:
- A checkpoint is written under a temporary name (`partial-ckpt-<step>`), read back in full
  (every tensor, so a short or damaged file is caught by its checksum), and only then renamed
  to `ckpt-<step>`, data shards first and the index last.
- The `checkpoint` file is replaced atomically and names only published checkpoints; a
  checkpoint is dropped from it before its files are replaced or deleted.
- Readers never trust the newest name blindly: `readable_candidates` checks each candidate,
  newest first, and reports the damaged ones.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf
from google.protobuf import text_format

from gantrain.atomic import atomic_write_text, fsync_path

log = logging.getLogger("gantrain")

STATE_FILE = "checkpoint"
PREFIX = "ckpt"
PARTIAL = "partial-"
_FILE = re.compile(rf"^{PREFIX}-(\d+)\.(index|data-\d{{5}}-of-\d{{5}})$")
# The files of an unpublished checkpoint, and TensorFlow's temporary folder of any write.
_LEFTOVER = re.compile(
    rf"^(?:{PARTIAL}{PREFIX}-\d+(?:\.index|\.data-\d{{5}}-of-\d{{5}}|_temp)|{PREFIX}-\d+_temp)$"
)


def remove_leftovers(directory: Path) -> list[Path]:
    """Delete what an interrupted save left in `directory`; returns what was removed.

    A save killed (or stopped by a second Ctrl-C) before it published leaves the files of
    `partial-ckpt-<step>` and TensorFlow's `<prefix>_temp` folder. Published checkpoints are
    never touched. Only safe while no other process saves here (the run dir's lock).
    """
    if not directory.is_dir():
        return []
    removed = []
    for path in sorted(directory.iterdir()):
        match = _LEFTOVER.match(path.name)
        if not match:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def step_of(prefix: str | os.PathLike) -> int:
    """The step a `ckpt-<step>` prefix was saved at, or -1 for another name."""
    match = re.fullmatch(rf"{PREFIX}-(\d+)", Path(prefix).name)
    return int(match.group(1)) if match else -1


def files_of(prefix: str | os.PathLike) -> list[Path]:
    """The files of checkpoint `prefix` that exist (index and data shards)."""
    prefix = Path(prefix)
    names = (f"{prefix.name}.index", f"{prefix.name}.data-")
    if not prefix.parent.is_dir():
        return []
    return sorted(p for p in prefix.parent.iterdir() if p.name.startswith(names))


def delete(prefix: str | os.PathLike) -> None:
    """Remove the files of checkpoint `prefix` (and TensorFlow's `_temp` folder of a write)."""
    for path in files_of(prefix):
        path.unlink(missing_ok=True)
    temp = Path(f"{prefix}_temp")
    if temp.is_dir():
        for path in temp.iterdir():
            path.unlink(missing_ok=True)
        temp.rmdir()


def problem(prefix: str | os.PathLike) -> str | None:
    """Why checkpoint `prefix` cannot be restored, or None when every tensor reads back.

    Reads every tensor: TensorFlow checks each one's length and CRC32C, so a truncated or
    damaged data shard is found here instead of half-way through a restore.
    """
    prefix = Path(prefix)
    if not Path(f"{prefix}.index").is_file():
        data = [p.name for p in files_of(prefix)]
        return f"no {prefix.name}.index" + (f" (only {', '.join(data)})" if data else "")
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for key in reader.get_variable_to_dtype_map():
            reader.get_tensor(key)
    except (tf.errors.OpError, IndexError, OSError, ValueError, KeyError) as error:
        first_line = (str(error).strip().splitlines() or [""])[0]
        return f"{type(error).__name__}: {first_line[:200]}"
    return None


@dataclass(frozen=True)
class State:
    """The `checkpoint` file: the latest checkpoint and every kept one, oldest first."""

    latest: str | None
    kept: tuple[str, ...]


def read_state(directory: Path) -> State:
    """The directory's `checkpoint` file as absolute prefixes (empty when missing or unreadable)."""
    if not (directory / STATE_FILE).is_file():
        return State(None, ())
    try:
        # Absolute: TensorFlow prefixes relative names with the directory it was given, and a
        # relative directory would be prefixed twice below.
        state = tf.train.get_checkpoint_state(str(Path(directory).absolute()))
    except (tf.errors.OpError, text_format.ParseError, ValueError, OSError) as error:
        # The files themselves are still found by `on_disk`.
        log.warning("ignoring %s (unreadable: %s)", directory / STATE_FILE, error)
        return State(None, ())
    if state is None:
        return State(None, ())

    def absolute(path: str) -> str:
        return path if os.path.isabs(path) else str(directory / path)

    kept = tuple(absolute(p) for p in state.all_model_checkpoint_paths)
    latest = absolute(state.model_checkpoint_path) if state.model_checkpoint_path else None
    return State(latest, kept)


def write_state(directory: Path, latest: str | None, kept: list[str]) -> None:
    """Atomically point the `checkpoint` file at `latest`, listing `kept` (relative names)."""
    lines = []
    if latest is not None:
        lines.append(f'model_checkpoint_path: "{Path(latest).name}"')
    lines += [f'all_model_checkpoint_paths: "{Path(p).name}"' for p in kept]
    atomic_write_text(directory / STATE_FILE, "\n".join(lines) + "\n")


def on_disk(directory: Path) -> list[str]:
    """Every `ckpt-<step>` prefix with at least one file in `directory`, newest step first."""
    if not directory.is_dir():
        return []
    prefixes = {
        str(directory / f"{PREFIX}-{m.group(1)}")
        for m in (_FILE.match(p.name) for p in directory.iterdir())
        if m
    }
    return sorted(prefixes, key=step_of, reverse=True)


def candidates(directory: Path) -> list[str]:
    """Checkpoints to try, best first: the recorded latest, the other recorded ones newest
    first, then any other `ckpt-<step>` files (a run killed before recording them)."""
    state = read_state(directory)
    ordered = ([state.latest] if state.latest else []) + list(reversed(state.kept))
    ordered += on_disk(directory)
    return list(dict.fromkeys(ordered))


def readable_candidates(directory: Path) -> tuple[str | None, list[tuple[str, str]]]:
    """(the first readable checkpoint of `candidates`, the (prefix, problem) of those before)."""
    bad: list[tuple[str, str]] = []
    for prefix in candidates(directory):
        trouble = problem(prefix)
        if trouble is None:
            return prefix, bad
        bad.append((prefix, trouble))
    return None, bad


def publish(partial: str, final: str) -> None:
    """Rename a verified `partial` checkpoint to `final`: data shards first, the index last,
    so `final.index` exists only once its data is in place."""
    partial_path, final_path = Path(partial), Path(final)
    delete(final)
    moves = [
        (p, final_path.with_name(final_path.name + p.name[len(partial_path.name) :]))
        for p in files_of(partial)
    ]
    moves.sort(key=lambda move: move[0].name.endswith(".index"))
    for source, target in moves:
        fsync_path(source)
        os.replace(source, target)
    fsync_path(final_path.parent)
