"""Faults during a real (tiny) training run: NaN losses, signals, damaged checkpoints, bad dirs."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from gantrain import checkpoint_files as files
from gantrain.checkpointing import Checkpoints
from gantrain.config import load_run_config
from gantrain.errors import CheckpointError, NonFiniteLossError, TrainingInterrupted
from gantrain.logging.stats import read_jsonl
from gantrain.training.build import build_state
from gantrain.training.loop import train
from gantrain.training.step import TrainStep
from tests.conftest import compose_config

LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")


def _train(overrides: list[str], run_dir: Path, *extra: str, **trainer):
    settings = [f"trainer.{k}={v}" for k, v in trainer.items()]
    run = load_run_config(compose_config(overrides=[*overrides, *extra, *settings]))
    return train(run, run_dir)


def _nan_at(step: int, phase: str = "discriminator") -> list[str]:
    return ["loss._target_=tests.faults.nan_at_step", f"+loss.step={step}", f"+loss.phase={phase}"]


def _checkpoint_names(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").glob("ckpt-*.index"))


@pytest.mark.slow
@pytest.mark.parametrize("steps_per_loop", [1, 2])
def test_nan_stops_with_the_step_and_keeps_the_last_good_checkpoint(
    tiny_overrides, tmp_path: Path, steps_per_loop: int
) -> None:
    every = {"log_every": 2, "sample_every": 2, "checkpoint_every": 2}
    with pytest.raises(NonFiniteLossError) as info:
        # steps_per_loop=2: step 3 diverges inside the train call that runs steps 3 and 4.
        _train(
            tiny_overrides,
            tmp_path,
            *_nan_at(3),
            max_steps=6,
            steps_per_loop=steps_per_loop,
            **every,
        )
    message = str(info.value)
    assert message.startswith("step 3: a loss is NaN or inf") and "\n" not in message
    assert f"the latest checkpoint is {tmp_path / 'checkpoints' / 'ckpt-2'}" in message
    assert "trainer.on_nan=skip" in message
    assert info.value.exit_code == 3
    assert _checkpoint_names(tmp_path) == ["ckpt-2.index"]  # nothing saved after the NaN
    assert files.problem(tmp_path / "checkpoints" / "ckpt-2") is None
    assert [r["step"] for r in read_jsonl(tmp_path / "stats.jsonl")] == [2]


@pytest.mark.parametrize("phase", ["discriminator", "generator"])
@pytest.mark.parametrize("jit_compile", ["false", "true"])  # XLA restores instead of branching
def test_nan_skip_does_not_apply_that_update_and_counts_it(
    tiny_overrides, tmp_path: Path, phase: str, jit_compile: str, caplog: pytest.LogCaptureFixture
) -> None:
    every = {"log_every": 1, "sample_every": 4, "checkpoint_every": 4}
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        result = _train(
            tiny_overrides,
            tmp_path,
            *_nan_at(3, phase),
            max_steps=4,
            on_nan="skip",
            jit_compile=jit_compile,
            **every,
        )
    assert result.step == 4
    assert "step 3: skipped 1 update(s) with a NaN/inf loss (1 in this run)" in caplog.text
    records = {r["step"]: r for r in read_jsonl(tmp_path / "stats.jsonl")}
    assert [records[s]["skipped_updates"] for s in (1, 2, 3, 4)] == [0, 0, 1, 1]
    loss = "d_loss" if phase == "discriminator" else "g_loss"
    assert records[3][loss] == "nan" and np.isfinite(records[4][loss])
    state = _restored_state(tiny_overrides, tmp_path / "checkpoints" / "ckpt-4")
    applied = {"d": int(state.d_optimizer.iterations.numpy())}
    applied["g"] = int(state.g_optimizer.iterations.numpy())
    assert applied == ({"d": 3, "g": 4} if phase == "discriminator" else {"d": 4, "g": 3})
    for variable in [*state.generator.variables, *state.discriminator.variables]:
        assert np.isfinite(variable.numpy()).all(), variable.path
    assert int(state.skipped_updates.numpy()) == 1
    assert int(state.last_nonfinite_step.numpy()) == 3


def test_on_nan_skip_never_checkpoints_nan_weights(tiny_overrides, tmp_path: Path) -> None:
    # Step 3's D loss is finite but its gradients are NaN: on_nan=skip (a loss check) applies
    # the update, D's weights turn NaN, and the checkpoint at step 4 must not hold them.
    fault = ["loss._target_=tests.faults.nan_gradient_at_step", "+loss.step=3"]
    every = {"log_every": 2, "sample_every": 2, "checkpoint_every": 2}
    with pytest.raises(NonFiniteLossError) as info:
        _train(tiny_overrides, tmp_path, *fault, max_steps=4, on_nan="skip", **every)
    message = str(info.value)
    assert message.startswith("step 4: the training state holds NaN/inf values (discriminator: ")
    assert f"the latest checkpoint is still {tmp_path / 'checkpoints' / 'ckpt-2'}" in message
    assert _checkpoint_names(tmp_path) == ["ckpt-2.index"]
    reader = tf.train.load_checkpoint(str(tmp_path / "checkpoints" / "ckpt-2"))
    for key, dtype in reader.get_variable_to_dtype_map().items():
        if dtype.is_floating:
            assert np.isfinite(reader.get_tensor(key)).all(), key


def _restored_state(overrides: list[str], prefix: Path):
    run = load_run_config(compose_config(overrides=overrides))
    state = build_state(run, run.dataset.load().spec)
    Checkpoints(state.checkpoint(), prefix.parent.parent, step=state.step, max_to_keep=1).restore(
        str(prefix)
    )
    return state


def _signal_at(monkeypatch: pytest.MonkeyPatch, signum: int, at_step: int) -> None:
    """Deliver `signum` to this process during the train call that reaches `at_step`."""
    real_call = TrainStep.__call__

    def call(self, iterator, num_steps):
        metrics = real_call(self, iterator, num_steps)
        if int(self.state.step.numpy()) == at_step:
            os.kill(os.getpid(), signum)
        return metrics

    monkeypatch.setattr(TrainStep, "__call__", call)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_saves_a_checkpoint_and_a_rerun_resumes(
    tiny_overrides, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    every = {"log_every": 1, "sample_every": 4, "checkpoint_every": 4}
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    _signal_at(monkeypatch, signum, at_step=3)
    with pytest.raises(TrainingInterrupted) as info:
        _train(tiny_overrides, tmp_path / "run", max_steps=8, **every)
    name = signal.Signals(signum).name
    prefix = tmp_path / "run" / "checkpoints" / "ckpt-3"
    assert str(info.value) == (
        f"interrupted by {name} at step 3; saved {prefix}. Run the same command again to "
        "resume (trainer.resume=auto)."
    )
    assert info.value.exit_code == 75
    assert _checkpoint_names(tmp_path / "run") == ["ckpt-3.index"]
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # put back
    monkeypatch.undo()

    # The rerun continues from there (test_training.py shows resumed losses equal a straight
    # run's; the kill -9 test in tests/e2e/test_faults_e2e.py does so across processes).
    resumed = _train(tiny_overrides, tmp_path / "run", max_steps=6, **every)
    assert resumed.resumed_from == str(prefix) and resumed.step == 6
    assert [r["step"] for r in read_jsonl(tmp_path / "run" / "stats.jsonl")] == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_deterministic_runs_are_bit_identical_and_determinism_is_reset(
    tiny_overrides, tmp_path: Path
) -> None:
    assert not tf_config.is_op_determinism_enabled()
    every = {"log_every": 1, "sample_every": 4, "checkpoint_every": 2, "deterministic": "true"}
    _train(tiny_overrides, tmp_path / "a", max_steps=4, **every)
    assert not tf_config.is_op_determinism_enabled()  # multirun jobs share the process
    _train(tiny_overrides, tmp_path / "b", max_steps=2, **every)
    _train(tiny_overrides, tmp_path / "b", max_steps=4, **every)  # resumed at 2
    a, b = (read_jsonl(tmp_path / name / "stats.jsonl") for name in ("a", "b"))
    assert [[r[k] for k in LOSSES] for r in a] == [[r[k] for k in LOSSES] for r in b]
    assert not tf_config.is_op_determinism_enabled()


def test_determinism_is_reset_when_a_run_fails(tiny_overrides, tmp_path: Path) -> None:
    with pytest.raises(NonFiniteLossError):
        _train(tiny_overrides, tmp_path, *_nan_at(1), max_steps=2, deterministic="true")
    assert not tf_config.is_op_determinism_enabled()


@pytest.mark.slow
def test_resume_skips_a_damaged_latest_checkpoint(
    tiny_overrides, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _train(tiny_overrides, tmp_path, max_steps=4, checkpoint_every=2)
    data = next((tmp_path / "checkpoints").glob("ckpt-4.data-*"))
    data.write_bytes(data.read_bytes()[:1000])  # killed while the disk was filling up
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        result = _train(tiny_overrides, tmp_path, max_steps=4, checkpoint_every=2)
    assert f"skipping damaged checkpoint {tmp_path / 'checkpoints' / 'ckpt-4'}" in caplog.text
    assert result.resumed_from == str(tmp_path / "checkpoints" / "ckpt-2")
    assert result.step == 4
    assert files.problem(tmp_path / "checkpoints" / "ckpt-4") is None  # written anew


def test_an_unwritable_run_dir_fails_before_training(tiny_overrides, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the run dir should go")
    with pytest.raises(CheckpointError, match=r"cannot write into .*not-a-dir/run \("):
        _train(tiny_overrides, blocker / "run", max_steps=2)


@pytest.mark.slow
def test_a_full_disk_at_checkpoint_time_stops_with_the_latest_kept(
    tiny_overrides, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _train(tiny_overrides, tmp_path, max_steps=2, checkpoint_every=2)
    real_write = tf.train.Checkpoint.write

    def full_disk(self, prefix, options=None):
        real_write(self, prefix, options=options)
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(tf.train.Checkpoint, "write", full_disk)
    with pytest.raises(CheckpointError) as info:
        _train(tiny_overrides, tmp_path, max_steps=4, checkpoint_every=2)
    assert "cannot save checkpoint" in str(info.value)
    assert "(no space left on device); the latest checkpoint is still" in str(info.value)
    assert _checkpoint_names(tmp_path) == ["ckpt-2.index"]
    assert files.read_state(tmp_path / "checkpoints").latest.endswith("ckpt-2")
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if "partial" in p.name]
