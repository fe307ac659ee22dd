"""A report of runs: a table (report.md, report.csv) and curves (report.png).

Table columns, one row per run: `run` (its folder), `overrides` (the ones that differ between
the runs), `status` (done, interrupted at N/M, running, failed: see `runs`), `steps` (last
logged step), `wall_time_sec` (training time over all launches, `elapsed_sec` of the last
stats record), `images_per_sec` (median over the logged intervals, the first one left out: it
includes tracing), `final_g_loss`, `final_d_loss`, `D(x)` and `D(G(z))` (D's mean output on
real and generated images at the last logged step), `final_<m>` for every evaluator metric,
and `best_<metric>` / `best_step` for the report's evaluator metric (min or max per its
direction). Losses never rank runs: a GAN's loss says how the two players balance, not how
good the samples are; with no evaluator metric the report says there is no best run.

The figure has one panel per curve (losses, D(x), D(G(z)), evaluator metrics; one line per
run), then each run's latest sample grid beside a grid of real training images.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from gantrain.reporting.runs import LOSS_CURVES, STATS_CURVES, RunSummary, label_runs

#: Table columns of D's outputs, from the stats keys.
D_COLUMNS = {"d_real": "D(x)", "d_fake": "D(G(z))"}


@dataclass(frozen=True)
class Table:
    """Columns and rows (values: str, int, float or None) of a report."""

    columns: list[str]
    rows: list[dict[str, Any]]
    common_overrides: list[str]
    #: The evaluator metric that ranks the runs; None when the runs have none.
    metric: str | None
    direction: str


def metric_names(runs: list[RunSummary]) -> list[str]:
    """Curves to report: the losses and D's outputs first, then evaluator metrics by name."""
    names = {name for run in runs for name in run.curves}
    return [n for n in STATS_CURVES if n in names] + sorted(names - set(STATS_CURVES))


def _column(name: str) -> str:
    return D_COLUMNS.get(name, f"final_{name}")


def _best(curve: list[tuple[int, float]], direction: str) -> tuple[int, float] | None:
    finite = [(step, value) for step, value in curve if math.isfinite(value)]
    if not finite:
        return None
    pick = min if direction == "minimize" else max
    return pick(finite, key=lambda point: point[1])


def build_table(runs: list[RunSummary], metric: str | None, direction: str) -> Table:
    """The report's rows; the evaluator `metric` (None: no ranking) gets the best value over
    the run as well as the final one."""
    labels, common = label_runs(runs)
    names = metric_names(runs)
    columns = ["run", "overrides", "status", "steps", "wall_time_sec", "images_per_sec"]
    columns += [_column(name) for name in names]
    if metric is not None:
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
            row[_column(name)] = curve[-1][1]
        best = _best(run.curves.get(metric, []), direction) if metric else None
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
    scored = [row for row in table.rows if row.get(key) is not None]
    if table.metric is None:
        lines.append(
            "No evaluator metric in these runs, so no best run: losses do not rank GANs. "
            "Score runs with `trainer.eval_every=N` or `gantrain eval run_dir=...`."
        )
    elif not scored:
        lines.append(f"No run has a {table.metric} evaluation, so no best run.")
    else:
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


#: Panel titles of the stats curves.
CURVE_TITLES = {"d_real": "d_real = D(x)", "d_fake": "d_fake = D(G(z))"}
#: Sample grids per row of the figure's bottom part.
GRID_COLUMNS = 4


def _grid_panels(runs: list[RunSummary], labels: list[str]) -> list[tuple[str, Path]]:
    """(title, png) of the real grid (once) and every run's latest sample grid."""
    panels = []
    real = next((run.real_grid for run in runs if run.real_grid is not None), None)
    if real is not None:
        panels.append(("real training images", real))
    for run, label in zip(runs, labels, strict=True):
        if run.final_grid is not None:
            step = run.final_grid.stem.removeprefix("step_").lstrip("0") or "0"
            text = label if len(label) <= 40 else label[:37] + "..."
            panels.append((f"{text}\nstep {step}", run.final_grid))
    return panels


def _load_picture(path: Path) -> np.ndarray | None:
    try:
        with Image.open(path) as picture:
            return np.asarray(picture.convert("RGB"))
    except (OSError, ValueError):
        return None  # a grid being written right now, or damaged: the curves still show


def write_figure(runs: list[RunSummary], path: str | os.PathLike, *, title: str) -> Path:
    """One panel per curve (losses, D's outputs, evaluator metrics; one line per run), then
    the real images and each run's latest sample grid."""
    path = Path(path)
    labels, _ = label_runs(runs)
    names = metric_names(runs) or list(LOSS_CURVES)
    columns = min(len(names), 2)
    rows = math.ceil(len(names) / columns)
    legend_height = 0.22 * sum(1 for run in runs if run.curves) + 0.1  # inches
    loaded = [(text, _load_picture(png)) for text, png in _grid_panels(runs, labels)]
    pictures = [(text, picture) for text, picture in loaded if picture is not None]
    grid_rows = math.ceil(len(pictures) / GRID_COLUMNS)
    curves_height = 3.6 * rows + 0.6 + legend_height
    grids_height = 3.6 * grid_rows
    figure = Figure(figsize=(6.5 * 2, curves_height + grids_height), layout="constrained")
    if pictures:
        top, bottom = figure.subfigures(2, 1, height_ratios=[curves_height, grids_height])
    else:
        top, bottom = figure, None
    axes = top.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        for run, label in zip(runs, labels, strict=True):
            curve = run.curves.get(name)
            if curve:
                ax.plot([s for s, _ in curve], [v for _, v in curve], label=label, marker=".")
        ax.set_title(CURVE_TITLES.get(name, name))
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    handles, legend_labels = axes[0].get_legend_handles_labels()
    if handles:
        top.legend(handles, legend_labels, loc="outside lower center", fontsize="small", ncol=1)
    if bottom is not None:
        cells = bottom.subplots(grid_rows, GRID_COLUMNS, squeeze=False).ravel()
        for ax in cells:
            ax.set_axis_off()
        for ax, (text, picture) in zip(cells, pictures, strict=False):
            ax.imshow(picture, interpolation="nearest")
            ax.set_title(text, fontsize="small")
        bottom.suptitle("latest sample grid of each run", fontsize="medium")
    figure.suptitle(title)
    figure.savefig(path, dpi=100)
    return path
