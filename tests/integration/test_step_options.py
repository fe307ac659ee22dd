"""trainer.precision, trainer.jit_compile and trainer.steps_per_loop, trained in-process."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from gantrain.config import load_run_config
from gantrain.errors import ConfigError
from gantrain.logging.stats import read_jsonl
from gantrain.training.build import build_loss, build_state
from gantrain.training.loop import train
from gantrain.training.precision import precision_policy
from gantrain.training.step import TrainStep
from tests.conftest import MIRRORED, compose_config

LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")


def _config(overrides: list[str], **trainer):
    extra = [f"trainer.{k}={v}" for k, v in trainer.items()]
    return compose_config(overrides=[*overrides, *extra])


def _train(overrides: list[str], run_dir: Path, **trainer):
    return train(load_run_config(_config(overrides, **trainer)), run_dir)


def _losses(run_dir: Path) -> dict[int, list[float]]:
    return {r["step"]: [r[k] for k in LOSSES] for r in read_jsonl(run_dir / "stats.jsonl")}


def test_steps_per_loop_gives_the_same_losses_as_one_step_per_call(
    tiny_overrides, tmp_path: Path
) -> None:
    every = {"max_steps": 4, "log_every": 2, "sample_every": 4, "checkpoint_every": 4}
    _train(tiny_overrides, tmp_path / "one", steps_per_loop=1, **every)
    result = _train(tiny_overrides, tmp_path / "two", steps_per_loop=2, **every)
    assert result.step == 4
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert sorted(two) == [2, 4]
    for step in (2, 4):
        np.testing.assert_allclose(two[step], one[step], rtol=1e-5, err_msg=f"step {step}")
    assert (tmp_path / "two" / "checkpoints" / "ckpt-4.index").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("precision", "compute", "wrapped"),
    [("mixed_float16", "float16", True), ("mixed_bfloat16", "bfloat16", False)],
)
def test_mixed_precision_trains_and_resets_the_policy(
    tiny_overrides, tmp_path: Path, precision: str, compute: str, wrapped: bool
) -> None:
    run = load_run_config(_config(tiny_overrides, precision=precision, max_steps=2, log_every=1))
    with precision_policy(precision):
        state = build_state(run, run.dataset.spec())
    assert state.generator.layers[1].compute_dtype == compute
    assert state.generator.layers[1].variable_dtype == "float32"
    assert keras.backend.standardize_dtype(state.generator.output.dtype) == "float32"
    assert keras.backend.standardize_dtype(state.discriminator.output.dtype) == "float32"
    for optimizer in (state.g_optimizer, state.d_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) is wrapped

    result = train(run, tmp_path)
    assert result.step == 2
    assert np.isfinite([result.metrics["g_loss"], result.metrics["d_loss"]]).all()
    assert keras.mixed_precision.global_policy().name == "float32"


def test_policy_is_reset_when_a_run_fails(tiny_overrides, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not divide"):
        _train([*tiny_overrides, *MIRRORED], tmp_path, precision="mixed_float16", batch_size=15)
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.precision=float8", "trainer.precision='float8': use one of float32"),
        ("trainer.jit_compile=maybe", "trainer.jit_compile"),
    ],
)
def test_bad_precision_or_jit_values_fail_at_startup(override: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_run_config(compose_config(overrides=[override]))


def test_a_model_with_float16_outputs_is_refused(tiny_overrides) -> None:
    cfg = _config(tiny_overrides, precision="mixed_float16")
    cfg.discriminator = OmegaConf.create(
        {"_target_": "tests.integration.test_step_options.float16_logits_discriminator"}
    )
    run = load_run_config(cfg)
    with precision_policy("mixed_float16"), pytest.raises(ConfigError, match='dtype="float32"'):
        build_state(run, run.dataset.spec())


def float16_logits_discriminator(*, image_shape) -> keras.Model:
    """A discriminator that forgets to keep its logits in float32."""
    images = keras.Input(tuple(image_shape))
    x = keras.layers.Flatten()(images)
    return keras.Model(images, keras.layers.Dense(1)(x))


def _mixed_step(run, strategy):
    with precision_policy("mixed_float16"), strategy.scope():
        state = build_state(run, run.dataset.spec())
    step = TrainStep(state, build_loss(run), strategy, global_batch_size=16, steps_per_loop=1)
    return state, step


def _values(variables) -> list[np.ndarray]:
    return [tf.convert_to_tensor(v).numpy().copy() for v in variables]


def _batches(strategy, images: np.ndarray):
    batch = {"image": tf.constant(images), "label": tf.zeros([len(images)], tf.int32)}
    return iter(
        strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch).repeat())
    )


def test_overflow_in_the_d_step_skips_only_ds_update(tiny_overrides) -> None:
    run = load_run_config(_config(tiny_overrides, precision="mixed_float16"))
    strategy = tf.distribute.get_strategy()
    state, step = _mixed_step(run, strategy)
    # A loss scale this large overflows float16 gradients in D's step, and only there.
    state.d_optimizer.dynamic_scale.assign(1e30)
    g_scale = float(state.g_optimizer.dynamic_scale.numpy())
    d_before, g_before = (
        _values(state.discriminator.trainable_variables),
        _values(state.generator.trainable_variables),
    )
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32)
    step(_batches(strategy, images), 1)

    for before, after in zip(
        d_before, _values(state.discriminator.trainable_variables), strict=True
    ):
        np.testing.assert_array_equal(after, before)
    assert float(state.d_optimizer.dynamic_scale.numpy()) == pytest.approx(5e29)
    g_after = _values(state.generator.trainable_variables)
    assert all(np.isfinite(v).all() for v in g_after)
    assert any(not np.array_equal(a, b) for a, b in zip(g_after, g_before, strict=True))
    assert float(state.g_optimizer.dynamic_scale.numpy()) == g_scale
    assert int(state.step.numpy()) == 1


def test_a_nan_on_one_replica_under_mixed_float16_skips_the_step_on_all(tiny_overrides) -> None:
    # Replica 1's real images overflow float16, so its D loss is NaN; replica 0's is finite.
    # The NaN guard (nonfinite.py) skips D's update on both replicas, before the loss-scale
    # optimizer sees it; G's step goes on. (An overflow in the gradients alone is made to
    # agree over replicas by precision._agree_on_overflow: tests/unit/test_precision.py.)
    run = load_run_config(_config([*tiny_overrides, *MIRRORED], precision="mixed_float16"))
    strategy = run.strategy.create()
    state, step = _mixed_step(run, strategy)
    d_before = _values(state.discriminator.trainable_variables)
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32)
    images[8:] = 1e6
    step(_batches(strategy, images), 1)

    for before, after in zip(
        d_before, _values(state.discriminator.trainable_variables), strict=True
    ):
        np.testing.assert_array_equal(after, before)
    assert int(state.skipped_updates.numpy()) == 1
    assert all(np.isfinite(v).all() for v in _values(state.generator.trainable_variables))


@pytest.mark.slow
def test_jit_compile_trains_like_the_default_step(tiny_overrides, tmp_path: Path) -> None:
    # XLA draws random numbers (latents, dropout masks) with its own kernels: same
    # distributions, other values. D(x) on the first real batch involves no randomness (no
    # dropout here), so there both steps must agree; after that only finiteness is comparable.
    overrides = [*tiny_overrides, "discriminator.dropout=0"]
    every = {"max_steps": 3, "log_every": 1}
    _train(overrides, tmp_path / "plain", **every)
    result = _train(overrides, tmp_path / "xla", jit_compile="true", **every)
    assert result.step == 3
    plain, xla = _losses(tmp_path / "plain"), _losses(tmp_path / "xla")
    d_real = LOSSES.index("d_real")
    assert xla[1][d_real] == pytest.approx(plain[1][d_real], rel=1e-4)
    assert np.isfinite([xla[step] for step in (1, 2, 3)]).all()


def test_jit_compile_failure_names_the_option(tiny_overrides, tmp_path: Path) -> None:
    cfg = _config(tiny_overrides, jit_compile="true", max_steps=1)
    cfg.discriminator = OmegaConf.create(
        {"_target_": "tests.integration.test_step_options.uncompilable_discriminator"}
    )
    with pytest.raises(ConfigError) as caught:
        train(load_run_config(cfg), tmp_path)
    message = str(caught.value)
    assert "XLA cannot compile" in message and "PyFunc" in message
    assert "trainer.jit_compile=false" in message and "\n" not in message


def test_jit_compile_under_mirrored_cpus_fails_in_one_clear_line(tiny_overrides, tmp_path) -> None:
    # XLA cannot run the replica step of MirroredStrategy over logical CPU devices on TF 2.21
    # (a replica's variable is read from another device); the user gets the option to turn off.
    with pytest.raises(ConfigError) as caught:
        _train([*tiny_overrides, *MIRRORED], tmp_path, jit_compile="true", max_steps=1)
    message = str(caught.value)
    assert "another device" in message and "trainer.jit_compile=false" in message
    assert "\n" not in message


class _HostRoundTrip(keras.layers.Layer):
    """Adds zero computed in Python (tf.numpy_function): an op XLA cannot compile."""

    def call(self, x):
        zero = tf.numpy_function(lambda a: np.zeros_like(a), [x], tf.float32, stateful=False)
        return x + tf.stop_gradient(tf.ensure_shape(zero, x.shape))


def uncompilable_discriminator(*, image_shape) -> keras.Model:
    images = keras.Input(tuple(image_shape))
    x = _HostRoundTrip()(keras.layers.Flatten()(images))
    return keras.Model(images, keras.layers.Dense(1, dtype="float32")(x))
