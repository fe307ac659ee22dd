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
    trainer: dict | None = None,
) -> Path:
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    config = {
        "logging": {"stats_file": "stats.jsonl"},
        "trainer": trainer or {"max_steps": 30, "batch_size": 16, "n_critic": 1},
    }
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
        {
            "step": s,
            "g_loss": g,
            "d_loss": d,
            "d_real": 0.6,
            "d_fake": 0.4,
            "images_per_sec": v,
            "elapsed_sec": s * 0.5,
        }
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
    assert table.columns[-7:] == [
        "final_g_loss", "final_d_loss", "D(x)", "D(G(z))", "final_fid", "best_fid", "best_step",
    ]  # fmt: skip
    assert first["status"] == "done"
    assert (first["D(x)"], first["D(G(z))"]) == (0.6, 0.4)
    assert first["steps"] == 30 and first["wall_time_sec"] == 15.0
    assert first["images_per_sec"] == 500.0  # median of the intervals after the first
    assert first["final_g_loss"] == 0.85 and first["final_d_loss"] == 1.2
    assert first["final_fid"] == 75.0
    assert (first["best_fid"], first["best_step"]) == (70.0, 20)
    assert failed["status"] == "failed: dataset.path=/nope: no such file."
    assert failed["steps"] is None and failed["final_g_loss"] is None
    assert diverged["status"] == "interrupted at 20/30" and diverged["steps"] == 20
    assert math.isnan(diverged["final_g_loss"])
    assert diverged["best_fid"] is None
    maximize = build_table(runs, "fid", "maximize")
    assert maximize.rows[0]["best_fid"] == 90.0
    unranked = build_table(runs, None, "minimize")
    assert not [c for c in unranked.columns if c.startswith("best")]


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
        "| 0 | optimizer.generator.lr=1e-4 | done | 30 | 15 | 500 | 0.85 | 1.2 | 0.6 | 0.4 | 75 | "
        "70 | 20 |" in text
    )
    picture = np.asarray(Image.open(write_figure(runs, tmp_path / "r.png", title="t")))
    assert picture.shape[0] > 300 and picture.shape[1] > 600
    assert picture.std() > 10  # not a blank canvas
    # The latest sample grid of each run and the real images join the curves.
    samples = sweep_dir / "0" / "samples"
    samples.mkdir()
    for name, value in (("step_000010.png", 0), ("step_000030.png", 255), ("real.png", 128)):
        Image.fromarray(np.full((20, 20), value, np.uint8)).save(samples / name)
    runs = collect(sweep_dir)
    assert runs[0].final_grid == samples / "step_000030.png"
    assert runs[0].real_grid == samples / "real.png" and runs[1].final_grid is None
    with_grids = np.asarray(Image.open(write_figure(runs, tmp_path / "g.png", title="t")))
    assert with_grids.shape[0] > picture.shape[0] + 200


def test_losses_never_pick_a_best_run(sweep_dir: Path, tmp_path: Path) -> None:
    from gantrain.tasks.report import pick_metric

    runs = collect(sweep_dir)
    evaluated = {name for run in runs for name in run.eval_metrics}
    assert evaluated == {"fid"}
    assert pick_metric(None, None, evaluated, []) == ("fid", "minimize")
    assert pick_metric(None, None, {"is", "kid"}, []) == ("kid", "minimize")
    assert pick_metric(None, None, {"precision"}, []) == ("precision", "maximize")
    assert pick_metric(None, None, set(), [{"metric": "g_loss"}]) == (None, "minimize")
    with pytest.raises(ConfigError, match="metric=g_loss: a loss"):
        pick_metric("g_loss", None, evaluated, [])
    table = build_table(collect(sweep_dir / "10"), None, "minimize")
    text = write_markdown(table, tmp_path / "r.md", title="t", figure="r.png").read_text()
    assert "No evaluator metric in these runs, so no best run" in text
    table = build_table(collect(sweep_dir / "10"), "fid", "minimize")
    text = write_markdown(table, tmp_path / "r.md", title="t", figure="r.png").read_text()
    assert "No run has a fid evaluation, so no best run." in text


def test_status_follows_the_budget_and_the_run_lock(tmp_path: Path) -> None:
    from gantrain.run_lock import LOCK_FILE, RunDirLock

    records = stats([(10, 1.0, 1.0), (20, 1.0, 1.0)], [1.0, 1.0])
    # 0.64 kimg at batch 16 x n_critic 2 (32 real images a step) binds at step 20 < 99.
    budget = {"max_steps": 99, "batch_size": 16, "n_critic": 2, "max_kimg": 0.64}
    kimg = make_run(tmp_path / "kimg", [], records, trainer=budget)
    assert collect(kimg)[0].target_steps == 20 and collect(kimg)[0].status == "done"
    timed = make_run(
        tmp_path / "timed", [], records, trainer={"max_steps": 30, "max_time": "00:00:10"}
    )
    assert collect(timed)[0].status == "done (max_time)"  # elapsed_sec 10 at step 20
    run = make_run(tmp_path / "live", [], records)
    assert collect(run)[0].status == "interrupted at 20/30"
    with RunDirLock(run):
        assert collect(run)[0].status == "running at 20/30"
    assert collect(run)[0].status == "interrupted at 20/30"
    # A process killed with -9 leaves its details in the file, but no lock.
    (run / LOCK_FILE).write_text('{"pid": 1, "host": "h"}\n')
    assert collect(run)[0].status == "interrupted at 20/30"


def test_single_run_is_labelled_by_all_its_overrides(sweep_dir: Path) -> None:
    runs = collect(sweep_dir / "0")
    labels, common = label_runs(runs)
    assert common == [] and labels == [" ".join([*COMMON, "optimizer.generator.lr=1e-4"])]
    assert runs[0].objective == {"metric": "fid", "direction": "minimize"}


def test_a_recipe_budget_computed_by_a_resolver_is_read(tmp_path: Path) -> None:
    """stylegan2_ada's batch comes from ${gantrain.stylegan2_ada_auto:batch_size} at the saved
    dataset.resolution (32 at 64 px): 0.64 kimg binds at step 20."""
    records = stats([(10, 1.0, 1.0), (20, 1.0, 1.0)], [1.0, 1.0])
    trainer = {
        "max_steps": 99,
        "max_kimg": 0.64,
        "batch_size": "${gantrain.stylegan2_ada_auto:batch_size}",
    }
    run = make_run(tmp_path / "sg2", [], records, trainer=trainer)
    config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    config["dataset"] = {"resolution": 64}
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    assert collect(run)[0].target_steps == 20 and collect(run)[0].status == "done"
    # Without the resolution it cannot resolve: an unknown target, not a crash.
    del config["dataset"]
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    assert collect(run)[0].target_steps is None
