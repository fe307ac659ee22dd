"""`train -m`: jobs in one process match separate processes, failures do not stop a sweep,
the joblib and submitit launchers give the same runs, HParams compare the jobs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tensorboard import context as tb_context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

from gantrain.config import load_run_config
from gantrain.logging.stats import read_jsonl
from gantrain.logging.tags import tag
from gantrain.training.loop import train
from tests.conftest import TINY, compose_config, run_gantrain

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")
LR = "optimizer.generator.lr"


def losses(run_dir: Path) -> list[list[float]]:
    return [[r["step"], *(r[k] for k in LOSSES)] for r in read_jsonl(run_dir / "stats.jsonl")]


def assert_same_losses(a: Path, b: Path) -> None:
    assert losses(a), f"{a} logged nothing"
    np.testing.assert_allclose(losses(a), losses(b), rtol=1e-5, err_msg=f"{a} vs {b}")


def tiny_sweep(out: Path, tiny_mnist: Path, *args: str):
    """`train -m` of the tiny model over two generator learning rates (plus `args`) into `out`."""
    return run_gantrain(
        "train",
        "-m",
        *TINY,
        f"dataset.path={tiny_mnist}",
        f"{LR}=1e-4,2e-4",
        *args,
        f"hydra.sweep.dir={out}",
    )


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, tiny_mnist: Path) -> Path:
    """Four jobs in one process: lr 1e-4/2e-4 x (fresh start, resume from a mismatched run).

    Jobs 1 and 3 fail after their models and optimizers are built (the checkpoint does not
    fit them), so jobs 2 and 3 run in a process that a failed job has been through.
    """
    root = tmp_path_factory.mktemp("sweep")
    mismatched = root / "mismatched"
    cfg = compose_config(
        overrides=[*TINY, f"dataset.path={tiny_mnist}", "discriminator.widths=[4,8]"]
    )
    train(load_run_config(cfg), mismatched)
    result = tiny_sweep(root / "multirun", tiny_mnist, f"trainer.resume=auto,{mismatched}")
    assert result.returncode == 0, result.stderr
    assert "2 job(s) of the sweep" in result.stdout + result.stderr
    return root / "multirun"


def test_failed_jobs_are_recorded_and_the_sweep_goes_on(sweep: Path) -> None:
    for job in ("1", "3"):
        failure = json.loads((sweep / job / "failure.json").read_text())
        assert failure["error"] == "CheckpointError" and failure["user_error"]
        assert "does not match the configured models" in failure["message"]
        assert not (sweep / job / "stats.jsonl").exists()
    for job in ("0", "2"):
        assert not (sweep / job / "failure.json").exists()
        assert [r["step"] for r in read_jsonl(sweep / job / "stats.jsonl")] == [2, 4]


def test_hparams_dashboard_compares_the_jobs(sweep: Path) -> None:
    """What `tensorboard --logdir <multirun dir>` shows in its HParams tab."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(sweep))
    multiplexer.Reload()
    context = base_plugin.TBContext(
        logdir=str(sweep),
        multiplexer=multiplexer,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(sweep)),
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0,
        slice_size=10,
        allowed_statuses=[api_pb2.STATUS_UNKNOWN],
        col_params=[api_pb2.ColParams(hparam=LR)],
    )
    response = list_session_groups.Handler(
        tb_context.RequestContext(), backend_context.Context(context), "", request
    ).run()
    rows = {}
    for group in response.session_groups:
        [session] = group.sessions
        metrics = {m.name.tag: m.value for m in group.metric_values}
        rows[session.name] = (group.hparams[LR].number_value, metrics)
    assert set(rows) == {"0/tb", "2/tb"}  # the failed jobs wrote no TensorBoard run
    for job in ("0", "2"):
        lr, metrics = rows[f"{job}/tb"]
        final = read_jsonl(sweep / job / "stats.jsonl")[-1]
        assert lr == pytest.approx({"0": 1e-4, "2": 2e-4}[job])
        for name in LOSSES:
            assert metrics[tag(name)] == pytest.approx(final[name], rel=1e-6)
        # Only the scalars that judge a run, not images/s or learning rates.
        assert set(metrics) == {tag(name) for name in LOSSES}


def test_joblib_launcher_runs_jobs_in_parallel_processes(sweep: Path, tiny_mnist: Path) -> None:
    out = sweep.parent / "joblib"
    result = tiny_sweep(out, tiny_mnist, "hydra/launcher=parallel", "hydra.launcher.n_jobs=2")
    assert result.returncode == 0, result.stderr
    assert "Joblib.Parallel(n_jobs=2,backend=loky" in result.stdout
    assert_same_losses(out / "0", sweep / "0")
    assert_same_losses(out / "1", sweep / "2")


def test_jobs_in_one_process_match_separate_processes(sweep: Path, tiny_mnist: Path) -> None:
    """submitit's local launcher runs each job in a fresh process of its own."""
    out = sweep.parent / "submitit"
    result = tiny_sweep(out, tiny_mnist, "hydra/launcher=submitit_local")
    assert result.returncode == 0, result.stderr
    assert len(list((out / ".submitit").glob("*/*_result.pkl"))) == 2
    assert_same_losses(sweep / "0", out / "0")
    # Job 2 of the one-process sweep ran after a finished job and a failed one.
    assert_same_losses(sweep / "2", out / "1")
    assert losses(sweep / "0") != losses(sweep / "2")  # the learning rate mattered


def test_report_of_the_sweep_matches_the_stats_files(sweep: Path) -> None:
    result = run_gantrain("report", f"run_dir={sweep}")
    assert result.returncode == 0, result.stderr
    assert "report of 4 run(s) (2 failed)" in result.stderr
    with (sweep / "report.csv").open() as file:
        rows = {row["run"]: row for row in csv.DictReader(file)}
    assert sorted(rows) == ["0", "1", "2", "3"]
    for job, lr in (("0", "0.0001"), ("2", "0.0002")):
        records = read_jsonl(sweep / job / "stats.jsonl")
        row = rows[job]
        assert row["status"] == "done"
        assert row["overrides"] == f"{LR}={lr} trainer.resume=auto"
        assert int(row["steps"]) == records[-1]["step"] == 4
        assert float(row["wall_time_sec"]) == pytest.approx(records[-1]["elapsed_sec"])
        assert float(row["images_per_sec"]) == pytest.approx(records[-1]["images_per_sec"])
        for name in ("g_loss", "d_loss"):
            assert float(row[f"final_{name}"]) == pytest.approx(records[-1][name])
        assert float(row["D(x)"]) == pytest.approx(records[-1]["d_real"])
        assert float(row["D(G(z))"]) == pytest.approx(records[-1]["d_fake"])
        assert "best_g_loss" not in row  # losses never rank GAN runs
    for job in ("1", "3"):
        assert rows[job]["status"].startswith("failed: checkpoint")
        assert rows[job]["final_g_loss"] == ""
    markdown = (sweep / "report.md").read_text()
    assert "4 run(s), 2 failed." in markdown and "![curves](report.png)" in markdown
    assert "No evaluator metric in these runs, so no best run" in markdown
    assert Image.open(sweep / "report.png").size[0] > 600
