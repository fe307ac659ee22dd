"""What `train` gives back to a sweep: the objective value, failed jobs, and Hydra callbacks.

A sweep (`python -m gantrain train -m ...`) runs many jobs, with the basic launcher all in one
process. The train task returns the objective (`objective.metric` of the run's final step) so
the Optuna sweeper can minimize or maximize it. Two kinds of bad job must not end a sweep:

- a diverged run (the metric is NaN or inf) returns `objective.diverged_value`, a bad but
  finite number: the Optuna sweeper of hydra-optuna-sweeper 1.3 crashes the whole study on a
  NaN (hydra#2237, fixed later by hydra PR #3451);
- a job that fails with a user error (a `GantrainError`: an impossible combination of values,
  a missing file) logs its one-line message, writes `failure.json` into its run dir and returns
  the same value; the next job starts from a clean process state (`isolated_job`).

Any other exception is a bug: it is recorded in `failure.json` too and re-raised, so Hydra
reports it with its traceback once the batch of jobs has run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gantrain.config import structured
from gantrain.errors import ConfigError, GantrainError

log = logging.getLogger("gantrain")

FAILURE_FILE = "failure.json"
DIRECTIONS = ("minimize", "maximize")
# Final metrics that, when NaN or inf, mean the run diverged whatever its objective says.
DIVERGENCE_SIGNS = ("g_loss", "d_loss")


@dataclass
class ObjectiveConfig:
    """`objective:` in train.yaml: the number the train task returns to a sweeper."""

    # A metric of the run's final step: a loss (g_loss, d_loss, d_real, d_fake, ...) or a
    # metric an evaluator adds to the training result (fid, ...).
    metric: str = "g_loss"
    direction: str = "minimize"
    # Returned instead of NaN/inf and for failed jobs; negated when maximizing.
    diverged_value: float = 1.0e9

    def check(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(
                f"objective.direction={self.direction!r}: must be one of {', '.join(DIRECTIONS)}."
            )
        if not self.metric:
            raise ConfigError("objective.metric is empty: name a metric such as g_loss or fid.")
        if not math.isfinite(self.diverged_value) or self.diverged_value <= 0:
            raise ConfigError(
                f"objective.diverged_value={self.diverged_value}: must be a large positive "
                "finite number (it is negated when maximizing)."
            )

    @property
    def worst(self) -> float:
        """The value of a diverged or failed run: worse than any real one."""
        return self.diverged_value if self.direction == "minimize" else -self.diverged_value

    def value(self, metrics: Mapping[str, float]) -> float | None:
        """The objective of a run whose final metrics are `metrics`.

        None when the run trained no step (it was already at `trainer.max_steps`); the worst
        value when the metric, g_loss or d_loss is NaN or inf. Raises ConfigError when the run
        has no such metric.
        """
        if not metrics:
            return None
        if self.metric not in metrics:
            raise ConfigError(
                f"objective.metric={self.metric}: the run reported no such metric (it has "
                f"{', '.join(sorted(metrics))}); pick one of those."
            )
        value = float(metrics[self.metric])
        # A metric of a diverged generator can look fine (an evaluator scoring NaN images
        # gave a finite FID here), so NaN/inf losses mark a run diverged too.
        bad = [k for k in (self.metric, *DIVERGENCE_SIGNS) if not math.isfinite(metrics.get(k, 0))]
        if bad:
            log.warning(
                "%s not finite: the run diverged; objective %s = objective.diverged_value %g",
                ", ".join(dict.fromkeys(bad)),
                self.metric,
                self.worst,
            )
            return self.worst
        return value


def load_objective(cfg: DictConfig) -> ObjectiveConfig:
    """The validated `objective:` node of a composed train config (defaults if absent)."""
    node = cfg.get("objective")
    if node is None:
        return ObjectiveConfig()
    return structured(node, "objective", ObjectiveConfig)


def record_failure(run_dir: str | os.PathLike, error: BaseException) -> Path:
    """Write `<run_dir>/failure.json`: the error's type, one-line message and traceback."""
    path = Path(run_dir) / FAILURE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "error": type(error).__name__,
        "message": str(error).splitlines()[0] if str(error) else type(error).__name__,
        "user_error": isinstance(error, GantrainError),
        "traceback": "".join(traceback.format_exception(error)),
    }
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def read_failure(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The failure record of a run dir, or None if the job did not fail."""
    path = Path(run_dir) / FAILURE_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {"error": "unknown", "message": f"unreadable {path}"}


def sqlite_path(storage: Any) -> Path | None:
    """The database file of a `sqlite:///PATH` storage URL, else None."""
    if not isinstance(storage, str) or not storage.startswith("sqlite:///"):
        return None
    return Path(storage[len("sqlite:///") :])


def continuing_tpe_sampler(
    *, seed: int | None, study_name: str | None, storage: str | None, **options: Any
) -> Any:
    """Optuna's TPE sampler, its seed moved on by the trials the study already holds.

    A seeded sampler restarts its random stream when a stored study is continued, so it would
    propose the trials it already ran again (measured: trial 3 of a continued study repeated
    trial 0's parameters). Seeding with seed + number of stored trials keeps a study
    reproducible (the same history gives the same proposals) without repeats.
    `options` go to optuna.samplers.TPESampler (n_startup_trials, ...).
    """
    import optuna

    if seed is not None and storage and study_name:
        summaries = optuna.study.get_all_study_summaries(storage=storage)
        stored = next((s.n_trials for s in summaries if s.study_name == study_name), 0)
        if stored:
            log.info(
                "study %s has %d trials: sampler seed %d + %d", study_name, stored, seed, stored
            )
        seed += stored
    return optuna.samplers.TPESampler(seed=seed, **options)


class SweepCallback(Callback):
    """Hydra callback (hydra.callbacks in train.yaml) around a multirun.

    Before the sweep: create the folder of an Optuna SQLite storage (SQLite does not create
    folders, and the Optuna sweeper opens the study before any job dir exists). After it: list
    the jobs that failed, so one bad job is not lost in a long log.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        database = sqlite_path(config.hydra.sweeper.get("storage"))
        if database is not None and database.parent != Path():
            database.parent.mkdir(parents=True, exist_ok=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        failed = sorted(sweep_dir.glob(f"**/{FAILURE_FILE}"))
        for path in failed:
            record = read_failure(path.parent) or {}
            log.error("job %s failed: %s", path.parent, record.get("message", "?"))
        if failed:
            log.error(
                "%d job(s) of the sweep in %s failed (see their failure.json and train.log); "
                "`python -m gantrain report %s` tabulates every job.",
                len(failed),
                sweep_dir,
                sweep_dir,
            )
