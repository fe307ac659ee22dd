"""Sweep plumbing: the objective value, failure records, job isolation (HParams:
test_tensorboard_tags.py)."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import pytest
import tensorflow as tf
from omegaconf import OmegaConf
from tensorflow.python.framework import config as tf_config

from gantrain.errors import ConfigError, DatasetError
from gantrain.sweeps import (
    ObjectiveConfig,
    SweepCallback,
    continuing_tpe_sampler,
    load_objective,
    read_failure,
    record_failure,
    sqlite_path,
)
from gantrain.training.isolation import isolated_job
from tests.conftest import compose_config


def test_objective_returns_the_metric_of_the_final_step() -> None:
    objective = ObjectiveConfig(metric="d_loss")
    assert objective.value({"g_loss": 0.7, "d_loss": 1.25}) == 1.25


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_diverged_metric_gives_a_large_finite_value(bad: float) -> None:
    minimize = ObjectiveConfig(metric="g_loss", diverged_value=1e6)
    assert minimize.value({"g_loss": bad}) == 1e6
    maximize = ObjectiveConfig(metric="g_loss", direction="maximize", diverged_value=1e6)
    assert maximize.value({"g_loss": bad}) == -1e6


def test_nan_losses_mark_a_run_diverged_whatever_its_metric() -> None:
    objective = ObjectiveConfig(metric="fid", diverged_value=1e6)
    assert objective.value({"fid": 1372.0, "g_loss": math.nan, "d_loss": math.nan}) == 1e6
    assert objective.value({"fid": 12.5, "g_loss": 0.7, "d_loss": 1.3}) == 12.5


def test_objective_of_a_run_that_trained_nothing_is_none() -> None:
    assert ObjectiveConfig().value({}) is None


def test_unknown_objective_metric_names_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"objective.metric=fid: .*d_loss, g_loss"):
        ObjectiveConfig(metric="fid").value({"g_loss": 1.0, "d_loss": 2.0})


def test_objective_config_is_validated() -> None:
    cfg = compose_config(overrides=["objective.direction=up"])
    with pytest.raises(ConfigError, match="objective.direction='up'"):
        load_objective(cfg)
    cfg = compose_config(overrides=["objective.diverged_value=-1"])
    with pytest.raises(ConfigError, match="objective.diverged_value"):
        load_objective(cfg)
    assert load_objective(compose_config()) == ObjectiveConfig()


def test_failure_record_round_trip(tmp_path: Path) -> None:
    assert read_failure(tmp_path) is None
    try:
        raise DatasetError("dataset.path=x: no such file; give an existing mnist.npz.")
    except DatasetError as error:
        path = record_failure(tmp_path / "job", error)
    record = read_failure(tmp_path / "job")
    assert path.name == "failure.json"
    assert record["error"] == "DatasetError" and record["user_error"] is True
    assert record["message"].startswith("dataset.path=x: no such file")
    assert "Traceback" in record["traceback"]


def test_callback_creates_the_sqlite_folder_and_lists_failures(tmp_path: Path, caplog) -> None:
    database = tmp_path / "studies" / "deep" / "optuna.db"
    config = OmegaConf.create(
        {
            "hydra": {
                "sweeper": {"storage": f"sqlite:///{database}"},
                "sweep": {"dir": str(tmp_path / "sweep")},
            }
        }
    )
    SweepCallback().on_multirun_start(config)
    assert database.parent.is_dir()
    record_failure(tmp_path / "sweep" / "1", ConfigError("trainer.batch_size=0: bad."))
    with caplog.at_level("ERROR", logger="gantrain"):
        SweepCallback().on_multirun_end(config)
    assert "1 job(s) of the sweep" in caplog.text and "trainer.batch_size=0" in caplog.text
    assert sqlite_path("sqlite:///rel/o.db") == Path("rel/o.db")
    assert sqlite_path("postgresql://host/db") is None


def test_isolated_job_restores_global_state_even_when_the_job_fails() -> None:
    assert keras.mixed_precision.global_policy().name == "float32"
    assert not tf_config.is_op_determinism_enabled()
    keras.layers.Dense(1, name=None)  # the name counter now has a "dense"
    with pytest.raises(RuntimeError), isolated_job():
        keras.mixed_precision.set_global_policy("mixed_float16")
        tf.config.experimental.enable_op_determinism()
        tf.config.run_functions_eagerly(True)
        keras.layers.Dense(1)
        raise RuntimeError("job failed half-way")
    assert keras.mixed_precision.global_policy().name == "float32"
    assert not tf_config.is_op_determinism_enabled()
    assert not tf.config.functions_run_eagerly()
    # Layer names start over, as in a fresh process.
    assert keras.layers.Dense(1).name == "dense"


@pytest.mark.parametrize(
    ("launcher", "target", "settings"),
    [
        ("parallel", "JoblibLauncher", {"n_jobs": 2, "prefer": "processes"}),
        ("slurm", "SlurmLauncher", {"gpus_per_node": 1, "max_num_timeout": 3}),
    ],
)
def test_launcher_configs_compose(launcher: str, target: str, settings: dict) -> None:
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
        cfg = compose("train", [f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith(target)
    for key, value in settings.items():
        assert cfg.hydra.launcher[key] == value


def test_hparams_search_config_composes_an_optuna_study() -> None:
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="gantrain.configs", version_base="1.3"):
        cfg = compose(
            "train",
            ["hparams_search=dcgan_mnist", "objective.direction=maximize"],
            return_hydra_config=True,
        )
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    assert sweeper.sampler._target_ == "gantrain.sweeps.continuing_tpe_sampler"
    assert sweeper.sampler.seed == 0 and sweeper.sampler.study_name == "dcgan_mnist"
    assert sweeper.sampler.storage == sweeper.storage
    assert sweeper.direction == "maximize"  # follows objective.direction
    assert sweeper.storage == "sqlite:///outputs/hparams_search/dcgan_mnist/optuna.db"
    assert "optimizer.generator.lr" in sweeper.params


def test_continuing_sampler_does_not_repeat_a_stored_study(tmp_path: Path) -> None:
    import optuna

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    space = {"x": optuna.distributions.UniformDistribution(0.0, 1.0)}

    def first_proposal(study_name: str) -> float:
        sampler = continuing_tpe_sampler(seed=0, study_name=study_name, storage=storage)
        study = optuna.create_study(study_name=study_name, storage=storage, sampler=sampler,
                                    load_if_exists=True)  # fmt: skip
        trial = study.ask(space)
        study.tell(trial, 1.0)
        return trial.params["x"]

    fresh = first_proposal("a")
    assert first_proposal("b") == fresh  # same seed, same (empty) history: same proposal
    for _ in range(2):
        first_proposal("c")
    continued = first_proposal("c")
    assert continued != fresh  # a plain seeded TPESampler would propose `fresh` again
    stored = optuna.load_study(study_name="c", storage=storage)
    assert len({t.params["x"] for t in stored.trials}) == 3


def test_cli_precheck_lets_an_hparams_search_take_sweep_overrides() -> None:
    from gantrain.overrides import check_overrides

    lr = "optimizer.discriminator.lr=choice(2e-4,1e10)"
    assert check_overrides("train", ["hparams_search=dcgan_mnist", lr]) is None
    # Without a config that asks for a multirun, the pre-check still says it in one line.
    assert "requires --multirun" in check_overrides("train", [lr])
