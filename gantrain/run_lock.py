"""One live process owns a run dir while it trains.

Two trainings in one run dir (the same command started twice, or a second run started while
the first trains) would interleave their stats lines and overwrite each other's checkpoints.
`RunDirLock` takes an exclusive `fcntl.flock` on `<run_dir>/.gantrain.lock`: the operating
system releases it when the process ends however it ends (kill -9 included), so a lock is
never stale, and a second start is refused in one line naming the owner (pid, host and start
time, which the owner writes into the lock file).

On a multi-worker run only the chief writes the run dir, so only the chief takes the lock;
the other workers never wait on it (the lock is never waited for: a second owner is refused
at once).

Once the lock is held, nothing else writes the run dir, so `claim_run_dir` also removes what
an earlier, interrupted launch left half-written (partial checkpoints, temporary files).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gantrain.errors import CheckpointError, GantrainError

log = logging.getLogger("gantrain")

LOCK_FILE = ".gantrain.lock"


class RunDirInUseError(GantrainError):
    """Another live process trains in this run dir."""


def _owner_text(path: Path) -> str:
    try:
        owner = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        owner = {}
    if not isinstance(owner, dict) or "pid" not in owner:
        return "another process (it has not written its pid yet)"
    return (
        f"pid {owner.get('pid')} on {owner.get('host', '?')}, started {owner.get('started', '?')}"
    )


class RunDirLock:
    """An exclusive, non-blocking lock on a run dir, held until `release` (or process exit)."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise RunDirInUseError naming the process that holds it."""
        if self._descriptor is not None:
            return
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            # Opened without truncating: the owner's details stay readable until we own it.
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise CheckpointError(
                f"cannot write into {self.run_dir} ({type(error).__name__}: "
                f"{error.strerror or error}); pick a writable hydra.run.dir or fix the "
                "directory's permissions."
            ) from error
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise RunDirInUseError(
                f"run dir {self.run_dir} is in use by {_owner_text(self.path)}; two runs in one "
                "dir would mix their checkpoints and stats. Wait for it to finish (or stop it), "
                "or pick another hydra.run.dir."
            ) from None
        except OSError as error:
            # A file system without locks (some network mounts): train, but say so.
            os.close(descriptor)
            log.warning(
                "cannot lock %s (%s); make sure no other run uses this run dir",
                self.path,
                error.strerror or error,
            )
            return
        owner: dict[str, Any] = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, (json.dumps(owner) + "\n").encode(), 0)
        self._descriptor = descriptor

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays: deleting it would let a process
        that opened it just before lock a file nobody else can see."""
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        try:
            os.ftruncate(descriptor, 0)  # no owner to name any more
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)

    def __enter__(self) -> RunDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_leftovers(run_dir: str | os.PathLike) -> list[Path]:
    """Delete what an interrupted launch of gantrain left half-written in `run_dir`.

    Partial checkpoints (a second Ctrl-C or a kill -9 while saving) and the temporary files of
    atomic writes, in the run dir, `samples/` and the checkpoint folders. Only safe while this
    process holds the run dir's lock. Returns what was removed.
    """
    from gantrain import checkpoint_files
    from gantrain.atomic import remove_stale_temporaries
    from gantrain.checkpointing import CHECKPOINT_DIR

    run_dir = Path(run_dir)
    checkpoints = run_dir / CHECKPOINT_DIR
    removed = []
    for folder in (run_dir, run_dir / "samples"):
        removed += remove_stale_temporaries(folder)
    removed += checkpoint_files.remove_leftovers(checkpoints)
    # The checkpoint folders inside (checkpoints/best), once the leftover folders are gone.
    inner = [p for p in checkpoints.iterdir() if p.is_dir()] if checkpoints.is_dir() else []
    for folder in inner:
        removed += checkpoint_files.remove_leftovers(folder)
    for folder in (checkpoints, *inner):
        removed += remove_stale_temporaries(folder)
    if removed:
        names = ", ".join(str(p.relative_to(run_dir)) for p in removed[:5])
        more = f" and {len(removed) - 5} more" if len(removed) > 5 else ""
        log.info("removed %d file(s) an interrupted launch left: %s%s", len(removed), names, more)
    return removed


@contextlib.contextmanager
def claim_run_dir(run_dir: str | os.PathLike, *, chief: bool = True) -> Iterator[None]:
    """Own `run_dir` for the block: lock it and clean up after earlier launches.

    `chief=False` (a non-chief worker of a multi-worker run, which writes nothing there) does
    neither.
    """
    if not chief:
        yield
        return
    with RunDirLock(run_dir):
        remove_leftovers(run_dir)
        yield
