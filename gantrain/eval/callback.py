"""Evaluators during training: `trainer.eval_every=N` (0 = off).

Every N steps (and at the last step) the chief draws `eval.num_samples` images from the
sampling generator with the same latents each time, scores them with the `eval` evaluators,
logs the metrics to TensorBoard (`eval/<protocol>/<metric>`, e.g. `eval/default_domain/fid`) and
`metric-<name>.jsonl`, and keeps the best checkpoint by `eval.best_metric` in
`checkpoints/best/` (with `best.json` beside it).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from gantrain.atomic import atomic_write_text
from gantrain.checkpointing import CHECKPOINT_DIR, Checkpoints
from gantrain.config import RunConfig
from gantrain.data.base import DatasetSpec
from gantrain.errors import ConfigError
from gantrain.eval.runner import (
    Evaluation,
    append_metric_files,
    flat_record,
    generated_batches,
)
from gantrain.eval.settings import EvalSettings, check_evaluator_counts, load_eval_settings
from gantrain.hooks import Callback, Progress
from gantrain.logging import tags
from gantrain.logging.stats import drop_records_after
from gantrain.logging.tensorboard import TensorBoardWriter

log = logging.getLogger("gantrain")

BEST_DIR = f"{CHECKPOINT_DIR}/best"
BEST_FILE = "best.json"


def eval_settings_for(run: RunConfig) -> EvalSettings | None:
    """The validated `eval` settings when `trainer.eval_every` > 0, else None.

    Called before anything is built, so a mistake in `eval` fails at startup.
    """
    if not run.trainer.eval_every:
        return None
    settings = load_eval_settings(run.raw)
    # Settings that cannot work with eval.num_samples fail now, not at the first evaluation.
    for warning in check_evaluator_counts(settings):
        log.warning("%s", warning)
    return settings


class BestCheckpoint:
    """The full training state at the best value of one metric, in `checkpoints/best/`."""

    def __init__(
        self, state: Any, run_dir: Path, *, metric: str, mode: str, start_step: int
    ) -> None:
        self.metric, self.mode = metric, mode
        self.checkpoints = Checkpoints(
            state.checkpoint(), run_dir, step=state.step, max_to_keep=1, subdir=BEST_DIR
        )
        self.record_path = self.checkpoints.directory / BEST_FILE
        self.best: dict[str, Any] | None = None
        try:
            saved = json.loads(self.record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}  # none yet (or unreadable): the next evaluation sets one
        # A best found after the step this launch resumes from belongs to a trajectory the
        # resumed run replaces; so does one ranked by another metric or direction.
        same_ranking = (saved.get("metric"), saved.get("mode")) == (metric, mode)
        if same_ranking and saved.get("step", math.inf) <= start_step:
            self.best = saved

    def better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value < self.best["value"] if self.mode == "min" else value > self.best["value"]

    def offer(self, step: int, metrics: dict[str, float], config: Any) -> bool:
        """Save the state if `metrics[self.metric]` beats the best so far."""
        value = metrics[self.metric]
        if not self.better(value):
            return False
        path = self.checkpoints.save(config)
        self.best = {
            "metric": self.metric,
            "mode": self.mode,
            "value": value,
            "step": step,
            "checkpoint": path,
        }
        atomic_write_text(self.record_path, json.dumps(self.best, indent=2) + "\n")
        return True


class EvaluationCallback(Callback):
    """Scores the sampling generator every `every` steps; `latest` holds the last metrics."""

    def __init__(
        self,
        evaluation: Evaluation,
        sampler: Any,
        tensorboard: TensorBoardWriter,
        run_dir: Path,
        config: Any,
        *,
        every: int,
        best: BestCheckpoint | None,
    ) -> None:
        self.evaluation = evaluation
        self.sampler = sampler
        self.tensorboard = tensorboard
        self.run_dir = run_dir
        self.config = config
        self.every = every
        self.best = best
        self.latest: dict[str, float] = {}
        settings = evaluation.settings
        # Named by extractor and sample count: numbers of two protocols are not comparable.
        self.protocol_tag = evaluation.tag_name()
        self._protocol = {
            "num_generated": settings.num_samples,
            "num_real": settings.num_real,
            "real_split": settings.real_split,
            "extractor": evaluation.extractor_name(None),
        }

    def metric_tags(self) -> list[tuple[str, str]]:
        """(TensorBoard tag, description) of every metric the evaluators report."""
        return [
            (tags.eval_tag(name, self.protocol_tag), tags.eval_description(name, self._protocol))
            for name in self.evaluation.evaluators.metric_names()
        ]

    def on_step(self, progress: Progress) -> None:
        settings = self.evaluation.settings
        self.sampler.refresh()
        batches = generated_batches(
            self.sampler,
            num_samples=settings.num_samples,
            batch_size=settings.batch_size,
            seed=settings.seed,
        )
        results, protocol = self.evaluation.score(batches)
        append_metric_files(self.run_dir, progress.step, results, protocol)
        metrics = {k: v for k, v in flat_record(results, protocol).items() if k != "protocol"}
        self.tensorboard.scalars(
            {tags.eval_tag(k, self.protocol_tag): v for k, v in metrics.items()},
            progress.step,
            descriptions={
                tags.eval_tag(k, self.protocol_tag): tags.eval_description(k, self._protocol)
                for k in metrics
            },
        )
        self.latest = metrics
        summary = "  ".join(f"{k} {v:.4g}" for k, v in list(metrics.items())[:8])
        log.info("step %d eval: %s", progress.step, summary)
        if self.best is not None and self.best.offer(progress.step, metrics, self.config):
            log.info(
                "step %d: best %s so far (%.4g), saved to %s",
                progress.step,
                self.best.metric,
                metrics[self.best.metric],
                self.best.checkpoints.directory,
            )


def build_eval_callback(
    run: RunConfig,
    settings: EvalSettings,
    spec: DatasetSpec,
    state: Any,
    tensorboard: TensorBoardWriter,
    run_dir: Path,
    start_step: int,
    *,
    sampler: Any,
) -> EvaluationCallback:
    """The evaluation callback of a run (chief only; build it outside the strategy scope).

    `sampler` (a gantrain.training.sampling.Sampler, given by the loop, so eval does not
    import training) draws from the generator samples come from, the EMA copy when there is
    one; it needs `refresh()`, `generate(...)`, `latent_dim` and `num_classes`.
    """
    evaluation = Evaluation(
        settings, run.dataset, num_classes=spec.num_classes, conditional=bool(sampler.num_classes)
    )
    for name in evaluation.evaluators.evaluators:
        drop_records_after(run_dir / f"metric-{name}.jsonl", start_step)
    best = None
    if settings.best_metric:
        available = evaluation.evaluators.metric_names()
        if settings.best_metric not in available:
            raise ConfigError(
                f"eval.best_metric={settings.best_metric}: none of the chosen evaluators reports "
                f"it (they report {', '.join(available)}); pick one, or eval.best_metric=null."
            )
        direction = evaluation.evaluators.direction(settings.best_metric)
        mode = direction if settings.best_mode == "auto" else settings.best_mode
        best = BestCheckpoint(
            state, run_dir, metric=settings.best_metric, mode=mode, start_step=start_step
        )
    return EvaluationCallback(
        evaluation,
        sampler,
        tensorboard,
        run_dir,
        run.raw,
        every=run.trainer.eval_every,
        best=best,
    )
