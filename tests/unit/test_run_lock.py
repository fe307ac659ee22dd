"""One live process owns a run dir: an OS lock that a kill -9 cannot leave stale."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gantrain.run_lock import LOCK_FILE, RunDirInUseError, RunDirLock, claim_run_dir
from tests.conftest import REPO

HOLD = (
    "import sys, time\n"
    "from gantrain.run_lock import RunDirLock\n"
    "RunDirLock(sys.argv[1]).acquire()\n"
    "print('held', flush=True)\n"
    "time.sleep(120)\n"
)


def hold_lock(run_dir: Path) -> subprocess.Popen:
    """Another process (no TensorFlow, so it starts at once) that owns `run_dir`."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    return process


def test_a_second_owner_is_refused_naming_the_first_and_kill_9_frees_it(tmp_path: Path) -> None:
    other = hold_lock(tmp_path)
    try:
        with pytest.raises(RunDirInUseError) as info:
            RunDirLock(tmp_path).acquire()
        message = str(info.value)
        assert "\n" not in message and info.value.exit_code == 2
        assert f"run dir {tmp_path} is in use by pid {other.pid} on {socket.gethostname()}" in (
            message
        )
        assert "started 20" in message and "pick another hydra.run.dir" in message
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=30)
    # The operating system dropped the dead process's lock: no stale lock to clean up.
    with RunDirLock(tmp_path):
        owner = json.loads((tmp_path / LOCK_FILE).read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released: no owner to name


def test_the_lock_is_exclusive_within_a_process_and_released_on_exit(tmp_path: Path) -> None:
    run_dir = tmp_path / "new" / "run"
    refused = pytest.raises(RunDirInUseError, match=f"in use by pid {os.getpid()}")
    with RunDirLock(run_dir), refused:
        RunDirLock(run_dir).acquire()
    with pytest.raises(ValueError), claim_run_dir(run_dir):  # released even when it fails
        raise ValueError
    with RunDirLock(run_dir):
        pass


def test_non_chief_workers_neither_lock_nor_wait(tmp_path: Path) -> None:
    # Multi-worker: every worker runs with the same run dir, and only the chief writes it.
    with claim_run_dir(tmp_path, chief=True), claim_run_dir(tmp_path, chief=False):
        pass


def test_an_unwritable_run_dir_is_one_line(tmp_path: Path) -> None:
    from gantrain.errors import CheckpointError

    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(CheckpointError, match="cannot write into .*file/run"):
        RunDirLock(tmp_path / "file" / "run").acquire()


def test_training_refuses_an_owned_run_dir_and_cleans_up_after_a_killed_owner(
    tiny_overrides: list[str], tmp_path: Path
) -> None:
    from gantrain.config import load_run_config
    from gantrain.training.loop import train
    from tests.conftest import compose_config

    run = load_run_config(compose_config(overrides=tiny_overrides))
    run_dir = tmp_path / "run"
    other = hold_lock(run_dir)
    try:
        with pytest.raises(RunDirInUseError, match=f"in use by pid {other.pid} "):
            train(run, run_dir)
        assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_FILE]  # nothing written
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=30)
    # What the killed owner left mid-save; the next start removes it and trains.
    checkpoints = run_dir / "checkpoints"
    checkpoints.mkdir()
    leftovers = [
        "partial-ckpt-3.index",
        "partial-ckpt-3.data-00000-of-00001",
        "partial-ckpt-3_temp",
    ]
    for name in leftovers[:2]:
        (checkpoints / name).write_bytes(b"half")
    (checkpoints / leftovers[2]).mkdir()
    assert train(run, run_dir).step == 4
    assert not [name for name in leftovers if (checkpoints / name).exists()]
    assert (checkpoints / "ckpt-4.index").exists()
