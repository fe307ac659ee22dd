"""Checkpoints: every part of GANState round-trips; resume modes resolve as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from gantrain.checkpointing import Checkpoints, find_checkpoint, resolve_resume
from gantrain.config import load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.errors import CheckpointError
from gantrain.training.build import build_loss, build_state
from gantrain.training.state import GANState
from gantrain.training.step import TrainStep
from tests.conftest import compose_config


def _state(tiny_overrides: list[str], seed: int) -> tuple[GANState, object]:
    run = load_run_config(compose_config(overrides=[*tiny_overrides, f"trainer.seed={seed}"]))
    data = run.dataset.load()
    return build_state(run, data.spec), (run, data)


def _all_variables(state: GANState) -> dict[str, np.ndarray]:
    parts = {
        "generator": state.generator.variables,
        "discriminator": state.discriminator.variables,
        "g_optimizer": state.g_optimizer.variables,
        "d_optimizer": state.d_optimizer.variables,
        "rng": state.rng_states,
        "scalars": [state.step, state.seed, state.elapsed_sec, state.grid_z],
    }
    return {f"{k}/{i}": v.numpy() for k, vs in parts.items() for i, v in enumerate(vs)}


def test_round_trip_restores_every_part_of_the_state(tiny_overrides, tmp_path: Path) -> None:
    state, (run, data) = _state(tiny_overrides, seed=1)
    step = TrainStep(
        state, build_loss(run), tf.distribute.get_strategy(), global_batch_size=16, steps_per_loop=1
    )
    iterator = iter(train_dataset(data, batch_size=16, seed=1))
    for _ in range(3):
        step(iterator, 1)
    state.elapsed_sec.assign(12.5)
    saved = _all_variables(state)
    assert saved["scalars/0"] == 3
    assert any(k.startswith("rng/") for k in saved), "dropout RNG state must be checkpointed"
    assert len(state.g_optimizer.variables) > 2, "Adam slots exist before the first restore"
    prefix = Checkpoints(state.checkpoint(), tmp_path, step=state.step, max_to_keep=2).save()
    assert prefix.endswith("ckpt-3")

    fresh, _ = _state(tiny_overrides, seed=2)
    before = _all_variables(fresh)
    changed = [k for k in saved if not np.array_equal(before[k], saved[k])]
    assert len(changed) > len(saved) // 2  # a different seed really differs
    Checkpoints(fresh.checkpoint(), tmp_path, step=fresh.step, max_to_keep=2).restore(prefix)
    restored = _all_variables(fresh)
    assert restored.keys() == saved.keys()
    for key, value in saved.items():
        np.testing.assert_array_equal(restored[key], value, err_msg=key)


def test_restoring_into_another_architecture_is_a_clear_error(tiny_overrides, tmp_path) -> None:
    state, _ = _state(tiny_overrides, seed=0)
    prefix = Checkpoints(state.checkpoint(), tmp_path, step=state.step, max_to_keep=1).save()
    other, _ = _state([*tiny_overrides, "generator.widths=[64,16,8]"], seed=0)
    with pytest.raises(CheckpointError, match="does not match the configured models"):
        Checkpoints(other.checkpoint(), tmp_path / "x", step=other.step, max_to_keep=1).restore(
            prefix
        )


def test_unreadable_checkpoint_is_a_clear_error(tiny_overrides, tmp_path) -> None:
    state, _ = _state(tiny_overrides, seed=0)
    checkpoints = Checkpoints(state.checkpoint(), tmp_path, step=state.step, max_to_keep=1)
    prefix = checkpoints.save()
    data_file = next(Path(tmp_path / "checkpoints").glob("ckpt-0.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot read checkpoint|does not match"):
        checkpoints.restore(prefix)


def _fake_checkpoint(directory: Path, step: int) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    counter = tf.Variable(step, dtype=tf.int64)
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(v=counter), str(directory), max_to_keep=3
    )
    return manager.save(checkpoint_number=step)


def test_resume_modes(tmp_path: Path) -> None:
    run_dir, other = tmp_path / "run", tmp_path / "other"
    assert resolve_resume("auto", run_dir) is None
    assert resolve_resume("never", run_dir) is None
    theirs = _fake_checkpoint(other / "checkpoints", 7)
    assert resolve_resume(str(other), run_dir) == theirs
    assert resolve_resume(theirs, run_dir) == theirs
    assert find_checkpoint(other / "checkpoints") == theirs
    ours = _fake_checkpoint(run_dir / "checkpoints", 5)
    assert resolve_resume("auto", run_dir) == ours
    with pytest.raises(CheckpointError, match="resume=never.*already has checkpoints"):
        resolve_resume("never", run_dir)
    with pytest.raises(CheckpointError, match="would mix two runs"):
        resolve_resume(str(other), run_dir)
    with pytest.raises(CheckpointError, match="neither a run dir nor a checkpoint"):
        resolve_resume(str(tmp_path / "nope"), tmp_path / "fresh")
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        resolve_resume(str(tmp_path), tmp_path / "fresh")
