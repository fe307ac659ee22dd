"""Bad input gets one clear line (the rest of the list lives in test_config.py, test_data.py,
test_checkpoint.py and tests/e2e/test_cli.py; the README's Reliability table maps them)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from gantrain.config import build, load_run_config
from gantrain.distribute import per_replica_batch_size
from gantrain.errors import ConfigError
from gantrain.overrides import check_overrides
from tests.conftest import compose_config


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["trainer.max_stepz=3"],
            "gantrain: trainer.max_stepz: unknown key. Valid keys of trainer: max_steps, ",
        ),
        (
            ["generator=dcgan", "generator.foo.bar=1"],
            "gantrain: generator.foo.bar: unknown key. Valid keys of generator: _target_, ",
        ),
        (["trainer.batch_size=[1,2"], "gantrain: cannot apply the overrides: no viable"),
    ],
)
def test_overrides_hydra_cannot_apply_are_one_line(args: list[str], expected: str) -> None:
    problem = check_overrides("train", args)
    assert problem is not None and problem.startswith(expected), problem
    assert "\n" not in problem


def test_valid_overrides_and_sweeps_pass_the_check() -> None:
    assert check_overrides("train", ["trainer.max_steps=3", "+trainer.extra=1"]) is None
    assert check_overrides("train", ["-m", "trainer.max_stepz=1,2"]) is None  # Hydra's
    assert check_overrides("no-such-command", ["x.y=1"]) is None


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.on_nan=ignore", "trainer.on_nan='ignore': use stop or skip."),
        ("trainer.deterministic=maybe", "trainer.deterministic: Value 'maybe'"),
        ("trainer.checkpoints_to_keep=0", "trainer.checkpoints_to_keep=0: must be a positive"),
        ("trainer.max_steps=-1", "trainer.max_steps=-1: must be a positive"),
        ("trainer.n_critic=0", "trainer.n_critic=0: must be a positive"),
    ],
)
def test_bad_trainer_values_name_their_key(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_run_config(compose_config(overrides=[override]))
    assert expected in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("lr", ["0", "-1e-4"])
def test_non_positive_learning_rate_is_a_config_error(lr: str) -> None:
    run = load_run_config(compose_config(overrides=[f"optimizer.discriminator.lr={lr}"]))
    with pytest.raises(ConfigError) as info:
        build(run.optimizer_discriminator, "optimizer.discriminator")
    assert str(info.value).startswith("optimizer.discriminator: ")
    assert f"rejected its arguments: lr={float(lr):g} must be positive" in str(info.value)


def test_batch_not_divisible_by_replicas_names_both() -> None:
    strategy = types.SimpleNamespace(num_replicas_in_sync=3)
    assert per_replica_batch_size(strategy, 12) == 4
    with pytest.raises(ConfigError) as info:
        per_replica_batch_size(strategy, 16)
    assert str(info.value) == (
        "trainer.batch_size=16 does not divide evenly over 3 replicas; use a multiple of 3."
    )


def test_a_run_dir_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    problem = check_overrides("train", [f"hydra.run.dir={blocker}/run"])
    assert problem == (
        f"gantrain: cannot create the run dir {blocker}/run: {blocker} is not a directory; "
        "pick another hydra.run.dir."
    )
    assert check_overrides("train", [f"hydra.run.dir={tmp_path}/new/run"]) is None
