"""Checkpoint files under faults: damaged files, full disks, a crash at any point of a save."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from gantrain import checkpoint_files as files
from gantrain.checkpointing import (
    Checkpoints,
    ensure_writable,
    find_checkpoint,
    latest_checkpoint,
    resolve_resume,
)
from gantrain.errors import CheckpointError


def _checkpoints(run_dir: Path, keep: int = 3) -> tuple[Checkpoints, tf.Variable, tf.Variable]:
    step = tf.Variable(0, dtype=tf.int64)
    weights = tf.Variable(np.zeros(5000, np.float32))
    checkpoint = tf.train.Checkpoint(step=step, weights=weights)
    return Checkpoints(checkpoint, run_dir, step=step, max_to_keep=keep), step, weights


def _save_at(checkpoints: Checkpoints, step: tf.Variable, *steps: int) -> list[str]:
    saved = []
    for value in steps:
        step.assign(value)
        saved.append(checkpoints.save())
    return saved


def _truncate_data(prefix: str) -> None:
    data = next(Path(prefix).parent.glob(f"{Path(prefix).name}.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_saves_keep_the_newest_and_record_them(tmp_path: Path) -> None:
    checkpoints, step, _ = _checkpoints(tmp_path, keep=2)
    saved = _save_at(checkpoints, step, 2, 4, 6)
    directory = tmp_path / "checkpoints"
    assert _names(directory) == [
        "checkpoint",
        "ckpt-4.data-00000-of-00001",
        "ckpt-4.index",
        "ckpt-6.data-00000-of-00001",
        "ckpt-6.index",
    ]
    assert files.read_state(directory) == files.State(saved[2], (saved[1], saved[2]))
    # TensorFlow's own reader agrees on the latest one.
    assert tf.train.latest_checkpoint(str(directory)) == saved[2]
    assert latest_checkpoint(directory) == saved[2]


@pytest.mark.parametrize("damage", ["truncated data", "missing index", "missing data"])
def test_a_damaged_latest_falls_back_to_the_previous_with_a_warning(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoints, step, _ = _checkpoints(tmp_path)
    older, newest = _save_at(checkpoints, step, 2, 4)
    if damage == "truncated data":
        _truncate_data(newest)
    elif damage == "missing index":
        Path(f"{newest}.index").unlink()
    else:
        next(Path(newest).parent.glob("ckpt-4.data-*")).unlink()
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        assert resolve_resume("auto", tmp_path) == older
    assert f"skipping damaged checkpoint {newest}" in caplog.text
    assert "using ckpt-2 instead" in caplog.text
    assert find_checkpoint(tmp_path) == older  # what `sample run_dir=...` uses


def test_no_readable_checkpoint_lists_what_was_found(tmp_path: Path) -> None:
    checkpoints, step, _ = _checkpoints(tmp_path)
    older, newest = _save_at(checkpoints, step, 2, 4)
    _truncate_data(newest)
    Path(f"{older}.index").unlink()
    with pytest.raises(CheckpointError) as info:
        resolve_resume("auto", tmp_path)
    message = str(info.value)
    assert "no readable checkpoint in" in message and "\n" not in message
    assert "ckpt-4: IndexError" in message or "ckpt-4: DataLossError" in message
    assert "ckpt-2: no ckpt-2.index (only ckpt-2.data-00000-of-00001)" in message


def test_an_explicitly_named_damaged_checkpoint_is_an_error(tmp_path: Path) -> None:
    checkpoints, step, _ = _checkpoints(tmp_path)
    (newest,) = _save_at(checkpoints, step, 2)
    _truncate_data(newest)
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*ckpt-2 .*damaged"):
        resolve_resume(newest, tmp_path / "other")


def test_checkpoints_written_before_the_state_file_are_still_found(tmp_path: Path) -> None:
    checkpoints, step, _ = _checkpoints(tmp_path)
    _, newest = _save_at(checkpoints, step, 2, 4)
    (tmp_path / "checkpoints" / "checkpoint").unlink()
    assert latest_checkpoint(tmp_path / "checkpoints") == newest


def _fail_write(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Make the next checkpoint write leave a short data file behind and fail with `error`."""

    def write(self, prefix, options=None):
        Path(f"{prefix}.data-00000-of-00001").write_bytes(b"\0" * 100)
        raise error

    monkeypatch.setattr(tf.train.Checkpoint, "write", write)


