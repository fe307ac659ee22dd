"""User-facing errors.

A `GantrainError` is a mistake the user can fix (a config value, a dataset path, a
checkpoint). Its message is one line that says what is wrong and how to fix it; the
command-line entry points print that line without a stack trace and write the full
trace to the run's log file. Anything else is a bug and keeps its traceback.

Exit codes of `gantrain`: 0 done, 1 a bug (traceback), 2 a user error, 3 training diverged
(NaN/inf loss with trainer.on_nan=stop), 75 interrupted by SIGTERM/SIGINT after saving a
checkpoint (run the same command again to resume), 130 stopped at once by a second Ctrl-C
(or a Ctrl-C outside training) without saving anything new.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator


class GantrainError(Exception):
    """Base class of errors whose message is meant for the user."""

    exit_code = 2


class ConfigError(GantrainError):
    """A config value is unknown, of the wrong type or out of range."""


class DatasetError(GantrainError):
    """A dataset is missing, unreadable or not in the expected layout."""


class CheckpointError(GantrainError):
    """A checkpoint cannot be found, read or restored into the configured models."""


class NonFiniteLossError(GantrainError):
    """A loss became NaN or inf and `trainer.on_nan=stop` (training diverged)."""

    exit_code = 3


# A BaseException, like KeyboardInterrupt: an interruption is not an error, and handlers of
# `Exception` (a sweep that records failed jobs and goes on) must let it through.
class TrainingInterrupted(BaseException):
    """SIGTERM or SIGINT stopped training after a checkpoint was saved; rerun to resume."""

    # EX_TEMPFAIL of sysexits.h: a temporary failure, the same command will carry on.
    exit_code = 75


class StoppedAtOnce(TrainingInterrupted):
    """A second SIGINT (or a SIGINT outside the training loop): stopped without saving.

    What was saved before stays; an interrupted checkpoint write is never published (see
    gantrain/checkpoint_files.py), so the latest complete checkpoint is the one resumed.
    """

    # 128 + SIGINT, what a shell reports for a process Ctrl-C stopped.
    exit_code = 130


class StorageError(GantrainError):
    """A file cannot be written: the disk is full, read-only, or the path is refused."""


# OSError classes that say something about the user's disk or path, not about gantrain's code:
# they are reported in one line (the traceback still goes to the log file).
DISK_ERRNOS: dict[int, str] = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENAMETOOLONG: "file name too long",
}


def disk_problem(error: BaseException) -> str | None:
    """What is wrong with the disk or path behind `error` ("no space left on device", ...), or
    None if it is not one of DISK_ERRNOS.

    TensorFlow's file writers (checkpoints, event files) raise a `tf.errors.OpError` whose
    text carries the C library's message instead of an errno; the chained exceptions
    (`__cause__`, `__context__`) are searched too.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
            return DISK_ERRNOS[error.errno]
        text = str(error).lower()
        for reason in DISK_ERRNOS.values():
            if reason in text:
                return reason
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return None


@contextlib.contextmanager
def writing(path: str | os.PathLike, fix: str) -> Iterator[None]:
    """Turn a disk error while writing `path` into a one-line StorageError ending in `fix`
    (what to do; say there what was kept). Other errors pass unchanged."""
    try:
        yield
    except OSError as error:
        problem = disk_problem(error)
        if problem is None:
            raise
        raise StorageError(f"cannot write {path}: {problem}; {fix}") from error


def yaml_problem(error: Exception) -> str:
    """One line for a YAML file that does not parse: where, and what (a Python tag named as
    such: gantrain's loaders are safe loaders, so such a tag is refused, never run)."""
    mark = getattr(error, "problem_mark", None)
    where = f"{mark.name}, line {mark.line + 1}" if mark is not None else "a YAML file"
    problem = " ".join(str(getattr(error, "problem", None) or error).split())
    tag = re.search(r"tag:yaml\.org,2002:(python/\S+?)'", problem)
    if tag:
        return (
            f"{where}: the YAML tag !!{tag.group(1)} is not allowed: gantrain reads configs as "
            "plain data and never runs code from them (nothing was run). Remove the tag."
        )
    return f"{where}: not valid YAML ({problem})."
