"""`train hparams_search=dcgan_mnist`: an Optuna study minimizing FID on tiny settings,
diverged trials included, continued after a restart from its SQLite storage."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest
import yaml

from gantrain.logging.stats import read_jsonl
from tests.conftest import TINY, run_gantrain

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STUDY_DIR = Path("outputs/hparams_search/dcgan_mnist")
DIVERGED = 1e9


def study(cwd: Path, *extra: str):
    return run_gantrain(
        "train",
        "hparams_search=dcgan_mnist",
        *TINY,
        # One of the two discriminator learning rates blows the weights up to NaN in 4 steps.
        "optimizer.discriminator.lr=choice(2e-4,1e10)",
        # A small FID protocol: the objective is each trial's final FID.
        "eval.num_samples=256",
        "eval.num_real=256",
        *extra,
        cwd=cwd,
        timeout=600,
    )


def trial_dirs(cwd: Path) -> list[Path]:
    return sorted(
        (p.parent.parent for p in (cwd / STUDY_DIR).glob("*/*/.hydra/overrides.yaml")),
        key=lambda p: (p.parent.name, int(p.name)),
    )


def test_three_trial_study_survives_divergence_and_a_restart(
    tmp_path: Path, tiny_mnist: Path
) -> None:
    first = study(tmp_path, f"dataset.path={tiny_mnist}", "hydra.sweeper.n_trials=3")
    assert first.returncode == 0, first.stderr
    storage = f"sqlite:///{tmp_path / STUDY_DIR / 'optuna.db'}"
    trials = optuna.load_study(study_name="dcgan_mnist", storage=storage).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3

    # Each trial's value is its job's final FID, or the diverged value: a NaN loss stops the
    # job (trainer.on_nan=stop), which the sweep records and scores as the worst value.
    jobs = trial_dirs(tmp_path)
    assert len(jobs) == 3
    for trial, job in zip(trials, jobs, strict=True):
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        lr = trial.params["optimizer.discriminator.lr"]
        assert f"optimizer.discriminator.lr={lr}" in overrides
        if lr > 1:
            failure = json.loads((job / "failure.json").read_text())
            assert failure["error"] == "NonFiniteLossError" and failure["user_error"]
            assert trial.value == DIVERGED
            continue
        final = read_jsonl(job / "stats.jsonl")[-1]
        fid = read_jsonl(job / "metric-fid.jsonl")[-1]
        assert final["step"] == fid["step"] == 4
        assert fid["protocol"]["num_generated"] == 256
        assert trial.value == pytest.approx(fid["fid"], rel=1e-9)
        assert math.isfinite(trial.value)
    values = sorted(t.value for t in trials)
    assert values[0] < DIVERGED and values[-1] == DIVERGED, "want a diverged and a normal trial"
    best = yaml.safe_load(
        next((tmp_path / STUDY_DIR).glob("*/optimization_results.yaml")).read_text()
    )
    assert best["best_value"] == pytest.approx(values[0])

    # Same command again: the study continues from its database.
    second = study(tmp_path, f"dataset.path={tiny_mnist}", "hydra.sweeper.n_trials=1")
    assert second.returncode == 0, second.stderr
    trials = optuna.load_study(study_name="dcgan_mnist", storage=storage).trials
    assert [t.number for t in trials] == [0, 1, 2, 3]
    # The continued study proposes a new trial, not trial 0 again.
    assert trials[3].params not in [t.params for t in trials[:3]]
    assert len(trial_dirs(tmp_path)) == 4
