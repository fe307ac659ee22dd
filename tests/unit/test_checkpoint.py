"""Checkpoints: every part of GANState round-trips; resume modes resolve as documented."""

from __future__ import annotations

from pathlib import Path

import keras
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


def _state_variables(state: GANState) -> dict[str, tf.Variable]:
    """Every variable the state holds, found from its attributes (models, optimizers, plain
    variables, lists and dicts of them, regularizer modules), not from a hand-written list:
    a part added to GANState is covered without editing this test."""
    found: dict[str, tf.Variable] = {}

    def visit(name: str, value: object) -> None:
        if isinstance(value, tf.Variable | keras.Variable):
            found[name] = value
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                visit(f"{name}/{index}", item)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(f"{name}/{key}", item)
        elif isinstance(getattr(value, "variables", None), list | tuple):
            for index, item in enumerate(value.variables):
                visit(f"{name}/{index}", item)

    for name, value in vars(state).items():
        visit(name, value)
    return found


def _values(state: GANState) -> dict[str, np.ndarray]:
    return {k: np.array(v.numpy()) for k, v in _state_variables(state).items()}


def test_round_trip_restores_every_part_of_the_state(tiny_overrides, tmp_path: Path) -> None:
    state, (run, data) = _state(tiny_overrides, seed=1)
    step = TrainStep(
        state, build_loss(run), tf.distribute.get_strategy(), global_batch_size=16, steps_per_loop=1
    )
    iterator = iter(train_dataset(data, batch_size=16, seed=1))
    for _ in range(3):
        step(iterator, 1)
    state.elapsed_sec.assign(12.5)
    state.skipped_updates.assign(2)
    state.last_nonfinite_step.assign(3)
    saved = _values(state)
    parts = {key.split("/", 1)[0] for key in saved}
    assert {"generator_ema", "skipped_updates", "last_nonfinite_step", "rng_states"} <= parts
    assert len(state.g_optimizer.variables) > 2, "Adam slots exist before the first restore"
    prefix = Checkpoints(state.checkpoint(), tmp_path, step=state.step, max_to_keep=2).save()
    assert prefix.endswith("ckpt-3")

    fresh, _ = _state(tiny_overrides, seed=2)
    # Move every variable off its value, so one the checkpoint leaves out cannot pass by
    # happening to start equal (counters at 0, say).
    for variable in _state_variables(fresh).values():
        variable.assign(variable + tf.ones_like(variable))
    Checkpoints(fresh.checkpoint(), tmp_path, step=fresh.step, max_to_keep=2).restore(prefix)
    restored = _values(fresh)
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
