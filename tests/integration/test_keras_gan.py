"""`gantrain.keras.GAN`: `fit()` runs gantrain's own train step, with Keras callbacks, under
MirroredStrategy and mixed precision, and gives the CLI step's losses on the same batches."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import gantrain.keras
from gantrain.config import build, load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.distribute.mirrored import MirroredStrategy
from gantrain.errors import ConfigError
from gantrain.training.build import (
    build_discriminator,
    build_generator,
    build_state,
    build_train_step,
)
from tests.conftest import TINY, compose_config

# Every phase feature at once: n_critic 2, a lazy R1 phase (every 2 steps), EMA, DiffAugment.
FEATURES = [
    "loss=hinge",
    "regularizer=[r1]",
    "regularizer.r1.gamma=1.0",
    "regularizer.r1.interval=2",
    "trainer.n_critic=2",
    "trainer.ema_decay=0.9",
    "trainer.ema_start=0",
    "trainer.augment=[translation]",
    # fit() takes the optimizers the user compiled as they are: no lazy-phase adjustment.
    "trainer.lazy_adjust=false",
]
STEPS = 3


class Recorder(keras.callbacks.Callback):
    """Every step's logs, as floats."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, float]] = []

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.steps.append({k: float(v) for k, v in (logs or {}).items()})


def _models(run, spec, seed: int = 0):
    keras.utils.set_random_seed(seed)  # as the CLI's loop does before building
    generator, discriminator = build_generator(run, spec), build_discriminator(run, spec)
    optimizers = [
        build(node, where, total_steps=run.trainer.max_steps)
        for node, where in (
            (run.optimizer_generator, "optimizer.generator"),
            (run.optimizer_discriminator, "optimizer.discriminator"),
        )
    ]
    return generator, discriminator, optimizers


def test_fit_gives_the_cli_steps_losses_with_keras_callbacks(tiny_mnist: Path, tmp_path) -> None:
    run = load_run_config(
        compose_config(overrides=[*TINY, f"dataset.path={tiny_mnist}", *FEATURES])
    )
    data = run.dataset.load()
    batches = lambda: train_dataset(data, batch_size=run.trainer.batch_size, seed=0)  # noqa: E731
    # The command line's step.
    keras.utils.set_random_seed(0)
    state = build_state(run, data.spec)
    step = build_train_step(run, state, tf.distribute.get_strategy(), run.trainer.batch_size)
    iterator = iter(batches())
    cli = [{k: float(v) for k, v in step(iterator, 1).items()} for _ in range(STEPS)]
    # The same models, optimizers and options through Keras.
    generator, discriminator, (g_optimizer, d_optimizer) = _models(run, data.spec)
    gan = gantrain.keras.GAN(
        generator,
        discriminator,
        loss="hinge",
        regularizers=["r1"],
        overrides=["regularizer.r1.gamma=1.0", "regularizer.r1.interval=2"],
        n_critic=2,
        ema_decay=0.9,
        augment=["translation"],
    )
    gan.compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer)
    recorder = Recorder()
    board = keras.callbacks.TensorBoard(str(tmp_path / "tb"), update_freq="batch")
    history = gan.fit(
        batches(), epochs=1, steps_per_epoch=STEPS, callbacks=[recorder, board], verbose=0
    )
    assert int(gan.state.step.numpy()) == STEPS
    assert {"d_loss", "g_loss", "d_r1", "d_reg_loss"} <= set(cli[-1])
    assert recorder.steps == cli  # every value of every step, exactly
    assert history.history["g_loss"] == [cli[-1]["g_loss"]]
    assert list((tmp_path / "tb" / "train").glob("events.out.tfevents.*"))
    for mine, theirs in zip(gan.generator_ema.weights, state.generator_ema.weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    images = gan(tf.zeros([2, generator.latent_dim]))
    assert images.shape == (2, 28, 28, 1)


def test_fit_under_mirrored_strategy_and_mixed_precision(tiny_mnist: Path, tmp_path) -> None:
    run = load_run_config(compose_config(overrides=[*TINY, f"dataset.path={tiny_mnist}"]))
    data = run.dataset.load()
    # The session's one MirroredStrategy on these devices: a second one's collective keys
    # collide with the first's (gantrain/distribute: one strategy per process and devices).
    strategy = MirroredStrategy(num_cpu_devices=2).create()
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy.scope():
            generator, discriminator, _ = _models(run, data.spec)
            gan = gantrain.keras.GAN(generator, discriminator, loss="wgan_gp", n_critic=2)
            gan.compile(
                g_optimizer=keras.optimizers.Adam(1e-4, 0.0, 0.9),
                d_optimizer=keras.optimizers.Adam(1e-4, 0.0, 0.9),
            )
        recorder = Recorder()
        log_file = tmp_path / "log.csv"
        dataset = train_dataset(data, batch_size=16, seed=0).map(lambda b: (b["image"], b["label"]))
        gan.fit(
            dataset,
            epochs=2,
            steps_per_epoch=1,
            callbacks=[recorder, keras.callbacks.CSVLogger(str(log_file))],
            verbose=0,
        )
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert gan.distribute_strategy.num_replicas_in_sync == 2
    assert isinstance(gan.state.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(gan.state.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert int(gan.state.step.numpy()) == 2 and len(recorder.steps) == 2
    assert all(
        math.isfinite(s[k])
        for s in recorder.steps
        for k in ("d_loss", "g_loss", "d_gradient_penalty")
    )
    assert len(log_file.read_text().splitlines()) == 3  # header + one row per epoch


def test_bad_uses_are_one_line_errors(tiny_mnist: Path) -> None:
    run = load_run_config(compose_config(overrides=[*TINY, f"dataset.path={tiny_mnist}"]))
    spec = run.dataset.spec()
    generator, discriminator, (g_optimizer, d_optimizer) = _models(run, spec)
    with pytest.raises(ConfigError, match="trainer.n_critic=0: must be a positive number"):
        gantrain.keras.GAN(generator, discriminator, n_critic=0)
    with pytest.raises(ConfigError, match="unknown loss 'hinj'"):
        gantrain.keras.GAN(generator, discriminator, loss="hinj")
    gan = gantrain.keras.GAN(generator, discriminator)
    with pytest.raises(ConfigError, match="before fit"):
        gan.fit(tf.data.Dataset.from_tensors(tf.zeros([4, 28, 28, 1])))
    gan.compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer)
    unbatched = tf.data.Dataset.from_tensor_slices(tf.zeros([8, 28, 28, 1])).batch(3)
    with pytest.raises(ConfigError, match="drop_remainder=True"):
        gan.fit(unbatched)
    with pytest.raises(ConfigError, match="give a tf.data.Dataset"):
        gan.fit(np.zeros([4, 28, 28, 1], np.float32))
