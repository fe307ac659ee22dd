"""`python -m gantrain report run_dir=DIR [metric=fid] [output_dir=...]` (or `report DIR`):
report.png, .md and .csv of a run or of every run under a sweep dir."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gantrain.errors import ConfigError
from gantrain.sweeps import DIRECTIONS
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, user_errors

log = logging.getLogger("gantrain")

#: Evaluator metrics where lower is better; every other evaluator metric is maximized
#: (`direction=` overrides). The files hold no direction, and the report runs without
#: importing the evaluators (TensorFlow).
LOWER_IS_BETTER = ("fid", "kid", "kid_x1e3", "intra_fid", "class_kl")
#: Which evaluator metric ranks runs when none is named, in this order of preference.
PREFERRED = ("fid", "intra_fid", "kid_x1e3", "kid", "is", "cas", "precision", "recall")


def default_direction(metric: str) -> str:
    lower = metric in LOWER_IS_BETTER or metric.endswith(("_fid", "_kid"))
    return "minimize" if lower else "maximize"


def pick_metric(
    requested: str | None,
    requested_direction: str | None,
    evaluated: set[str],
    objectives: list[dict],
) -> tuple[str | None, str]:
    """(the evaluator metric that ranks the runs or None, its direction).

    `metric=` when given (it must be an evaluator metric: losses do not rank GANs), else the
    runs' `objective.metric` when an evaluator reported it, else the first of `PREFERRED`
    (then any) that the runs have.
    """
    from gantrain.reporting.runs import STATS_CURVES

    if requested and requested in STATS_CURVES:
        raise ConfigError(
            f"metric={requested}: a loss or D output does not rank GAN runs (it says how G and D "
            "balance, not how good the samples are); name an evaluator metric such as fid, or "
            "leave metric unset."
        )
    objective = next((o for o in objectives if o), {})
    metric = requested
    if metric is None and objective.get("metric") in evaluated:
        metric = str(objective["metric"])
    if metric is None:
        metric = next((m for m in PREFERRED if m in evaluated), None)
    if metric is None and evaluated:
        metric = sorted(m for m in evaluated if not m.endswith("_std"))[0]
    direction = requested_direction
    if direction is None and metric is not None:
        same = objective.get("metric") == metric and objective.get("direction")
        direction = str(objective["direction"]) if same else default_direction(metric)
    direction = direction or "minimize"
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction={direction}: must be one of {', '.join(DIRECTIONS)}.")
    return metric, direction


@hydra.main(config_path=CONFIG_PATH, config_name="report", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    from gantrain.reporting.render import build_table, write_csv, write_figure, write_markdown
    from gantrain.reporting.runs import collect

    given = cfg.get("run_dir") or cfg.get("dir")
    if not given:
        raise ConfigError(
            "run_dir: no value given; `python -m gantrain report run_dir=DIR` (a train run dir "
            "or a multirun dir)."
        )
    root = Path(given)
    runs = collect(root)
    evaluated = {name for run in runs for name in run.eval_metrics}
    metric, direction = pick_metric(
        cfg.metric, cfg.direction, evaluated, [run.objective for run in runs]
    )
    output = Path(cfg.output_dir) if cfg.output_dir else root
    output.mkdir(parents=True, exist_ok=True)
    title = f"gantrain report: {root.resolve().name}"
    table = build_table(runs, metric, direction)
    write_csv(table, output / "report.csv")
    write_figure(runs, output / "report.png", title=title)
    write_markdown(table, output / "report.md", title=title, figure="report.png")
    failed = sum(1 for run in runs if run.failure is not None)
    log.info(
        "report of %d run(s) (%d failed) written to %s/report.{md,csv,png}",
        len(runs),
        failed,
        output,
    )
