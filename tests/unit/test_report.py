"""Reports from run dirs laid out as `train -m` writes them (stats, metric files, failures)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from gantrain.errors import ConfigError, DatasetError
from gantrain.reporting.render import build_table, write_csv, write_figure, write_markdown
from gantrain.reporting.runs import collect, find_runs, label_runs
from gantrain.sweeps import record_failure

COMMON = ["trainer.max_steps=30", "dataset.path=/data/mnist.npz"]


def make_run(
    path: Path,
    overrides: list[str],
    stats: list[dict],
    *,
    metrics: dict[str, list[dict]] | None = None,
    objective: dict | None = None,
) -> Path:
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    config = {"logging": {"stats_file": "stats.jsonl"}}
    if objective:
        config["objective"] = objective
    (path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    lines = "".join(json.dumps(record) + "\n" for record in stats)
    (path / "stats.jsonl").write_text(lines)
    for name, records in (metrics or {}).items():
        text = "".join(json.dumps(r) + "\n" for r in records)
        (path / f"metric-{name}.jsonl").write_text(text)
    return path


def stats(step_losses: list[tuple[int, float, float]], speeds: list[float]) -> list[dict]:
    return [
        {"step": s, "g_loss": g, "d_loss": d, "images_per_sec": v, "elapsed_sec": s * 0.5}
        for (s, g, d), v in zip(step_losses, speeds, strict=True)
    ]


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    root = tmp_path / "multirun"
    make_run(
        root / "0",
        [*COMMON, "optimizer.generator.lr=1e-4"],
        stats([(10, 0.9, 1.4), (20, 0.8, 1.3), (30, 0.85, 1.2)], [50.0, 400.0, 600.0]),
        metrics={
            "fid": [
                {"step": 10, "fid": 90.0, "protocol": {"num_samples": 100}},
                {"step": 20, "fid": 70.0, "protocol": {"num_samples": 100}},
                {"step": 30, "fid": 75.0, "protocol": {"num_samples": 100}},
            ]
        },
        objective={"metric": "fid", "direction": "minimize"},
    )
    make_run(
        root / "10",
        [*COMMON, "optimizer.generator.lr=1e-3"],
        stats([(10, 1.5, 0.9), (20, "nan", "nan")], [40.0, 300.0]),
    )
    (root / "2" / ".hydra").mkdir(parents=True)
    (root / "2" / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([*COMMON, "optimizer.generator.lr=5e-4"])
    )
    record_failure(root / "2", DatasetError("dataset.path=/nope: no such file."))
    (root / ".submitit" / "123").mkdir(parents=True)  # launcher logs are not runs
    (root / "multirun.yaml").write_text("{}")
    return root


def test_runs_are_found_in_job_order(sweep_dir: Path) -> None:
    assert [p.name for p in find_runs(sweep_dir)] == ["0", "2", "10"]
    assert find_runs(sweep_dir / "0") == [sweep_dir / "0"]
    with pytest.raises(ConfigError, match="no runs found"):
        find_runs(sweep_dir / ".submitit")
    with pytest.raises(ConfigError, match="no such folder"):
        find_runs(sweep_dir / "missing")


def test_labels_keep_what_differs(sweep_dir: Path) -> None:
    runs = collect(sweep_dir)
    labels, common = label_runs(runs)
    assert common == COMMON
    assert labels == [
        "optimizer.generator.lr=1e-4",
        "optimizer.generator.lr=5e-4",
        "optimizer.generator.lr=1e-3",
    ]


def test_table_values(sweep_dir: Path) -> None:
    runs = collect(sweep_dir)
    table = build_table(runs, "fid", "minimize")
    first, failed, diverged = table.rows
    assert table.columns[-4:] == ["final_d_loss", "final_fid", "best_fid", "best_step"]
    assert first["steps"] == 30 and first["wall_time_sec"] == 15.0
    assert first["images_per_sec"] == 500.0  # median of the intervals after the first
    assert first["final_g_loss"] == 0.85 and first["final_d_loss"] == 1.2
    assert first["final_fid"] == 75.0
    assert (first["best_fid"], first["best_step"]) == (70.0, 20)
    assert failed["status"] == "failed: dataset.path=/nope: no such file."
    assert failed["steps"] is None and failed["final_g_loss"] is None
    assert diverged["status"] == "ok" and diverged["steps"] == 20
    assert math.isnan(diverged["final_g_loss"])
    assert diverged["best_fid"] is None
    maximize = build_table(runs, "g_loss", "maximize")
    assert maximize.rows[0]["best_g_loss"] == 0.9
    assert maximize.rows[2]["best_g_loss"] == 1.5  # NaN is never the best


def test_csv_markdown_and_figure(sweep_dir: Path, tmp_path: Path) -> None:
    runs = collect(sweep_dir)
    table = build_table(runs, "fid", "minimize")
    with write_csv(table, tmp_path / "r.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [r["run"] for r in rows] == ["0", "2", "10"]
    assert float(rows[0]["best_fid"]) == 70.0 and rows[1]["steps"] == ""
    text = write_markdown(table, tmp_path / "r.md", title="t", figure="r.png").read_text()
    assert "3 run(s), 1 failed." in text
    assert "Best fid (minimize): 70 at step 20, run `0` optimizer.generator.lr=1e-4." in text
    assert (
        "| 0 | optimizer.generator.lr=1e-4 | ok | 30 | 15 | 500 | 0.85 | 1.2 | 75 | 70 | 20 |"
        in (text)
    )
    picture = np.asarray(Image.open(write_figure(runs, tmp_path / "r.png", title="t")))
    assert picture.shape[0] > 300 and picture.shape[1] > 600
    assert picture.std() > 10  # not a blank canvas


def test_single_run_is_labelled_by_all_its_overrides(sweep_dir: Path) -> None:
    runs = collect(sweep_dir / "0")
    labels, common = label_runs(runs)
    assert common == [] and labels == [" ".join([*COMMON, "optimizer.generator.lr=1e-4"])]
    assert runs[0].objective == {"metric": "fid", "direction": "minimize"}
