"""Strategies in-process: MirroredStrategy over 2 logical CPUs trains like the default one."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from gantrain.config import load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.distribute import MirroredStrategy
from gantrain.errors import ConfigError
from gantrain.logging.stats import read_jsonl
from gantrain.training.build import build_loss, build_state
from gantrain.training.loop import train
from gantrain.training.step import TrainStep
from tests.conftest import MIRRORED, compose_config

LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")


def _train(overrides: list[str], run_dir: Path, **trainer):
    extra = [f"trainer.{k}={v}" for k, v in trainer.items()]
    return train(load_run_config(compose_config(overrides=[*overrides, *extra])), run_dir)


def _losses(run_dir: Path) -> np.ndarray:
    return np.array([[r[k] for k in LOSSES] for r in read_jsonl(run_dir / "stats.jsonl")])


# The zoo's newer parts on one model: R3GAN's G and D (grouped convolutions), RpGAN with
# R1 + R2, LeCam's anchors, ADA's pipeline with its adaptive p, and the EMA by half-life.
MODERN = [
    "generator=r3gan",
    "discriminator=r3gan",
    "generator.widths=[8,8,8]",
    "generator.cardinalities=[2,2,2]",
    "discriminator.widths=[8,8,8]",
    "discriminator.cardinalities=[2,2,2]",
    "loss=relativistic_pairing",
    "regularizer=[r1,r2,lecam]",
    "regularizer.r1.gamma=1",
    "regularizer.r2.gamma=1",
    "trainer.augment=[bgc]",
    "trainer.ada_target=0.6",
    "trainer.ada_interval=1",
    "trainer.ada_kimg=0.1",
    "trainer.augment_p=0.5",
    "trainer.ema_decay=0",
    "trainer.ema_kimg=0.05",
    "trainer.ema_rampup=0.5",
]


@pytest.mark.slow
@pytest.mark.parametrize("models", ["dcgan", "modern"])
def test_mirrored_over_two_cpus_gives_the_default_strategys_losses(
    tiny_overrides, tmp_path: Path, models: str
) -> None:
    # Dropout stays on (0.3): masks and batch-norm statistics are taken over the global
    # batch (gantrain.models.global_batch), so the replica count does not change training.
    every = {"max_steps": 4, "log_every": 1}
    overrides = [*tiny_overrides, *(MODERN if models == "modern" else [])]
    single = _train(overrides, tmp_path / "default", **every)
    mirrored = _train([*overrides, *MIRRORED], tmp_path / "mirrored", **every)
    assert single.step == mirrored.step == 4
    reference, distributed = _losses(tmp_path / "default"), _losses(tmp_path / "mirrored")
    assert reference.shape == (4, 4)
    np.testing.assert_allclose(distributed, reference, rtol=2e-4, atol=1e-5)
    # The losses move, so the comparison is not between constants.
    assert np.ptp(reference[:, 0]) > 1e-3


def _restored_values(overrides: list[str], prefix: str) -> list[np.ndarray]:
    from gantrain.checkpointing import restore_into

    run = load_run_config(compose_config(overrides=overrides))
    strategy = run.strategy.create()
    with strategy.scope():
        state = build_state(run, run.dataset.spec())
    restore_into(state.checkpoint(), prefix, complete=True)
    parts = [
        state.generator.variables,
        state.discriminator.variables,
        state.g_optimizer.variables,
        state.d_optimizer.variables,
        state.rng_states,
        [state.step, state.seed, state.grid_z],
    ]
    return [tf.convert_to_tensor(v).numpy() for vs in parts for v in vs]


@pytest.mark.slow
def test_resume_under_mirrored_restores_the_default_strategys_state(
    tiny_overrides, tmp_path: Path
) -> None:
    every = {"log_every": 1, "checkpoint_every": 2}
    _train(tiny_overrides, tmp_path / "straight", max_steps=4, **every)
    _train(tiny_overrides, tmp_path / "first", max_steps=2, **every)
    prefix = str(tmp_path / "first" / "checkpoints" / "ckpt-2")

    on_default = _restored_values(tiny_overrides, prefix)
    on_mirrored = _restored_values([*tiny_overrides, *MIRRORED], prefix)
    assert len(on_default) == len(on_mirrored) > 20
    for default_value, mirrored_value in zip(on_default, on_mirrored, strict=True):
        np.testing.assert_array_equal(mirrored_value, default_value)

    resumed = _train(
        [*tiny_overrides, *MIRRORED],
        tmp_path / "resumed",
        max_steps=4,
        resume=str(tmp_path / "first"),
        **every,
    )
    assert resumed.resumed_from == prefix and resumed.step == 4
    np.testing.assert_allclose(
        _losses(tmp_path / "resumed"), _losses(tmp_path / "straight")[2:], rtol=2e-4, atol=1e-5
    )


def test_batch_that_does_not_divide_over_replicas_is_a_config_error(
    tiny_overrides, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"batch_size=15 does not divide evenly over 2"):
        _train([*tiny_overrides, *MIRRORED], tmp_path, batch_size=15)


def test_logical_cpus_cannot_change_once_tensorflow_runs() -> None:
    # The session configured 2 logical CPUs before its first op; 3 cannot be had any more.
    with pytest.raises(ConfigError, match=r"num_cpu_devices: splitting the CPU into 3 .* fresh"):
        MirroredStrategy(num_cpu_devices=3).create()
    strategy = MirroredStrategy(num_cpu_devices=2).create()
    assert strategy.num_replicas_in_sync == 2
    # One strategy per device set and process: a second one's collectives would collide.
    assert MirroredStrategy(num_cpu_devices=2).create() is strategy


def regularized_discriminator(*, image_shape, l2: float = 0.5) -> keras.Model:
    """A small discriminator with a strong L2 weight penalty."""
    images = keras.Input(tuple(image_shape))
    x = keras.layers.Flatten()(images)
    x = keras.layers.Dense(8, kernel_regularizer=keras.regularizers.L2(l2))(x)
    return keras.Model(images, keras.layers.Dense(1, dtype="float32")(x))


def _discriminator_after_steps(tiny_overrides: list[str], extra: list[str], l2: float):
    cfg = compose_config(overrides=[*tiny_overrides, *extra])
    cfg.discriminator = OmegaConf.create(
        {"_target_": "tests.integration.test_distribute.regularized_discriminator", "l2": l2}
    )
    run = load_run_config(cfg)
    strategy = run.strategy.create()
    keras.utils.set_random_seed(0)  # the same initial weights for every variant
    with strategy.scope():
        state = build_state(run, run.dataset.spec())
    step = TrainStep(state, build_loss(run), strategy, global_batch_size=16, steps_per_loop=1)
    data = run.dataset.load()
    iterator = iter(
        strategy.experimental_distribute_dataset(train_dataset(data, batch_size=16, seed=0))
    )
    for _ in range(2):
        step(iterator, 1)
    return [tf.convert_to_tensor(v).numpy() for v in state.discriminator.trainable_variables]


def test_weight_penalties_count_once_under_any_number_of_replicas(tiny_overrides) -> None:
    single = _discriminator_after_steps(tiny_overrides, [], l2=0.5)
    mirrored = _discriminator_after_steps(tiny_overrides, MIRRORED, l2=0.5)
    unpenalized = _discriminator_after_steps(tiny_overrides, [], l2=0.0)
    for a, b in zip(mirrored, single, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not np.allclose(single[0], unpenalized[0], atol=1e-6)
