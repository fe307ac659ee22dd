"""Optimizer builders: every YAML composes and builds its Keras optimizer; bad hyperparameters
are one-line config errors naming the key."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf

from gantrain import optim
from gantrain.config import build, load_run_config
from gantrain.errors import ConfigError
from tests.conftest import REPO, compose_config

OPTIMIZERS = sorted(p.stem for p in (REPO / "configs" / "optimizer").glob("*.yaml"))
# Adam and AdamW: Keras's, with the fused update (tests/unit/test_fused_adam.py).
KERAS_CLASS = {
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}


def _built(
    overrides: list[str], side: str = "discriminator", clock: tf.Variable | None = None
) -> keras.optimizers.Optimizer:
    run = load_run_config(compose_config(overrides=overrides))
    node = getattr(run, f"optimizer_{side}")
    return build(node, f"optimizer.{side}", total_steps=run.trainer.max_steps, clock=clock)


def test_every_optimizer_yaml_is_known() -> None:
    assert set(OPTIMIZERS) == set(KERAS_CLASS)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_yaml_builds_its_optimizer_with_its_values(name: str) -> None:
    config = compose_config(overrides=[f"optimizer@optimizer.discriminator={name}"])
    optimizer = _built([f"optimizer@optimizer.discriminator={name}"])
    assert type(optimizer) is KERAS_CLASS[name]
    assert float(optimizer.learning_rate) == pytest.approx(config.optimizer.discriminator.lr)
    for key, value in config.optimizer.discriminator.items():
        if hasattr(optimizer, key) and key != "_target_":
            assert getattr(optimizer, key) == pytest.approx(value), key
    # The generator keeps its own (default) optimizer.
    assert type(_built([f"optimizer@optimizer.discriminator={name}"], "generator")) is optim.Adam


@pytest.mark.parametrize("name", ["rmsprop", "adamw", "sgd"])
def test_the_linear_schedule_follows_the_gan_step(name: str) -> None:
    step = tf.Variable(75, dtype=tf.int64)
    optimizer = _built(
        [
            f"optimizer@optimizer.discriminator={name}",
            "optimizer.discriminator.lr=1e-3",
            "optimizer.discriminator.schedule=linear",
            "optimizer.discriminator.decay_start=50",
            "trainer.max_steps=100",
        ],
        clock=step,
    )
    assert float(optimizer.learning_rate) == pytest.approx(5e-4, rel=1e-5)


@pytest.mark.parametrize(
    ("name", "setting", "message"),
    [
        ("rmsprop", "lr=nan", "lr=nan must be a finite number"),
        ("rmsprop", "rho=1.0", "rho=1 must be in [0, 1)"),
        ("rmsprop", "momentum=-0.1", "momentum=-0.1 must be in [0, 1)"),
        ("rmsprop", "epsilon=0", "epsilon=0 must be positive"),
        ("rmsprop", "centered=1", "centered=1 must be true or false"),
        ("adamw", "weight_decay=-0.01", "weight_decay=-0.01 must be >= 0"),
        ("adamw", "beta_2=1.5", "beta_2=1.5 must be in [0, 1)"),
        ("adam", "beta_1=-0.5", "beta_1=-0.5 must be in [0, 1)"),
        ("adam", "lr=inf", "lr=inf must be a finite number"),
        ("sgd", "lr=0", "lr=0 must be positive"),
        ("sgd", "momentum=1.0", "momentum=1 must be in [0, 1)"),
        ("sgd", "nesterov=true", "nesterov=true needs momentum > 0"),
        ("sgd", "final_lr=-1", "final_lr=-1 must be >= 0"),
    ],
)
def test_bad_hyperparameters_are_one_line_config_errors(
    name: str, setting: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _built([f"optimizer@optimizer.discriminator={name}", f"optimizer.discriminator.{setting}"])
    text = str(info.value)
    assert "\n" not in text
    if "finite" in message:  # NaN/inf: rejected by the config check before any builder runs
        key = setting.split("=")[0]
        assert text.startswith(f"optimizer.discriminator.{key}=") and "finite number" in text
        return
    assert text.startswith(f"optimizer.discriminator: gantrain.optim.{name} rejected")
    assert message in text


def test_an_argument_of_another_optimizer_is_an_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"optimizer.generator.beta_1: unknown argument .*sgd"):
        load_run_config(
            compose_config(
                overrides=["optimizer@optimizer.generator=sgd", "+optimizer.generator.beta_1=0.5"]
            )
        )
