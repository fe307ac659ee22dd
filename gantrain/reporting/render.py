"""A report of runs: a table (report.md, report.csv) and curves (report.png).

Table columns, one row per run: `run` (its folder), `overrides` (the ones that differ between
the runs), `status`, `steps` (last logged step), `wall_time_sec` (training time over all
launches, `elapsed_sec` of the last stats record), `images_per_sec` (median over the logged
intervals, the first one left out: it includes tracing), `final_<m>` for the losses and every
evaluator metric, and `best_<metric>` / `best_step` for the report's metric (min or max per
its direction).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from gantrain.reporting.runs import LOSS_CURVES, RunSummary, label_runs


@dataclass(frozen=True)
class Table:
    """Columns and rows (values: str, int, float or None) of a report."""

    columns: list[str]
    rows: list[dict[str, Any]]
    common_overrides: list[str]
    metric: str
    direction: str


def metric_names(runs: list[RunSummary]) -> list[str]:
    """Curves to report: the losses first, then evaluator metrics in name order."""
    names = {name for run in runs for name in run.curves}
    return [n for n in LOSS_CURVES if n in names] + sorted(names - set(LOSS_CURVES))


def _best(curve: list[tuple[int, float]], direction: str) -> tuple[int, float] | None:
    finite = [(step, value) for step, value in curve if math.isfinite(value)]
    if not finite:
        return None
    pick = min if direction == "minimize" else max
    return pick(finite, key=lambda point: point[1])


def build_table(runs: list[RunSummary], metric: str, direction: str) -> Table:
    """The report's rows; `metric` gets the best value over the run as well as the final one."""
    labels, common = label_runs(runs)
    names = metric_names(runs)
    columns = ["run", "overrides", "status", "steps", "wall_time_sec", "images_per_sec"]
    columns += [f"final_{name}" for name in names]
    if metric not in names:
        columns.append(f"final_{metric}")
    columns += [f"best_{metric}", "best_step"]
    rows = []
    for run, label in zip(runs, labels, strict=True):
        row: dict[str, Any] = dict.fromkeys(columns)
        row.update(
            run=run.name,
            overrides=label if run.overrides else "",
            status=run.status,
            steps=run.steps,
            wall_time_sec=run.wall_time_sec,
            images_per_sec=run.images_per_sec,
        )
        for name, curve in run.curves.items():
            row[f"final_{name}"] = curve[-1][1]
        best = _best(run.curves.get(metric, []), direction)
        if best is not None:
            row["best_step"], row[f"best_{metric}"] = best
        rows.append(row)
    return Table(columns, rows, common, metric, direction)


def _cell(value: Any, width: int = 120) -> str:
    """A markdown table cell: 4 significant digits, long text cut (the CSV keeps it whole)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    text = str(value)
    if len(text) > width:
        text = text[: width - 3] + "..."
    return text.replace("|", "\\|")


def write_csv(table: Table, path: str | os.PathLike) -> Path:
    """Full-precision values; empty cells where a run has no value."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=table.columns)
        writer.writeheader()
        for row in table.rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path


def write_markdown(table: Table, path: str | os.PathLike, *, title: str, figure: str) -> Path:
    """A title, the shared overrides, the best run, the table and the figure."""
    path = Path(path)
    lines = [f"# {title}", ""]
    failed = sum(1 for row in table.rows if str(row["status"]).startswith("failed"))
    lines.append(f"{len(table.rows)} run(s), {failed} failed.")
    if table.common_overrides:
        lines.append(f"Overrides shared by every run: `{' '.join(table.common_overrides)}`.")
    key = f"best_{table.metric}"
    scored = [row for row in table.rows if row[key] is not None]
    if scored:
        pick = min if table.direction == "minimize" else max
        best = pick(scored, key=lambda row: row[key])
        lines.append(
            f"Best {table.metric} ({table.direction}): {_cell(best[key])} at step "
            f"{best['best_step']}, run `{best['run']}` {best['overrides']}".rstrip()
            + "."
        )
    lines += ["", "| " + " | ".join(table.columns) + " |"]
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(_cell(row[c]) for c in table.columns) + " |")
    lines += ["", f"![curves]({figure})", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_figure(runs: list[RunSummary], path: str | os.PathLike, *, title: str) -> Path:
    """One panel per curve (losses, then evaluator metrics), one line per run."""
    path = Path(path)
    labels, _ = label_runs(runs)
    names = metric_names(runs) or list(LOSS_CURVES)
    columns = min(len(names), 2)
    rows = math.ceil(len(names) / columns)
    legend_height = 0.22 * sum(1 for run in runs if run.curves) + 0.1  # inches
    figure = Figure(figsize=(6.5 * columns, 3.6 * rows + 0.6 + legend_height))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        for run, label in zip(runs, labels, strict=True):
            curve = run.curves.get(name)
            if curve:
                ax.plot([s for s, _ in curve], [v for _, v in curve], label=label, marker=".")
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    handles, legend_labels = axes[0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, legend_labels, loc="lower center", fontsize="small", ncol=1)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, legend_height / figure.get_figheight(), 1, 1))
    figure.savefig(path, dpi=100)
    return path
