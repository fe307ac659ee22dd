"""trainer.update (alternating | simultaneous) and trainer.fused_d_pass on tiny models: the
simultaneous step equals a hand-written two-tape step (the origin's), the fused D pass equals
two calls, where simultaneous cannot hold the run alternates and says so in one line, and
resume stays exact."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrain.config import load_run_config
from gantrain.data.pipeline import train_dataset
from gantrain.errors import ConfigError
from gantrain.training.build import build_state, build_train_step
from gantrain.training.loop import train
from tests.conftest import assert_resume_is_exact, compose_config

# No dropout: the hand-written step and the fused pass must see the same D function as the
# framework's calls (dropout masks depend on how many calls draw them).
EXACT = ["discriminator.dropout=0", "trainer.ema_decay=0"]


def _built(tiny_overrides: list[str], *overrides: str):
    run = load_run_config(compose_config(overrides=[*tiny_overrides, *overrides]))
    data = run.dataset.load()
    keras.utils.set_random_seed(run.trainer.seed)  # the same initial weights every time
    state = build_state(run, data.spec)
    step = build_train_step(run, state, tf.distribute.get_strategy(), run.trainer.batch_size)
    batches = train_dataset(data, batch_size=run.trainer.batch_size, seed=run.trainer.seed)
    return run, state, step, batches


def _weights(state) -> list[np.ndarray]:
    return [v.numpy() for v in (*state.generator.weights, *state.discriminator.weights)]


def test_simultaneous_step_equals_a_hand_written_two_tape_step(tiny_overrides) -> None:
    _, state, step, batches = _built(tiny_overrides, *EXACT, "trainer.update=simultaneous")
    assert step.simultaneous
    initial = _weights(state)
    metrics = step(iter(batches), 1)

    # The same initial weights and fresh optimizers, updated by the origin's train_step.
    run, ref, _, batches = _built(tiny_overrides, *EXACT)
    real = next(iter(batches))["image"]
    batch_size, latent_dim = real.shape[0], ref.latent_dim
    # D's slot of step 0: the stateless stream (seed, 0), as phases.py draws it.
    noise = tf.random.stateless_normal([batch_size, latent_dim], seed=[run.trainer.seed, 0])
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    generator, discriminator = ref.generator, ref.discriminator
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        fake = generator(noise, training=True)
        real_output = discriminator(real, training=True)
        fake_output = discriminator(fake, training=True)
        gen_loss = bce(tf.ones_like(fake_output), fake_output)
        disc_loss = bce(tf.ones_like(real_output), real_output) + bce(
            tf.zeros_like(fake_output), fake_output
        )
    g_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
    d_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
    ref.g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables, strict=True))
    ref.d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables, strict=True))

    np.testing.assert_allclose(metrics["d_loss"].numpy(), disc_loss.numpy(), rtol=1e-5)
    np.testing.assert_allclose(metrics["g_loss"].numpy(), gen_loss.numpy(), rtol=1e-5)
    for got, expected in zip(_weights(state), _weights(ref), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # Compared after a real update of both models, not trivially equal initial weights.
    after = _weights(state)
    g_count = len(state.generator.weights)
    for part in (slice(0, g_count), slice(g_count, None)):
        pairs = zip(initial[part], after[part], strict=True)
        assert any(not np.array_equal(a, b) for a, b in pairs)
    assert int(state.g_optimizer.iterations.numpy()) == int(state.d_optimizer.iterations) == 1


def test_simultaneous_differs_from_alternating(tiny_overrides) -> None:
    """Alternating's G loss sees the updated D and a second forward: a different step."""
    _, simultaneous, step, batches = _built(tiny_overrides, *EXACT, "trainer.update=simultaneous")
    step(iter(batches), 1)
    _, alternating, step, batches = _built(tiny_overrides, *EXACT, "trainer.update=alternating")
    step(iter(batches), 1)
    g_sim, g_alt = (s.generator.trainable_weights[0].numpy() for s in (simultaneous, alternating))
    assert not np.allclose(g_sim, g_alt, rtol=1e-6, atol=0)


@pytest.mark.parametrize("update", ["alternating", "simultaneous"])
def test_fused_d_pass_equals_two_calls(tiny_overrides, update: str) -> None:
    results = []
    for fused in ("false", "true"):
        _, state, step, batches = _built(
            tiny_overrides, *EXACT, f"trainer.update={update}", f"trainer.fused_d_pass={fused}"
        )
        iterator = iter(batches)
        metrics = [step(iterator, 1) for _ in range(2)]
        results.append(([float(m["d_loss"]) for m in metrics], _weights(state)))
    (losses_two, weights_two), (losses_one, weights_one) = results
    np.testing.assert_allclose(losses_one, losses_two, rtol=1e-5)
    for one, two in zip(weights_one, weights_two, strict=True):
        np.testing.assert_allclose(one, two, rtol=1e-4, atol=1e-6)


