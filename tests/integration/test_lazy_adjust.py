"""Lazy regularization as StyleGAN2-ADA runs it: the optimizers built for lazy phases
(trainer.lazy_adjust), and path-length regularization of a tiny mapping/synthesis generator
in G's lazy phase next to D's lazy R1: training, checkpoint, replica-count independence."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.checkpointing import Checkpoints
from gantrain.config import load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.errors import ConfigError
from gantrain.training.build import build_state, build_train_step
from tests.conftest import MIRRORED, TINY_STYLEGAN2, compose_config

# StyleGAN2-ADA's Adam (lr 0.0025, betas [0, 0.99], eps 1e-8) on both sides.
STYLEGAN_ADAM = [
    f"optimizer.{side}.{key}={value}"
    for side in ("generator", "discriminator")
    for key, value in (("lr", 0.0025), ("beta_1", 0.0), ("beta_2", 0.99), ("epsilon", 1e-8))
]
MAPPED = [
    "generator._target_=tests.tiny_models.build_tiny_mapped_generator",
    "~generator.widths",
    "~generator.kernel_size",
    "~generator.negative_slope",
    "generator.latent_dim=8",
]
LAZY_BOTH = [
    "regularizer=[r1,path_length]",
    "regularizer.r1.gamma=1.0",
    "regularizer.r1.interval=2",
    "regularizer.path_length.interval=2",
]


def _run(tiny_overrides: list[str], *overrides: str):
    return load_run_config(compose_config(overrides=[*tiny_overrides, *overrides]))


def _lr(optimizer) -> float:
    return float(tf.convert_to_tensor(optimizer.learning_rate).numpy())


def test_lazy_r1_adjusts_only_ds_adam(tiny_overrides) -> None:
    run = _run(tiny_overrides, *STYLEGAN_ADAM, "regularizer=[r1]", "regularizer.r1.interval=16")
    state = build_state(run, run.dataset.spec())
    d, g = state.d_optimizer, state.g_optimizer
    assert _lr(d) == pytest.approx(0.0025 * 16 / 17, rel=1e-6)
    assert d.beta_1 == 0.0 and d.beta_2 == pytest.approx(0.99 ** (16 / 17))
    assert d.epsilon == 1e-8
    assert (_lr(g), g.beta_1, g.beta_2) == (pytest.approx(0.0025), 0.0, 0.99)


def test_opt_out_keeps_the_configured_settings(tiny_overrides) -> None:
    run = _run(
        tiny_overrides,
        *STYLEGAN_ADAM,
        "regularizer=[r1]",
        "regularizer.r1.interval=16",
        "trainer.lazy_adjust=false",
    )
    d = build_state(run, run.dataset.spec()).d_optimizer
    assert (_lr(d), d.beta_1, d.beta_2) == (pytest.approx(0.0025), 0.0, 0.99)


def test_every_step_regularizers_leave_the_optimizer_alone(tiny_overrides) -> None:
    run = _run(tiny_overrides, *STYLEGAN_ADAM, "regularizer=[r1]", "regularizer.r1.interval=1")
    d = build_state(run, run.dataset.spec()).d_optimizer
    assert (_lr(d), d.beta_2) == (pytest.approx(0.0025), 0.99)


def test_path_length_needs_a_mapping_network(tiny_overrides) -> None:
    run = _run(tiny_overrides, "regularizer=[path_length]")  # the default DCGAN generator
    with pytest.raises(
        ConfigError,
        match=r"regularizer.path_length needs a generator with a mapping network "
        r"\(generator=stylegan2\)",
    ):
        build_state(run, run.dataset.spec())


def _setup(tiny_overrides: list[str], *overrides: str, seed: int = 0):
    run = _run(tiny_overrides, *STYLEGAN_ADAM, *MAPPED, *LAZY_BOTH, *overrides)
    strategy = run.strategy.create()
    keras.utils.set_random_seed(seed)  # the same initial weights for every variant
    with strategy.scope():
        state = build_state(run, run.dataset.spec())
    step = build_train_step(run, state, strategy, run.trainer.batch_size)
    batches = train_dataset(run.dataset.load(), batch_size=run.trainer.batch_size, seed=0)
    return state, step, iter(strategy.experimental_distribute_dataset(batches))


def test_lazy_r1_and_path_length_train_with_adjusted_optimizers(
    tiny_overrides, tmp_path: Path
) -> None:
    state, step, iterator = _setup(tiny_overrides)
    assert [(p.name, p.interval) for p in step.phases] == [
        ("discriminator", 1),
        ("discriminator_regularization", 2),
        ("generator", 1),
        ("generator_regularization", 2),
    ]
    for optimizer in (state.g_optimizer, state.d_optimizer):
        assert _lr(optimizer) == pytest.approx(0.0025 * 2 / 3, rel=1e-6)
        assert optimizer.beta_2 == pytest.approx(0.99 ** (2 / 3))
    [pl] = [r for r in state.regularizers if r.key == "path_length"]
    assert pl.style_mixing_prob == 0.9  # the generator's own
    means, records = [], []
    for _ in range(3):
        records.append({k: float(v) for k, v in step(iterator, 1).items()})
        means.append(float(pl.pl_mean.numpy()))
    # G's lazy phase ran at steps 0 and 2: 3 + 2 G updates, the running mean moved twice.
    assert int(state.g_optimizer.iterations.numpy()) == 5
    assert int(state.d_optimizer.iterations.numpy()) == 5
    assert 0.0 < means[0] == means[1] != means[2]
    assert [r["g_pl_mean"] for r in records] == pytest.approx([means[0], means[0], means[2]])
    assert records[0]["g_path_length"] > 0 and records[0]["d_r1"] > 0
    assert all(np.isfinite(v) for r in records for v in r.values())

    # The running mean is in the checkpoint and restored exactly.
    prefix = Checkpoints(state.checkpoint(), tmp_path, step=state.step, max_to_keep=1).save()
    fresh, _, _ = _setup(tiny_overrides, seed=1)
    [fresh_pl] = [r for r in fresh.regularizers if r.key == "path_length"]
    assert float(fresh_pl.pl_mean.numpy()) == 0.0
    Checkpoints(fresh.checkpoint(), tmp_path / "x", step=fresh.step, max_to_keep=1).restore(prefix)
    assert float(fresh_pl.pl_mean.numpy()) == means[2]


def test_path_length_counts_the_same_under_two_replicas(tiny_overrides) -> None:
    """The PL rows, draws and running mean do not depend on the replica count (per-replica
    batch 8, batch_shrink 2: the same 8 of the global 16 examples)."""
    results = []
    for extra in ([], MIRRORED):
        state, step, iterator = _setup(tiny_overrides, *extra, "discriminator.dropout=0.0")
        metrics = [float(step(iterator, 1)["g_path_length"]) for _ in range(2)]
        [pl] = [r for r in state.regularizers if r.key == "path_length"]
        weights = [tf.convert_to_tensor(v).numpy() for v in state.generator.trainable_variables]
        results.append((metrics, float(pl.pl_mean.numpy()), weights))
    (m1, mean1, w1), (m2, mean2, w2) = results
    np.testing.assert_allclose(m2, m1, rtol=1e-4)
    assert mean2 == pytest.approx(mean1, rel=1e-5) and mean1 > 0
    for a, b in zip(w2, w1, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_stylegan2_trains_with_lazy_r1_and_path_length(tiny_cifar10) -> None:
    """generator=stylegan2's own mapping mixes the PL batch's styles (its mapping takes
    style_mixing); both lazy phases run and G's adjusted Adam updates through the PL term."""
    tiny = [*TINY_STYLEGAN2, "trainer.batch_size=4"]
    run = load_run_config(
        compose_config(
            overrides=[
                "dataset=cifar10",
                f"dataset.path={tiny_cifar10[0]}",
                *tiny,
                *LAZY_BOTH,
            ]
        )
    )
    data = run.dataset.load()
    state = build_state(run, data.spec)
    [pl] = [r for r in state.regularizers if r.key == "path_length"]
    assert pl.own_mixing and pl.style_mixing_prob is None
    step = build_train_step(run, state, tf.distribute.get_strategy(), 4)
    assert [p.name for p in step.phases][-1] == "generator_regularization"
    iterator = iter(train_dataset(data, batch_size=4, seed=0))
    records = [{k: float(v) for k, v in step(iterator, 1).items()} for _ in range(2)]
    assert all(np.isfinite(v) for r in records for v in r.values())
    assert records[0]["g_path_length"] > 0 and float(pl.pl_mean.numpy()) > 0
    assert int(state.g_optimizer.iterations.numpy()) == 2 + 1