@pytest.mark.parametrize(
    "error",
    [
        tf.errors.ResourceExhaustedError(None, None, "No space left on device"),
        tf.errors.PermissionDeniedError(None, None, "Read-only file system"),
        OSError(28, "No space left on device"),
    ],
    ids=["disk full", "read-only", "disk full (OSError)"],
)
def test_a_failed_write_is_one_clear_line_and_keeps_the_latest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    checkpoints, step, _ = _checkpoints(tmp_path)
    (good,) = _save_at(checkpoints, step, 2)
    before = _names(tmp_path / "checkpoints")
    _fail_write(monkeypatch, error)
    step.assign(4)
    with pytest.raises(CheckpointError) as info:
        checkpoints.save()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot save checkpoint {tmp_path / 'checkpoints' / 'ckpt-4'}")
    assert f"the latest checkpoint is still {good}" in message
    assert "is writable and its disk has space" in message
    assert _names(tmp_path / "checkpoints") == before  # no partial file left, nothing recorded
    assert latest_checkpoint(tmp_path / "checkpoints") == good


def test_a_write_that_does_not_read_back_is_never_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints, step, _ = _checkpoints(tmp_path)
    (good,) = _save_at(checkpoints, step, 2)
    real_write = tf.train.Checkpoint.write

    def short_write(self, prefix, options=None):  # a file system that loses the tail silently
        path = real_write(self, prefix, options=options)
        _truncate_data(path)
        return path

    monkeypatch.setattr(tf.train.Checkpoint, "write", short_write)
    step.assign(4)
    with pytest.raises(CheckpointError, match="do not read back"):
        checkpoints.save()
    assert latest_checkpoint(tmp_path / "checkpoints") == good
    assert not list((tmp_path / "checkpoints").glob("*ckpt-4*"))


class _Killed(BaseException):
    """The process dying at this point: nothing after it runs, no cleanup either."""


def _save_killed_after(
    checkpoints: Checkpoints, monkeypatch: pytest.MonkeyPatch, operations: int
) -> bool:
    """Save, dying at the file operation after the first `operations`; True if it finished."""
    real = {name: getattr(os, name) for name in ("replace", "unlink", "rename")}
    calls = 0

    def counting(name: str, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls > operations:
            raise _Killed
        return real[name](*args, **kwargs)

    for name in real:
        monkeypatch.setattr(os, name, lambda *a, _n=name, **k: counting(_n, *a, **k))
    try:
        checkpoints.save()
        return True
    except _Killed:
        return False
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("resave", [False, True], ids=["new step", "same step again"])
def test_a_crash_at_any_point_of_a_save_leaves_a_readable_latest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resave: bool
) -> None:
    """Kill the save at its k-th file operation, for every k: the latest stays readable.

    `same step again`: the run resumed from ckpt-2 and saves ckpt-4 over files an abandoned
    trajectory left (the riskiest case: the recorded latest is being replaced).
    """
    operations = 0
    while True:
        run_dir = tmp_path / f"k{operations}"
        checkpoints, step, weights = _checkpoints(run_dir, keep=2)
        _save_at(checkpoints, step, 2, 4)
        weights.assign(np.ones(5000, np.float32))
        step.assign(4 if resave else 6)
        finished = _save_killed_after(checkpoints, monkeypatch, operations)
        # The recorded latest is readable (no fallback needed), and so what resume picks.
        recorded = files.read_state(run_dir / "checkpoints").latest
        assert recorded is not None and files.problem(recorded) is None, operations
        assert latest_checkpoint(run_dir / "checkpoints") == recorded
        value = tf.train.load_checkpoint(recorded).get_tensor("weights/.ATTRIBUTES/VARIABLE_VALUE")
        # The new state, or an older one: never a mix.
        new = f"ckpt-{int(step.numpy())}"
        assert (Path(recorded).name, value[0]) in {("ckpt-2", 0), ("ckpt-4", 0), (new, 1)}
        if finished:
            assert Path(recorded).name == new
            break
        operations += 1
    assert operations >= 4  # the save has that many file operations to die between


