"""`python -m gantrain report DIR [metric=fid] [output_dir=...]`: report.png, .md and .csv."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gantrain.errors import ConfigError
from gantrain.sweeps import DIRECTIONS, ObjectiveConfig
from gantrain.tasks.common import CONFIG_PATH, HYDRA_VERSION_BASE, user_errors

log = logging.getLogger("gantrain")


def _metric_and_direction(cfg: DictConfig, objectives: list[dict]) -> tuple[str, str]:
    """The config's choice, else the objective the runs were trained with, else the default."""
    default = ObjectiveConfig()
    first = next((o for o in objectives if o), {})
    metric = cfg.metric or first.get("metric") or default.metric
    direction = cfg.direction or first.get("direction") or default.direction
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction={direction}: must be one of {', '.join(DIRECTIONS)}.")
    return str(metric), str(direction)


@hydra.main(config_path=CONFIG_PATH, config_name="report", version_base=HYDRA_VERSION_BASE)
@user_errors
def main(cfg: DictConfig) -> None:
    from gantrain.reporting.render import build_table, write_csv, write_figure, write_markdown
    from gantrain.reporting.runs import collect

    root = Path(cfg.dir)
    runs = collect(root)
    metric, direction = _metric_and_direction(cfg, [run.objective for run in runs])
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
