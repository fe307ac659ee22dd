"""Config validation: every mistake fails at startup with the key's name."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from gantrain.config import LoggingConfig, TrainerConfig, load_run_config
from gantrain.data.mnist import MnistSource
from gantrain.distribute import DefaultStrategy
from gantrain.errors import ConfigError
from tests.conftest import compose_config


def test_default_config_validates_into_typed_groups() -> None:
    run = load_run_config(compose_config())
    assert isinstance(run.trainer, TrainerConfig)
    assert isinstance(run.dataset, MnistSource)
    assert isinstance(run.strategy, DefaultStrategy)
    # The default recipe (README, "Default recipe"): batch 32, Adam 2e-4 / 0.5, EMA of G.
    assert run.trainer.batch_size == 32
    assert run.trainer.ema_decay == pytest.approx(0.999) and run.trainer.ema_start == 1000
    assert run.optimizer_generator.lr == pytest.approx(2e-4)
    assert run.optimizer_discriminator.beta_1 == pytest.approx(0.5)


@pytest.mark.parametrize(("cls", "group"), [(TrainerConfig, "trainer"), (LoggingConfig, "logging")])
def test_run_level_values_have_one_source_the_yaml(cls: type, group: str) -> None:
    """A schema default beside the YAML's value could disagree (batch 64 vs 32 did): the
    schema holds types and checks only, every value is in the group's default.yaml."""
    import dataclasses

    from omegaconf import OmegaConf

    defaulted = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    ]
    assert not defaulted, f"give these their value in configs/{group}/default.yaml instead"
    yaml_keys = set(OmegaConf.to_container(compose_config()[group]))
    assert yaml_keys == {f.name for f in dataclasses.fields(cls)}
    if cls is TrainerConfig:  # Python callers get the YAML's values
        assert TrainerConfig.with_defaults(n_critic=2) == dataclasses.replace(
            load_run_config(compose_config()).trainer, n_critic=2
        )


def test_a_key_missing_from_the_trainer_yaml_is_one_config_error() -> None:
    from gantrain.config import structured

    values = OmegaConf.to_container(compose_config().trainer)
    del values["seed"]
    with pytest.raises(ConfigError, match=r"trainer.seed: no value given"):
        structured(values, "trainer", TrainerConfig)


def test_optimizers_are_set_independently() -> None:
    run = load_run_config(compose_config(overrides=["optimizer.discriminator.lr=4e-4"]))
    assert run.optimizer_generator.lr == pytest.approx(2e-4)
    assert run.optimizer_discriminator.lr == pytest.approx(4e-4)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("+trainer.max_stepz=3", "trainer.max_stepz: unknown key"),
        ("trainer.max_steps=abc", "trainer.max_steps"),
        ("trainer.batch_size=0", "trainer.batch_size=0: must be a positive"),
        ("trainer.batch_size=-8", "trainer.batch_size=-8: must be a positive"),
        ("trainer.log_every=3", "not a multiple of trainer.steps_per_loop"),
        ("+dataset.pth=x", "dataset.pth: unknown key"),
        ("dataset.split=validation", "dataset.split='validation'"),
        ("+generator.widht=3", "generator.widht: unknown argument"),
        ("+discriminator.image_shape=[1,2,3]", "derived from the dataset"),
        ("+logging.colour=true", "logging.colour: unknown key"),
        ("logging.stats_file=../escape.jsonl", "logging.stats_file"),
    ],
)
def test_bad_values_name_their_key(override: str, expected: str) -> None:
    if override.startswith("trainer.log_every"):
        override_list = [override, "trainer.steps_per_loop=2"]
    else:
        override_list = [override]
    with pytest.raises(ConfigError, match=None) as info:
        load_run_config(compose_config(overrides=override_list))
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(ConfigError) as info:
        load_run_config(compose_config(overrides=["+trainer.max_stepz=3"]))
    assert "max_steps" in str(info.value)


def test_dataset_target_must_be_a_dataset_source() -> None:
    with pytest.raises(ConfigError, match="not a DatasetSource"):
        load_run_config(
            compose_config(overrides=["dataset._target_=gantrain.distribute.DefaultStrategy"])
        )


def test_unimportable_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot be imported"):
        load_run_config(compose_config(overrides=["generator._target_=nowhere.build"]))


@pytest.mark.parametrize(
    "override",
    [
        "optimizer.generator.lr=nan",
        "optimizer.discriminator.lr=inf",
        "optimizer.generator.beta_1=nan",
        "optimizer.discriminator.beta_2=-inf",
        "trainer.clip_grad_norm=nan",
        "trainer.ema_decay=nan",
        "loss=wgan_gp regularizer.gradient_penalty.weight=inf",
        "regularizer=[r1] regularizer.r1.gamma=nan",
        "generator=dcgan generator.negative_slope=nan",
    ],
)
def test_nan_or_infinite_hyperparameters_are_rejected_naming_the_key(override: str) -> None:
    # `lr <= 0` style range checks let NaN through; a NaN learning rate trained NaN weights.
    *groups, setting = override.split()
    key, value = setting.split("=")
    with pytest.raises(ConfigError) as info:
        load_run_config(compose_config(overrides=[*groups, setting]))
    assert str(info.value) == (
        f"{key}={value.lstrip('+')}: must be a finite number (NaN and infinity are not valid "
        "values)."
    )


def test_a_run_dir_config_from_before_newer_trainer_keys_still_loads() -> None:
    from omegaconf import open_dict

    from gantrain.config import _NEWER_TRAINER_KEYS

    cfg = compose_config(overrides=["regularizer=[r1]", "regularizer.r1.interval=16"])
    with open_dict(cfg):
        for key in _NEWER_TRAINER_KEYS:
            del cfg.trainer[key]
    run = load_run_config(cfg)
    # Trained as it was: no lazy-phase optimizer adjustment, alternating updates, plain EMA.
    assert run.trainer.lazy_adjust is False and run.trainer.update == "alternating"
    assert run.trainer.ema_kimg == 0 and run.trainer.augment_p is None
    today = load_run_config(compose_config()).trainer
    assert today.lazy_adjust is True and today.update == "simultaneous"  # today's defaults