def test_fused_pair_of_a_conditional_acgan_splits_both_heads(tiny_overrides) -> None:
    _, state, step, batches = _built(
        tiny_overrides,
        *EXACT,
        "generator=cdcgan",
        "discriminator=acgan",
        "trainer.fused_d_pass=true",
    )
    losses = step.losses
    batch = next(iter(batches))
    labels = batch["label"]
    fake = state.generator([losses.latents(0), labels], training=True)
    (real_logits, real_classes), (fake_logits, fake_classes) = losses.discriminate_pair(
        batch, fake, labels, 0
    )
    losses.fused_d_pass = False
    two_calls = losses.discriminate_pair(batch, fake, labels, 0)
    for got, expected in zip(
        (real_logits, real_classes, fake_logits, fake_classes),
        (*two_calls[0], *two_calls[1]),
        strict=True,
    ):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert real_classes.shape == (batch["image"].shape[0], 10)


def test_config_refuses_an_unknown_scheme_in_one_line(tiny_overrides) -> None:
    with pytest.raises(ConfigError, match=r"trainer.update='both': choose alternating or") as error:
        load_run_config(compose_config(overrides=[*tiny_overrides, "trainer.update=both"]))
    assert "\n" not in str(error.value)


def test_the_shipped_default_is_simultaneous(tiny_overrides) -> None:
    _, _, step, _ = _built(tiny_overrides)
    assert step.simultaneous


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (["trainer.n_critic=2"], r"trainer.n_critic=2 asks for several D updates per G update"),
        (
            ["regularizer=[r1]", "regularizer.r1.interval=4"],
            r"lazy regularization phase\(s\) discriminator_regularization take their own",
        ),
    ],
)
def test_where_simultaneous_cannot_hold_the_run_alternates_and_says_so(
    tiny_overrides, overrides, reason, caplog
) -> None:
    """Never a silent fallback: one warning line at startup names why."""
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        _, _, step, batches = _built(tiny_overrides, "trainer.update=simultaneous", *overrides)
    assert not step.simultaneous
    (line,) = [r.getMessage() for r in caplog.records if "trainer.update" in r.getMessage()]
    assert re.search(reason, line) and "this run alternates" in line and "\n" not in line
    metrics = step(iter(batches.repeat()), 1)
    assert all(np.isfinite(float(v)) for v in metrics.values())
    # Asked for explicitly, alternating is silent.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        _built(tiny_overrides, "trainer.update=alternating", *overrides)
    assert not [r for r in caplog.records if "trainer.update" in r.getMessage()]


def test_step_refuses_a_fused_pass_over_batch_statistics_in_one_line(tiny_overrides) -> None:
    overrides = ["trainer.fused_d_pass=true", "discriminator.normalization=batch"]
    with pytest.raises(
        ConfigError, match=r"fused_d_pass=true .* batch_normalization.* couple the examples"
    ) as error:
        _built(tiny_overrides, *overrides)
    assert "\n" not in str(error.value)


def test_simultaneous_keeps_every_step_regularizers_and_relativistic_losses(
    tiny_overrides,
) -> None:
    """Interval-1 penalties join D's loss at the same parameters; a relativistic G loss takes
    the real logits of the same D pass."""
    for overrides in (["regularizer=[r1]"], ["loss=relativistic_average"]):
        _, _, step, batches = _built(tiny_overrides, *overrides, "trainer.update=simultaneous")
        metrics = step(iter(batches), 1)
        assert all(np.isfinite(float(v)) for v in metrics.values())
        if overrides == ["regularizer=[r1]"]:
            assert float(metrics["d_r1"]) > 0


@pytest.mark.slow
def test_resume_is_exact_with_simultaneous_updates(tiny_overrides, tmp_path: Path) -> None:
    features = [
        *tiny_overrides,
        "generator=cdcgan",
        "discriminator=dcgan_projection",
        "trainer.update=simultaneous",
        "trainer.ema_decay=0.9",
        "trainer.ema_start=0",
        "trainer.augment=[color,translation]",
        "regularizer=[r1]",
        "trainer.log_every=1",
        "trainer.checkpoint_every=2",
    ]

    def run(run_dir: Path) -> None:
        train(load_run_config(compose_config(overrides=[*features])), run_dir)

    keys = ("d_loss", "g_loss", "d_real", "d_fake", "d_r1")
    # A crash after step 2's checkpoint, resumed from ckpt-2 to step 4 (tests/conftest.py).
    assert_resume_is_exact(run, tmp_path, keys)
