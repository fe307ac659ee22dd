"""Every optimizer YAML trains 2 steps of the real train step with tiny models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.training.build import build_state, build_train_step
from tests.conftest import TINY, compose_config

# Each new optimizer on both sides, with its less usual options on.
CASES = {
    "rmsprop": ["optimizer.discriminator.centered=true", "optimizer.discriminator.momentum=0.5"],
    "adamw": ["optimizer.generator.schedule=linear", "optimizer.discriminator.weight_decay=0.1"],
    "sgd": ["optimizer.discriminator.momentum=0.9", "optimizer.discriminator.nesterov=true"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_optimizer_trains_two_steps(name: str, tiny_mnist) -> None:
    overrides = [
        *TINY,
        f"dataset.path={tiny_mnist}",
        f"optimizer@optimizer.generator={name}",
        f"optimizer@optimizer.discriminator={name}",
        *CASES[name],
    ]
    run = load_run_config(compose_config(overrides=overrides))
    data = run.dataset.load()
    state = build_state(run, data.spec)
    step = build_train_step(run, state, tf.distribute.get_strategy(), run.trainer.batch_size)
    before = [v.numpy().copy() for v in state.discriminator.trainable_variables]
    batches = iter(train_dataset(data, batch_size=run.trainer.batch_size, seed=0))
    for _ in range(2):
        metrics = step(batches, 1)
    assert int(state.step.numpy()) == 2
    assert all(math.isfinite(float(metrics[k])) for k in ("d_loss", "g_loss"))
    for optimizer in (state.g_optimizer, state.d_optimizer):
        assert type(optimizer).__name__.lower().replace("_", "") == name
        assert int(optimizer.iterations.numpy()) == 2
    after = [v.numpy() for v in state.discriminator.trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
