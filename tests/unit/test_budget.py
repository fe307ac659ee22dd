"""Machine-independent budgets: trainer.max_kimg and trainer.max_time (decisions, validation)."""

from __future__ import annotations

import pytest

from gantrain.budget import kimg_steps, parse_max_time, target_steps
from gantrain.config import load_run_config
from gantrain.errors import ConfigError
from tests.conftest import compose_config


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        (0, None),
        ("0", None),
        (600, 600.0),
        ("90.5", 90.5),
        ("00:10:00", 600.0),
        ("1:02:03", 3723.0),
        ("01:00:00:00", 86400.0),
    ],
)
def test_max_time_takes_seconds_or_a_duration(value, seconds) -> None:
    assert parse_max_time(value) == seconds


@pytest.mark.parametrize("value", ["ten minutes", "-5", "nan", "inf", "00:xx:00", True])
def test_bad_max_time_is_one_clear_error(value) -> None:
    with pytest.raises(ConfigError, match="trainer.max_time="):
        parse_max_time(value)


def test_kimg_budget_counts_real_images_of_every_d_update() -> None:
    assert kimg_steps(1.0, 32) == 32  # 1000 / 32 = 31.25, rounded up
    assert kimg_steps(0.64, 16, n_critic=2) == 20
    assert kimg_steps(0.32, 32) == 10  # exact: no extra step from float rounding
    assert target_steps(100, 0.0, 32) == 100  # off
    assert target_steps(100, 0.64, 16, 2) == 20  # kimg binds
    assert target_steps(5, 0.64, 16, 2) == 5  # max_steps binds


def test_stop_condition_decides_by_steps_images_and_time() -> None:
    from gantrain.training.loop import StopCondition

    stop = StopCondition(100, 1, max_kimg=0.64, images_per_step=32, max_time=60.0)
    assert stop.target_steps == 20 and stop.steps_for_next_call(18) == 1
    assert not stop.finished(19, 59.9)
    assert stop.finished(20, 0.0) and "trainer.max_kimg=0.64" in stop.reason(20)
    assert stop.finished(5, 60.0) and stop.reason(5, 60.0).startswith("trainer.max_time=60s")
    assert "raise trainer.max_time" in stop.nothing_to_do(5, 61.0)
    assert stop.nothing_to_do(5, 10.0) is None
    assert StopCondition(4, 2).steps_for_next_call(3) == 1
    assert "raise trainer.max_steps" in StopCondition(4).nothing_to_do(4)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_kimg=-1", "trainer.max_kimg=-1.0: must be a finite number >= 0"),
        ("trainer.max_kimg=nan", "trainer.max_kimg"),
        ("trainer.max_kimg=inf", "trainer.max_kimg"),
        ("trainer.max_time=soon", "trainer.max_time='soon'"),
        ("trainer.max_time=-3", "trainer.max_time=-3"),
    ],
)
def test_budgets_are_validated_at_startup(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_run_config(compose_config(overrides=[override]))


def test_default_budgets_are_off() -> None:
    trainer = load_run_config(compose_config()).trainer
    assert trainer.max_kimg == 0 and trainer.max_time is None
    trainer = load_run_config(compose_config(overrides=["trainer.max_time=00:10:00"])).trainer
    assert parse_max_time(trainer.max_time) == 600.0
