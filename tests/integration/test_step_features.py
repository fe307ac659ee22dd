"""Train-step features on tiny models: n_critic, lazy penalties, clipping, EMA, DiffAugment,
conditional models, and exact resume with all of them on."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.errors import ConfigError
from gantrain.logging.stats import read_jsonl
from gantrain.tasks.sample import load_sampler
from gantrain.training.build import build_generator, build_state, build_train_step
from gantrain.training.loop import train
from tests.conftest import TINY_STYLEGAN2, assert_resume_is_exact, compose_config

CONDITIONAL = ["generator=cdcgan", "discriminator=dcgan_projection"]


def _setup(tiny_overrides: list[str], *overrides: str):
    run = load_run_config(compose_config(overrides=[*tiny_overrides, *overrides]))
    data = run.dataset.load()
    strategy = tf.distribute.get_strategy()
    state = build_state(run, data.spec)
    step = build_train_step(run, state, strategy, run.trainer.batch_size)
    iterator = iter(_batches(data, run))
    return state, step, iterator


def _batches(data, run) -> tf.data.Dataset:
    return train_dataset(data, batch_size=run.trainer.batch_size, seed=0)


def test_n_critic_updates_d_on_its_own_batches(tiny_overrides) -> None:
    state, step, iterator = _setup(tiny_overrides, "trainer.n_critic=3")
    assert step.batches_per_step == 3
    for _ in range(2):
        step(iterator, 1)
    assert int(state.d_optimizer.iterations.numpy()) == 6
    assert int(state.g_optimizer.iterations.numpy()) == 2
    # The iterator moved 6 batches: the next one is batch 6 of the same order.
    run = load_run_config(compose_config(overrides=tiny_overrides))
    reference = iter(_batches(run.dataset.load(), run))
    for _ in range(6):
        next(reference)
    np.testing.assert_array_equal(next(iterator)["image"].numpy(), next(reference)["image"].numpy())


def test_lazy_penalty_is_its_own_phase_every_interval(tiny_overrides) -> None:
    state, step, iterator = _setup(tiny_overrides, "loss=r1", "regularizer.r1.interval=2")
    assert [p.name for p in step.phases] == [
        "discriminator",
        "discriminator_regularization",
        "generator",
    ]
    records = [{k: float(v) for k, v in step(iterator, 1).items()} for _ in range(4)]
    # D: 4 regular updates + 2 lazy ones (steps 0 and 2).
    assert int(state.d_optimizer.iterations.numpy()) == 6
    assert "d_r1" not in records[0] or records[0]["d_r1"] > 0
    assert all(r["d_r1"] > 0 and r["d_reg_loss"] > 0 for r in records)
    # Steps 1 and 3 did not run the phase: they repeat the value of steps 0 and 2.
    assert records[1]["d_r1"] == records[0]["d_r1"]
    assert records[3]["d_r1"] == records[2]["d_r1"]


def test_penalty_every_step_is_part_of_the_d_loss(tiny_overrides) -> None:
    state, step, iterator = _setup(
        tiny_overrides, "loss=wgan_gp", "discriminator.dropout=0.0", "trainer.n_critic=2"
    )
    assert [p.name for p in step.phases] == ["discriminator", "generator"]
    metrics = step(iterator, 1)
    assert float(metrics["d_gradient_penalty"]) > 0
    assert int(state.d_optimizer.iterations.numpy()) == 2


def test_gradient_clipping_bounds_the_applied_gradient(tiny_overrides) -> None:
    _, step, _ = _setup(tiny_overrides, "trainer.clip_grad_norm=0.001")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    kernel = model.trainable_variables[0]
    kernel.assign([[1.0], [1.0]])
    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    x = tf.constant([[3.0, 4.0]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x))  # gradient (3, 4), norm 5
    step._update(tape, loss, model, optimizer)
    # SGD with lr 1 moves by the clipped gradient: (3, 4) / 5 * 0.001
    np.testing.assert_allclose(kernel.numpy()[:, 0], [1 - 0.0006, 1 - 0.0008], rtol=1e-5)


@pytest.mark.parametrize(
    "ema",
    [
        ("trainer.ema_decay=0.5", "trainer.ema_start=2"),
        # StyleGAN2-ADA's half-life with ramp-up: nothing seen before step 1 (a copy); at
        # step 2, min(kimg * 1000, batch * rampup) = batch images, so beta = 0.5.
        (
            "trainer.ema_decay=0",
            "trainer.ema_kimg=10",
            "trainer.ema_rampup=1",
            "trainer.ema_start=0",
        ),
    ],
    ids=["decay", "half_life"],
)
def test_ema_follows_the_generator_from_its_start_step(tiny_overrides, ema) -> None:
    state, step, iterator = _setup(tiny_overrides, *ema)
    step(iterator, 1)  # step 1: before start / no images seen yet: a copy
    for average, weight in zip(state.generator_ema.weights, state.generator.weights, strict=True):
        np.testing.assert_array_equal(average.numpy(), weight.numpy())
    before = [w.numpy().copy() for w in state.generator_ema.trainable_weights]
    step(iterator, 1)  # step 2: averaging with beta 0.5
    for average, old, weight in zip(
        state.generator_ema.trainable_weights,
        before,
        state.generator.trainable_weights,
        strict=True,
    ):
        np.testing.assert_allclose(
            average.numpy(), 0.5 * old + 0.5 * weight.numpy(), rtol=1e-5, atol=1e-7
        )


def test_diffaugment_conditional_and_acgan_steps_run(tiny_overrides) -> None:
    _, step, iterator = _setup(
        tiny_overrides, *CONDITIONAL, "trainer.augment=[color,translation,cutout]"
    )
    assert np.isfinite(float(step(iterator, 1)["d_loss"]))
    _, step, iterator = _setup(tiny_overrides, "generator=cdcgan", "discriminator=acgan")
    metrics = step(iterator, 1)
    assert {"d_class_loss", "d_class_accuracy", "g_class_loss"} <= set(metrics)
    _, step, iterator = _setup(tiny_overrides, "loss=relativistic_average")
    assert np.isfinite(float(step(iterator, 1)["g_loss"]))


def test_conditional_generator_needs_a_conditional_discriminator(tiny_overrides) -> None:
    with pytest.raises(ConfigError, match="ignores labels"):
        _setup(tiny_overrides, "generator=cdcgan")
    with pytest.raises(ConfigError, match="takes no labels"):
        _setup(tiny_overrides, "discriminator=acgan")


def test_sample_grid_of_a_conditional_model_has_a_row_per_class(tiny_overrides) -> None:
    state, _, _ = _setup(tiny_overrides, *CONDITIONAL)
    grid = 4  # logging.sample_grid in the tiny overrides
    assert state.grid_z.shape == (10 * grid, 16)
    assert state.grid_labels.numpy().tolist() == [c for c in range(10) for _ in range(grid)]
    # Every row uses the same latents, so a column shows one latent across the classes.
    np.testing.assert_array_equal(
        state.grid_z.numpy()[:grid], state.grid_z.numpy()[grid : 2 * grid]
    )


# StyleGAN2-ADA's adaptive p: adjusted after every step here, fast enough to move in 4 steps;
# p and the controller's accumulators must resume exactly (the reference's p restarts at 0).
# StyleGAN2-ADA's parts on tiny StyleGAN2 networks (32x32 image folder): lazy R1, path
# length (its running mean is checkpointed), style mixing and noise draws (SeedGenerator
# states), the EMA by half-life with ramp-up and ADA's adaptive p.
STYLEGAN2 = [
    "dataset=image_folder",
    "dataset.resolution=32",
    *TINY_STYLEGAN2,
    "regularizer=[r1,lecam,path_length]",
    "regularizer.path_length.interval=2",
    "trainer.ema_kimg=0.05",
    "trainer.ema_rampup=0.5",
]
ADA = [
    "trainer.augment=[bgc]",
    "trainer.ada_target=0.6",
    "trainer.ada_interval=1",
    "trainer.ada_kimg=0.1",
    "trainer.augment_p=0.5",  # start mid-way, so p moves whichever side of target D is
]


@pytest.mark.slow
@pytest.mark.parametrize("augmentation", ["diffaugment", "stylegan2_ada"])
def test_resume_is_exact_with_every_feature_on(
    tiny_overrides, tiny_image_folder: Path, tmp_path: Path, augmentation: str
) -> None:
    features = [
        *tiny_overrides,
        *CONDITIONAL,
        "trainer.n_critic=2",
        # EMA by a half-life on a schedule (R3GAN's form), from the first step.
        "trainer.ema_decay=0",
        "trainer.ema_kimg=0.01",
        "trainer.ema_schedule=linear",
        "trainer.ema_final_kimg=0.05",
        "trainer.ema_start=0",
        "trainer.augment=[color,translation,cutout]",
        "trainer.augment_p=0.3",
        "trainer.augment_p_schedule=linear",
        "trainer.augment_p_final=0.9",
        "regularizer=[r1,lecam]",  # LeCam's EMA anchors are checkpointed state
        "regularizer.r1.gamma=1.0",
        "regularizer.r1.interval=2",
        "regularizer.r1.schedule=cosine",
        "regularizer.r1.final_gamma=0.1",
        "optimizer.generator.schedule=linear",
        "optimizer.discriminator.beta_2_schedule=cosine",
        "optimizer.discriminator.final_beta_2=0.9",
        "trainer.log_every=1",
        "trainer.sample_every=2",
        "trainer.checkpoint_every=2",
    ]
    if augmentation == "stylegan2_ada":  # StyleGAN2 + ADA instead of DCGAN + DiffAugment
        replaced = ("trainer.augment", "trainer.ema_", "regularizer=", "dataset.path")
        features = [
            f
            for f in features
            if f not in CONDITIONAL and not f.startswith(replaced) and "widths" not in f
        ]
        features += [*STYLEGAN2, f"dataset.path={tiny_image_folder}", *ADA]
        features += ["trainer.ema_decay=0", "trainer.ema_start=0"]

    def run(run_dir: Path) -> None:
        train(
            load_run_config(compose_config(overrides=[*features, "trainer.max_steps=4"])), run_dir
        )

    keys = ("d_loss", "g_loss", "d_real", "d_fake", "d_lecam", "d_r1", "aug_p", "lr_generator")
    # A crash after step 2's checkpoint, resumed from ckpt-2 to step 4 (tests/conftest.py).
    _, resumed, resumed_dir = assert_resume_is_exact(run, tmp_path, keys)
    assert resumed[4][-1] < resumed[1][-1]  # the linear schedule decays
    assert resumed[4][-2] != resumed[1][-2]  # p moves: its schedule, or ADA's controller
    if augmentation == "stylegan2_ada":
        straight_rt = [r["aug_rt"] for r in read_jsonl(tmp_path / "straight" / "stats.jsonl")]
        resumed_rt = [r["aug_rt"] for r in read_jsonl(resumed_dir / "stats.jsonl")]
        assert resumed_rt[-2:] == straight_rt[-2:]

    # The EMA generator is checkpointed, and sampling uses it rather than the raw generator.
    sampler, spec, prefix = load_sampler(str(resumed_dir))
    run = load_run_config(compose_config(overrides=features))
    restored = {}
    for key in ("generator", "generator_ema"):
        restored[key] = build_generator(run, spec)
        tf.train.Checkpoint(**{key: restored[key]}).restore(prefix).expect_partial()

    def kernels(model: keras.Model) -> list[np.ndarray]:
        return [w.numpy() for w in model.trainable_weights]

    ema, raw = kernels(restored["generator_ema"]), kernels(restored["generator"])
    assert not all(np.array_equal(a, b) for a, b in zip(ema, raw, strict=True))
    for got, expected in zip(kernels(sampler.model), ema, strict=True):
        np.testing.assert_array_equal(got, expected)


MIRRORED_SCRIPT = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from gantrain.config import load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.training.build import build_state, build_train_step
from tests.conftest import compose_config
run = load_run_config(compose_config(overrides=sys.argv[1:]))
data = run.dataset.load()
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    state = build_state(run, data.spec)
step = build_train_step(run, state, strategy, run.trainer.batch_size)
batches = train_dataset(data, batch_size=run.trainer.batch_size, seed=0)
iterator = iter(strategy.experimental_distribute_dataset(batches))
for _ in range(4):
    metrics = step(iterator, 1)
print("D_UPDATES", int(state.d_optimizer.iterations.numpy()), float(metrics["d_r1"]))
print("STATE", *[float(v.numpy()) for r in state.regularizers for v in r.variables])
"""


@pytest.mark.slow
def test_phases_run_under_mirrored_strategy(tiny_overrides) -> None:
    """n_critic loops and lazy phases keep their synchronization points (the gradient
    all-reduce, spectral-norm and batch-norm state) out of replica-side control flow; a
    stateful regularizer's state (the toys of test_regularizers.py) updates on replicas."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.integration.test_regularizers import TOYS

    overrides = [
        *tiny_overrides,
        *CONDITIONAL,
        "trainer.n_critic=2",
        "loss=r1",
        "regularizer.r1.interval=2",
        "trainer.ema_decay=0.9",
        "trainer.ema_start=0",
        *TOYS,
    ]
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, *overrides],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("D_UPDATES"))
    _, updates, r1 = line.split()
    assert int(updates) == 4 * 2 + 2  # n_critic updates per step + the lazy phase twice
    assert float(r1) > 0
    state = next(x for x in result.stdout.splitlines() if x.startswith("STATE")).split()[1:]
    # toy.calls, toy.mean (tf.Module lists variables by attribute name), anchor.anchor
    assert len(state) == 3 and float(state[0]) == 2.0  # G's lazy phase ran twice
    assert all(np.isfinite(float(v)) and float(v) != 0.0 for v in state)