def test_the_write_probe_leaves_other_processes_probes_alone(tmp_path: Path) -> None:
    # The workers of a multi-worker run probe the same run dir at once: each must write and
    # delete only its own probe file (a shared name made one worker's unlink fail).
    other = tmp_path / ".write-test"
    other.write_bytes(b"another worker's probe")
    ensure_writable(tmp_path)
    ensure_writable(tmp_path / "new" / "dir")
    assert other.read_bytes() == b"another worker's probe"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [".write-test"]


def test_a_lost_checkpoint_file_does_not_make_older_checkpoints_unprunable(
    tmp_path: Path,
) -> None:
    checkpoints, step, _ = _checkpoints(tmp_path, keep=3)
    _save_at(checkpoints, step, 2, 4, 6)
    (tmp_path / "checkpoints" / "checkpoint").unlink()  # lost (a copy without it, a bad disk)
    *_, newest = _save_at(checkpoints, step, 8, 10)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.index")) == [
        "ckpt-10.index",
        "ckpt-6.index",
        "ckpt-8.index",
    ]
    assert files.read_state(tmp_path / "checkpoints").latest == newest


def test_a_second_ctrl_c_during_a_save_leaves_no_partial_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints, step, _ = _checkpoints(tmp_path)
    (good,) = _save_at(checkpoints, step, 2)
    before = _names(tmp_path / "checkpoints")
    real_write = tf.train.Checkpoint.write

    def interrupted(self, prefix, options=None):
        real_write(self, prefix, options=options)
        raise KeyboardInterrupt  # the second Ctrl-C lands while the files are being checked

    monkeypatch.setattr(tf.train.Checkpoint, "write", interrupted)
    step.assign(4)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save()
    assert _names(tmp_path / "checkpoints") == before
    assert latest_checkpoint(tmp_path / "checkpoints") == good


def test_the_next_start_removes_what_an_interrupted_launch_left(tmp_path: Path) -> None:
    from gantrain.run_lock import remove_leftovers

    checkpoints, step, _ = _checkpoints(tmp_path)
    _save_at(checkpoints, step, 2)
    kept = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    directory = tmp_path / "checkpoints"
    # What a kill -9 (or a second Ctrl-C before this fix) left: a partial checkpoint of a
    # step never saved again, TensorFlow's temporary folder, half-written atomic writes.
    step.assign(7)
    checkpoints.checkpoint.write(str(directory / "partial-ckpt-7"))
    (directory / "partial-ckpt-9_temp").mkdir()
    (directory / "partial-ckpt-9_temp" / "part-00000-of-00001.index").write_bytes(b"x")
    (directory / ".checkpoint.0123abcd.tmp").write_text("half")
    (tmp_path / ".stats.jsonl.89abcdef.tmp").write_text("half")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / ".step_000002.png.deadbeef.tmp").write_bytes(b"half")
    (directory / "best").mkdir()
    (directory / "best" / "partial-ckpt-5.index").write_bytes(b"x")
    # Not gantrain's leftovers: never touched.
    (tmp_path / "notes.tmp").write_text("mine")
    (directory / "partial-notes").write_text("mine")
    removed = remove_leftovers(tmp_path)
    assert len(removed) == 7
    left = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    extra = {Path("notes.tmp"), Path("checkpoints/partial-notes"), Path("samples")}
    assert set(left) == set(kept) | extra | {Path("checkpoints/best")}
    assert latest_checkpoint(directory) == str(directory / "ckpt-2")


def test_a_state_holding_nan_or_inf_is_never_saved(tmp_path: Path) -> None:
    from gantrain.errors import NonFiniteLossError

    checkpoints, step, weights = _checkpoints(tmp_path)
    (good,) = _save_at(checkpoints, step, 2)
    before = _names(tmp_path / "checkpoints")
    for bad in (np.nan, np.inf):
        weights.assign(np.full(5000, bad, np.float32))
        step.assign(4)
        with pytest.raises(NonFiniteLossError) as info:
            checkpoints.save()
        message = str(info.value)
        assert message.startswith("step 4: the training state holds NaN/inf values (")
        assert f"the latest checkpoint is still {good}" in message and "\n" not in message
        assert _names(tmp_path / "checkpoints") == before
