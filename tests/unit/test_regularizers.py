"""The `regularizer` config group: composition, validation, legacy configs, the protocol."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from gantrain.config import load_run_config, upgrade_legacy_penalties
from gantrain.errors import ConfigError
from gantrain.regularizers import Regularizer, build_regularizers
from gantrain.regularizers.gradient_penalty import GradientPenalty
from gantrain.regularizers.r1 import R1
from gantrain.training.phases import check_regularizers, lazy_groups, slots_per_step
from tests.conftest import compose_config


def _built(*overrides: str) -> list[Regularizer]:
    return build_regularizers(
        load_run_config(compose_config(overrides=list(overrides))).regularizers
    )


def test_regularizers_combine_with_any_loss_from_the_command_line() -> None:
    [r1] = _built("loss=hinge", "regularizer=[r1]", "regularizer.r1.gamma=4")
    assert isinstance(r1, R1) and (r1.key, r1.weight, r1.interval) == ("r1", 2.0, 1)
    both = _built("regularizer=[gradient_penalty,r1]", "regularizer.r1.interval=16")
    assert [(type(r), r.key, r.interval) for r in both] == [
        (GradientPenalty, "gradient_penalty", 1),
        (R1, "r1", 16),
    ]
    assert _built() == []


def test_bundled_losses_bring_their_penalty() -> None:
    for overrides in (["loss=wgan_gp"], ["experiment=wgan_gp_mnist"]):
        [gp] = _built(*overrides)
        assert isinstance(gp, GradientPenalty) and gp.weight == 10.0
    [r1] = _built("loss=r1", "regularizer.r1.interval=16")
    assert (r1.weight, r1.interval) == (5.0, 16)


def test_weight_zero_turns_a_regularizer_off() -> None:
    assert _built("regularizer=[r1]", "regularizer.r1.gamma=0") == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["regularizer=[r1]", "+regularizer.r1.gama=1"], "regularizer.r1.gama: unknown argument"),
        (["+regularizer.mine.weight=1"], "regularizer.mine: not a regularizer (no _target_)"),
    ],
)
def test_a_typo_in_a_regularizer_is_one_config_error(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_run_config(compose_config(overrides=overrides))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("interval", 0, "interval=0: must be an integer >= 1"),
        ("gamma", -1.0, "gamma=-1.0: must be >= 0"),
        ("gamma", float("nan"), "gamma=nan: must be a finite number"),
    ],
)
def test_bad_regularizer_values_are_one_config_error(key: str, value, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _built("regularizer=[r1]", f"regularizer.r1.{key}={value}")
    assert "regularizer.r1" in str(info.value) and message in str(info.value)


def test_configs_of_older_run_dirs_are_upgraded() -> None:
    """Run dirs trained when penalties were loss keys keep sampling and evaluating."""
    cfg = compose_config(overrides=["loss=hinge"])
    with pytest.raises(AttributeError):
        cfg.loss.gp_weight  # noqa: B018 (today's shape has no such key)
    OmegaConf.set_struct(cfg, False)
    cfg.loss.gp_weight, cfg.loss.r1_gamma, cfg.loss.penalty_interval = 10.0, 0.0, 4
    upgraded = upgrade_legacy_penalties(cfg)
    assert "gp_weight" not in upgraded.loss and "gp_weight" in cfg.loss  # a copy
    [gp] = build_regularizers(load_run_config(upgraded).regularizers)
    assert isinstance(gp, GradientPenalty) and (gp.weight, gp.interval) == (10.0, 4)
    plain = compose_config(overrides=["loss=hinge"])
    assert upgrade_legacy_penalties(plain) is plain


class _NeedsLogits(Regularizer):
    needs_logits = True

    def __init__(self, *, interval: int = 1) -> None:
        super().__init__(weight=1.0, interval=interval)


def test_a_regularizer_of_the_adversarial_pass_cannot_be_lazy() -> None:
    check_regularizers([_NeedsLogits()])
    with pytest.raises(
        ConfigError, match="regularizer.needs_logits.interval=4: it uses D's outputs"
    ):
        check_regularizers([_NeedsLogits(interval=4)])


def test_lazy_phases_group_by_model_and_interval_and_keep_the_old_slots() -> None:
    d16, d4 = R1(interval=16), GradientPenalty(interval=4)
    g4 = _NeedsLogits(interval=4)
    g4.applies_to = "generator"
    groups = lazy_groups([d16, R1(), d4, g4])
    assert [(g.applies_to, g.interval, len(g.regularizers)) for g in groups] == [
        ("discriminator", 4, 1),
        ("discriminator", 16, 1),
        ("generator", 4, 1),
    ]
    # At least 8 slots, as before regularizers were plugins: the same seeds for old configs.
    assert slots_per_step(1) == slots_per_step(5, [d16]) == 8
    assert slots_per_step(6, [d16, d4, g4]) == 10


def test_random_streams_are_stable_and_distinct() -> None:
    r1 = R1()
    assert r1.stream("noise") == R1().stream("noise") >= 16
    assert r1.stream("noise") != r1.stream("other")
    other = R1()
    other.key = "r1_strong"
    assert other.stream("noise") != r1.stream("noise")
